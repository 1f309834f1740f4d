package skyvern_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// artifactsJSON is the artifact list as get_run_artifacts writes it: orjson
// of model_dump(), so the timestamps carry no zone, microseconds only when
// non-zero, and every field is present.
const artifactsJSON = `[{"created_at":"2026-01-31T15:23:34.992815","modified_at":"2026-01-31T15:23:35","artifact_id":"a_491","artifact_type":"recording","uri":"s3://skyvern-artifacts/v1/production/o_1/tsk_1/a_491/recording.webm","bundle_key":null,"checksum":"9f86d081","file_size":2048,"task_id":"tsk_1","step_id":null,"workflow_run_id":null,"workflow_run_block_id":null,"run_id":"tsk_1","browser_session_id":null,"observer_cruise_id":null,"observer_thought_id":null,"ai_suggestion_id":null,"signed_url":"https://skyvern-artifacts.s3.amazonaws.com/o_1/tsk_1/a_491/recording.webm?X-Amz-Expires=3600&X-Amz-Signature=abc","archived":false,"organization_id":"o_1"},{"created_at":"2026-01-31T15:23:34","modified_at":"2026-01-31T15:23:34","artifact_id":"a_492","artifact_type":"screenshot_final","uri":"s3://skyvern-artifacts/v1/production/o_1/tsk_1/stp_2/a_492/final.png","bundle_key":"final.png","checksum":null,"file_size":null,"task_id":"tsk_1","step_id":"stp_2","workflow_run_id":null,"workflow_run_block_id":null,"run_id":"tsk_1","browser_session_id":"pbs_1","observer_cruise_id":null,"observer_thought_id":null,"ai_suggestion_id":null,"signed_url":null,"archived":true,"organization_id":"o_1"}]`

func TestGetRunArtifactsDecodesOrjsonForm(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_1/artifacts", func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.URL.RawQuery, "no filter, no query")
		writeJSON(w, http.StatusOK, artifactsJSON)
	})
	list, err := c.GetRunArtifacts(context.Background(), "tsk_1", nil)
	require.NoError(t, err)
	require.Len(t, list, 2)
	rec := list[0]
	assert.Equal(t, "a_491", rec.ArtifactID)
	assert.Equal(t, skyvern.ArtifactTypeRecording, rec.ArtifactType)
	assert.EqualValues(t, 2048, *rec.FileSize)
	assert.Equal(t, "2026-01-31T15:23:34.992815", rec.CreatedAt.String())
	assert.Equal(t, "2026-01-31T15:23:35", rec.ModifiedAt.String())
	assert.Equal(t, "tsk_1", rec.RunID)
	assert.Contains(t, rec.SignedURL, "X-Amz-Signature")
	shot := list[1]
	assert.Equal(t, "final.png", shot.BundleKey)
	assert.True(t, shot.Archived)
	assert.Nil(t, shot.FileSize)
	assert.Empty(t, shot.SignedURL)
}

// storage is a second test server standing in for the object store behind
// presigned URLs. Signatures up to expiredUpTo answer 403 as S3 does.
type storage struct {
	srv         *httptest.Server
	content     []byte
	mu          sync.Mutex
	expiredUpTo int
	keys        []string // x-api-key of each request, "" when absent
	hits        atomic.Int32
}

func newStorage(t *testing.T, content []byte) *storage {
	st := &storage{content: content}
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.hits.Add(1)
		st.mu.Lock()
		st.keys = append(st.keys, r.Header.Get("X-Api-Key"))
		var sig int
		_, _ = fmt.Sscanf(r.URL.Query().Get("X-Amz-Signature"), "%d", &sig)
		expired := sig <= st.expiredUpTo
		st.mu.Unlock()
		if expired {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(st.content)))
		_, _ = w.Write(st.content)
	}))
	t.Cleanup(st.srv.Close)
	return st
}

func (st *storage) url(sig int) string {
	return fmt.Sprintf("%s/o_1/tsk_1/a_491/recording.webm?X-Amz-Expires=3600&X-Amz-Signature=%d", st.srv.URL, sig)
}

func (st *storage) sentKeys() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]string(nil), st.keys...)
}

// artifactLister answers the artifact listing with a newly signed URL each
// time, counting the listings.
func artifactLister(st *storage, listings *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := listings.Add(1)
		writeJSON(w, http.StatusOK, fmt.Sprintf(`[{"created_at":"2026-01-31T15:23:34","modified_at":"2026-01-31T15:23:34","artifact_id":"a_491","artifact_type":"recording","uri":"s3://b/k","bundle_key":null,"checksum":null,"file_size":null,"task_id":"tsk_1","step_id":null,"workflow_run_id":null,"workflow_run_block_id":null,"run_id":"tsk_1","browser_session_id":null,"observer_cruise_id":null,"observer_thought_id":null,"ai_suggestion_id":null,"signed_url":%q,"archived":false,"organization_id":"o_1"}]`, st.url(100+int(n))))
	}
}

