package skyvern_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skyvern-go/skyvern"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Helpers shared by the package's external tests: a test server with the
// API mux under a path prefix, request assertions, and canned answers.

// setup starts a test server and a client pointed at it with fast retries.
func setup(t *testing.T, opts ...skyvern.Option) (*skyvern.Client, *http.ServeMux, string) {
	t.Helper()
	mux := http.NewServeMux()
	apiHandler := http.NewServeMux()
	apiHandler.Handle(baseURLPath+"/", http.StripPrefix(baseURLPath, mux))
	apiHandler.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base URL path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "wrong path", http.StatusBadRequest)
	})
	srv := httptest.NewServer(apiHandler)
	t.Cleanup(srv.Close)
	all := append([]skyvern.Option{
		skyvern.WithBaseURL(srv.URL + baseURLPath),
		skyvern.WithRetryWait(time.Millisecond, 5*time.Millisecond),
	}, opts...)
	c, err := skyvern.NewClient(testAPIKey, all...)
	require.NoError(t, err)
	return c, mux, srv.URL
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method, "method")
}

func testHeader(t *testing.T, r *http.Request, header, want string) {
	t.Helper()
	assert.Equal(t, want, r.Header.Get(header), "header %s", header)
}

// testJSONBody decodes the request body and diffs it with want (a JSON
// document), so key order and spacing do not matter but every field does.
func testJSONBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	var got, exp any
	require.NoError(t, json.Unmarshal(body, &got), "request body %q", body)
	require.NoError(t, json.Unmarshal([]byte(want), &exp))
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("request body mismatch (-want +got):\n%s", diff)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// dropConnection closes the connection without answering, after the server
// has read the request: the client cannot know whether it was processed.
func dropConnection(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// hang answers only after the client has given up on the attempt. It reads
// the body first: only then does the server notice the client going away.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

var clientRequestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// dropClientRequestID removes the client request id RunWorkflow adds to
// run_metadata from a decoded body (and run_metadata itself if nothing else
// is left), so bodies can be compared with what the caller wrote.
func dropClientRequestID(v any) (any, string) {
	obj, ok := v.(map[string]any)
	if !ok {
		return v, ""
	}
	md, ok := obj["run_metadata"].(map[string]any)
	if !ok {
		return v, ""
	}
	id, _ := md[skyvern.ClientRequestIDKey].(string)
	delete(md, skyvern.ClientRequestIDKey)
	if len(md) == 0 {
		delete(obj, "run_metadata")
	}
	return obj, id
}

// stripClientRequestID checks that a RunWorkflow request carries a client
// request id and replaces the body with one without it.
func stripClientRequestID(t *testing.T, r *http.Request) {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	v, id := dropClientRequestID(v)
	require.Regexp(t, clientRequestIDPattern, id, "client request id in run_metadata")
	out, err := json.Marshal(v)
	require.NoError(t, err)
	r.Body = io.NopCloser(bytes.NewReader(out))
}
