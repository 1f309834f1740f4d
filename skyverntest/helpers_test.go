package skyverntest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestServer starts a server that is closed when the test ends.
func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// fastDelivery makes webhook retries immediate while keeping planned delays
// observable.
func fastDelivery() Option { return WithDeliveryTimeScale(0) }

type response struct {
	status int
	header http.Header
	body   []byte
}

// doRequest sends a request with the server's API key unless the headers set
// x-api-key themselves ("" removes it). body is sent verbatim when it is a
// string, JSON-encoded otherwise, and omitted when nil.
func doRequest(t *testing.T, s *Server, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL()+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-api-key", s.APIKey())
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// topKeys returns the keys of a JSON object in the order they appear.
func topKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok, "not an object: %s", raw)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

// subObject returns the raw JSON of one key of an object.
func subObject(t *testing.T, raw []byte, key string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	v, ok := m[key]
	require.True(t, ok, "no key %q in %s", key, raw)
	return v
}

var naiveTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$`)

// receiver is a webhook endpoint that records what it got and answers with
// the statuses it is given (the last one repeats).
type receiver struct {
	url string

	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	bodies   [][]byte
	answer   func(w http.ResponseWriter, n int) bool
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	srv := newLoopbackServer(t, http.HandlerFunc(rc.serve))
	rc.url = srv + "/hook"
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.bodies)
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.bodies = append(rc.bodies, body)
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status = rc.statuses[min(n, len(rc.statuses)-1)]
	}
	answer := rc.answer
	rc.mu.Unlock()
	if answer != nil && answer(w, n) {
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("status " + http.StatusText(status)))
}

func (rc *receiver) received() ([]http.Header, [][]byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.headers...), append([][]byte(nil), rc.bodies...)
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createWorkflow creates a workflow with the given extra json_definition
// fields and returns its permanent id.
func createWorkflow(t *testing.T, s *Server, extra map[string]any) string {
	t.Helper()
	def := map[string]any{
		"title": "Invoice Downloader",
		"workflow_definition": map[string]any{
			"parameters": []any{},
			"blocks": []any{map[string]any{
				"block_type": "task", "label": "download_invoice",
				"url": "https://vendor-portal.example.com", "prompt": "Download the latest invoice",
			}},
		},
	}
	for k, v := range extra {
		def[k] = v
	}
	resp := doRequest(t, s, http.MethodPost, "/v1/workflows", map[string]any{"json_definition": def})
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	return resp.object(t)["workflow_permanent_id"].(string)
}

// startTask runs a task and returns its id.
func startTask(t *testing.T, s *Server, body map[string]any) string {
	t.Helper()
	resp := doRequest(t, s, http.MethodPost, "/v1/run/tasks", body)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	return resp.object(t)["run_id"].(string)
}

func newLoopbackServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func decodeList(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	return out
}

func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
