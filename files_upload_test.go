package skyvern_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

const uploadAnswer = `{"s3_uri":"s3://skyvern-uploads/o_1/2026-01-31/file_1_invoice.pdf","presigned_url":"https://skyvern-uploads.s3.amazonaws.com/o_1/2026-01-31/file_1_invoice.pdf?X-Amz-Signature=1","file_id":"file_1","expires_at":"2026-02-07T15:20:42.160725Z"}`

// readUpload streams the multipart request the way the server parses it
// and returns its fields and the file's name and size.
func readUpload(t *testing.T, r *http.Request) (fields map[string]string, filename string, size int64) {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mediaType)
	mr := multipart.NewReader(r.Body, params["boundary"])
	fields = map[string]string{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, filename, size
		}
		require.NoError(t, err)
		if part.FormName() == "file" {
			filename = part.FileName()
			size, err = io.Copy(io.Discard, part)
			require.NoError(t, err)
			continue
		}
		b, err := io.ReadAll(part)
		require.NoError(t, err)
		fields[part.FormName()] = string(b)
	}
}

func TestUploadFileWire(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/upload_file", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testHeader(t, r, "X-Api-Key", testAPIKey)
		assert.Empty(t, r.Header.Get("Content-Length"), "streamed, so no length up front")
		fields, name, size := readUpload(t, r)
		assert.Equal(t, map[string]string{"retention_days": "7"}, fields)
		assert.Equal(t, `invoice "jan".pdf`, name, "quotes survive the header")
		assert.EqualValues(t, len("%PDF-1.7 ..."), size)
		writeJSON(w, http.StatusOK, uploadAnswer)
	})
	up, err := c.UploadFile(context.Background(), `invoice "jan".pdf`, strings.NewReader("%PDF-1.7 ..."), &skyvern.UploadFileParams{RetentionDays: skyvern.Ptr(7)})
	require.NoError(t, err)
	assert.Equal(t, "file_1", up.FileID)
	assert.Contains(t, up.PresignedURL, "file_1_invoice.pdf")
	require.NotNil(t, up.ExpiresAt)
	assert.Equal(t, 7, up.ExpiresAt.Day())
}

// TestUploadFileStreamsWithBoundedHeap uploads 64 MiB and checks that the
// heap grows by far less than the file: the body is streamed, not buffered.
// Not parallel, so other tests' allocations do not blur the numbers.
func TestUploadFileStreamsWithBoundedHeap(t *testing.T) {
	const size = 64 << 20
	c, mux, _ := setup(t)
	var got atomic.Int64
	mux.HandleFunc("/v1/upload_file", func(w http.ResponseWriter, r *http.Request) {
		_, _, n := readUpload(t, r)
		got.Store(n)
		writeJSON(w, http.StatusOK, uploadAnswer)
	})
	var err error
	use := measureHeap(func() {
		_, err = c.UploadFile(context.Background(), "big.bin", newPatternReader("", "skyvern", size), &skyvern.UploadFileParams{MaxBytes: size})
	})
	require.NoError(t, err)
	assert.EqualValues(t, size, got.Load(), "the server read the whole file")
	t.Logf("64 MiB upload: %s", use)
	assert.Less(t, use.peak, uint64(8*mib), "heap growth while uploading: %s", use)
	assert.Less(t, use.total, uint64(16*mib), "bytes allocated for a 64 MiB upload: %s", use)
}

func TestUploadFileSizeBound(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	mux.HandleFunc("/v1/upload_file", func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusOK, uploadAnswer)
	})
	_, err := c.UploadFile(context.Background(), "big.bin", newPatternReader("", "x", skyvern.DefaultMaxUploadBytes+1), nil)
	require.ErrorIs(t, err, skyvern.ErrUploadTooLarge)
	assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown), "a body cut short stored nothing: %v", err)

	_, err = c.UploadFile(context.Background(), "fits.bin", newPatternReader("", "x", skyvern.DefaultMaxUploadBytes), nil)
	require.NoError(t, err, "exactly the limit fits")
}

type failingReader struct{ after int }

func (f *failingReader) Read(b []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(b), f.after)
	f.after -= n
	return n, nil
}

func TestUploadFileReaderError(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/upload_file", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusOK, uploadAnswer)
	})
	_, err := c.UploadFile(context.Background(), "a.bin", &failingReader{after: 1000}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire")
	assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown), "%v", err)
}

// TestUploadFileResentOnlyWhenUntouched checks the retry rule: a refused
// connection, before any byte of the file was read, is retried, and the
// server sees the whole file once.
func TestUploadFileResentOnlyWhenUntouched(t *testing.T) {
	t.Parallel()
	d := &refusingDialer{}
	d.refuse.Store(1)
	c, mux, _ := setup(t, skyvern.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: d.DialContext}}))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/upload_file", func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		_, _, n := readUpload(t, r)
		assert.EqualValues(t, 5, n)
		writeJSON(w, http.StatusOK, uploadAnswer)
	})
	_, err := c.UploadFile(context.Background(), "a.txt", strings.NewReader("hello"), nil)
	require.NoError(t, err)
	assert.EqualValues(t, 1, attempts.Load())
}

// TestUploadFileNotResentAfterItsBodyWasRead checks that a 429 that came
// after the server read the file ends the call with that 429: the stream
// cannot be sent again, so no retry is attempted.
func TestUploadFileNotResentAfterItsBodyWasRead(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	mux.HandleFunc("/v1/upload_file", func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusTooManyRequests, `{"detail":"slow down"}`)
	})
	_, err := c.UploadFile(context.Background(), "a.txt", strings.NewReader("hello"), nil)
	require.ErrorIs(t, err, skyvern.ErrRateLimited)
	var apiErr *skyvern.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	assert.EqualValues(t, 1, attempts.Load())
}