func TestDownloadArtifactNeverSendsTheKeyToStorage(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("webm"), 1000)
	st := newStorage(t, content)
	c, _, _ := setup(t)
	var buf bytes.Buffer
	n, err := c.DownloadArtifact(context.Background(), &skyvern.Artifact{ArtifactID: "a_491", RunID: "tsk_1", ArtifactType: skyvern.ArtifactTypeRecording, SignedURL: st.url(1)}, &buf)
	require.NoError(t, err)
	assert.EqualValues(t, len(content), n)
	assert.Equal(t, content, buf.Bytes())
	assert.Equal(t, []string{""}, st.sentKeys(), "no x-api-key reaches the storage host")
}

func TestDownloadArtifactRefreshesAnExpiredURLOnce(t *testing.T) {
	t.Parallel()
	st := newStorage(t, []byte("recording bytes"))
	st.expiredUpTo = 1 // the URL the caller holds has expired
	c, mux, _ := setup(t)
	var listings atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1/artifacts", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "artifact_type=recording", r.URL.RawQuery, "the refresh lists only the artifact's type")
		artifactLister(st, &listings)(w, r)
	})
	var buf bytes.Buffer
	a := &skyvern.Artifact{ArtifactID: "a_491", RunID: "tsk_1", ArtifactType: skyvern.ArtifactTypeRecording, SignedURL: st.url(1)}
	_, err := c.DownloadArtifact(context.Background(), a, &buf)
	require.NoError(t, err)
	assert.Equal(t, "recording bytes", buf.String())
	assert.EqualValues(t, 1, listings.Load(), "listed again once")
	assert.EqualValues(t, 2, st.hits.Load(), "the expired URL, then the fresh one")
	assert.Equal(t, []string{"", ""}, st.sentKeys())
}

func TestDownloadArtifactGivesUpAfterOneRefresh(t *testing.T) {
	t.Parallel()
	st := newStorage(t, []byte("x"))
	st.expiredUpTo = 1 << 30 // every URL is refused
	c, mux, _ := setup(t)
	var listings atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1/artifacts", artifactLister(st, &listings))
	a := &skyvern.Artifact{ArtifactID: "a_491", RunID: "tsk_1", ArtifactType: skyvern.ArtifactTypeRecording, SignedURL: st.url(1)}
	_, err := c.DownloadArtifact(context.Background(), a, io.Discard)
	var de *skyvern.DownloadError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusForbidden, de.StatusCode)
	assert.True(t, de.Refreshed)
	assert.ErrorIs(t, err, skyvern.ErrForbidden)
	assert.Contains(t, de.Detail, "Request has expired")
	assert.EqualValues(t, 1, listings.Load())
	assert.EqualValues(t, 2, st.hits.Load())
	assert.NotContains(t, err.Error(), "X-Amz-Signature", "the signed query is a credential")
}

func TestDownloadArtifactSizeBound(t *testing.T) {
	t.Parallel()
	st := newStorage(t, bytes.Repeat([]byte("z"), 4096))
	c, _, _ := setup(t)
	a := &skyvern.Artifact{SignedURL: st.url(1)}

	var buf bytes.Buffer
	_, err := c.DownloadArtifact(context.Background(), a, &buf, skyvern.WithMaxDownloadBytes(1000))
	require.ErrorIs(t, err, skyvern.ErrResponseTooLarge, "Content-Length over the bound is refused unread")
	assert.Zero(t, buf.Len())

	// Without a Content-Length the bound holds while streaming.
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 8 {
			_, _ = w.Write(bytes.Repeat([]byte("y"), 512))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(chunked.Close)
	buf.Reset()
	n, err := c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: chunked.URL + "/f?sig=1"}, &buf, skyvern.WithMaxDownloadBytes(1000))
	require.ErrorIs(t, err, skyvern.ErrResponseTooLarge)
	assert.LessOrEqual(t, n, int64(1000))
	assert.LessOrEqual(t, buf.Len(), 1000, "the writer never gets more than the bound")

	buf.Reset()
	n, err = c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: chunked.URL + "/f?sig=1"}, &buf, skyvern.WithMaxDownloadBytes(4096))
	require.NoError(t, err, "content of exactly the bound fits")
	assert.EqualValues(t, 4096, n)
}

