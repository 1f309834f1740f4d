package skyvern_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

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