func TestDownloadSendsTheKeyOnlyUnderTheBaseURL(t *testing.T) {
	t.Parallel()
	st := newStorage(t, []byte("from storage"))
	c, mux, base := setup(t)
	var apiKeys []string
	var mu sync.Mutex
	mux.HandleFunc("/v1/artifacts/a_1/content", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		apiKeys = append(apiKeys, r.Header.Get("X-Api-Key"))
		mu.Unlock()
		_, _ = io.WriteString(w, "from the API")
	})
	mux.HandleFunc("/v1/artifacts/a_2/content", func(w http.ResponseWriter, r *http.Request) {
		// The API hands the download on to the storage host.
		http.Redirect(w, r, st.url(1), http.StatusFound)
	})

	var buf bytes.Buffer
	_, err := c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: base + "/api-prefix/v1/artifacts/a_1/content"}, &buf)
	require.NoError(t, err)
	assert.Equal(t, "from the API", buf.String())
	assert.Equal(t, []string{testAPIKey}, apiKeys, "the API's own URL gets the key")

	buf.Reset()
	_, err = c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: base + "/api-prefix/v1/artifacts/a_2/content"}, &buf)
	require.NoError(t, err)
	assert.Equal(t, "from storage", buf.String())
	assert.Equal(t, []string{""}, st.sentKeys(), "a redirect off the API's origin drops the key")

	// Same host as the API, but outside its base path: no key either.
	sameHost, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL(st.srv.URL+"/api"))
	require.NoError(t, err)
	_, err = sameHost.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: st.url(1)}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"", ""}, st.sentKeys())
}

func TestDownloadRunFileRefreshesThroughGetRun(t *testing.T) {
	t.Parallel()
	st := newStorage(t, []byte("%PDF-1.7 invoice"))
	st.expiredUpTo = 1
	c, mux, _ := setup(t)
	var gets atomic.Int32
	mux.HandleFunc("/v1/runs/wr_7", func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"run_id":"wr_7","status":"completed","run_type":"workflow_run","created_at":"2026-01-31T15:20:42","modified_at":"2026-01-31T15:20:42","downloaded_files":[{"url":"https://other.example.com/x.pdf","checksum":null,"filename":"other.pdf","file_size":1,"modified_at":null,"artifact_id":"a_9"},{"url":%q,"checksum":null,"filename":"invoice.pdf","file_size":16,"modified_at":null,"artifact_id":"a_10"}],"recording_url":%q}`, st.url(2), st.url(3)))
	})
	var buf bytes.Buffer
	f := &skyvern.FileInfo{URL: st.url(1), Filename: skyvern.Ptr("invoice.pdf"), ArtifactID: skyvern.Ptr("a_10")}
	_, err := c.DownloadRunFile(context.Background(), "wr_7", f, &buf)
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.7 invoice", buf.String())
	assert.EqualValues(t, 1, gets.Load())

	// The recording follows the same path.
	buf.Reset()
	_, err = c.DownloadRecording(context.Background(), &skyvern.Run{RunID: "wr_7", RecordingURL: st.url(1)}, &buf)
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.7 invoice", buf.String())
	assert.EqualValues(t, 2, gets.Load())
	for _, k := range st.sentKeys() {
		assert.Empty(t, k)
	}
}

func TestDownloadRecordingWithoutURL(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_1/artifacts", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, `[]`) })
	_, err := c.DownloadRecording(context.Background(), &skyvern.Run{RunID: "tsk_1"}, io.Discard)
	assert.ErrorIs(t, err, skyvern.ErrNoDownloadURL)
	_, err = c.DownloadArtifact(context.Background(), &skyvern.Artifact{ArtifactID: "a_1"}, io.Discard)
	assert.ErrorIs(t, err, skyvern.ErrNoDownloadURL)
}

func TestDownloadStorageErrorsAreTyped(t *testing.T) {
	t.Parallel()
	missing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
	}))
	t.Cleanup(missing.Close)
	c, _, _ := setup(t)
	_, err := c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: missing.URL + "/k?X-Amz-Signature=secret"}, io.Discard)
	assert.ErrorIs(t, err, skyvern.ErrNotFound)
	var de *skyvern.DownloadError
	require.True(t, errors.As(err, &de))
	assert.False(t, de.Refreshed, "404 is not an expired URL")
	assert.NotContains(t, err.Error(), "secret")

	// A transport error names the host and path, not the signed query.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	_, err = c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: deadURL + "/k?X-Amz-Signature=secret"}, io.Discard, skyvern.WithMaxRetries(0))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret")
	assert.True(t, strings.Contains(err.Error(), "/k"), "%v", err)
}

// TestDownloadLogsNoSignedURL checks that a client with a logger does not
// write a presigned URL's signature to it.
func TestDownloadLogsNoSignedURL(t *testing.T) {
	t.Parallel()
	st := newStorage(t, []byte("x"))
	var logs skyvern.SafeBuffer
	c, _, _ := setup(t, skyvern.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	_, err := c.DownloadArtifact(context.Background(), &skyvern.Artifact{SignedURL: st.url(7)}, io.Discard)
	require.NoError(t, err)
	assert.NotContains(t, logs.String(), "X-Amz-Signature")
}
