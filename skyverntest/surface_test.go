package skyverntest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// TestSurfaceErrorShapes checks the error answers of the runs surface
// against the server's: status, body shape and message.
func TestSurfaceErrorShapes(t *testing.T) {
	s := newTestServer(t, fastDelivery())
	task := startTask(t, s, map[string]any{"prompt": "p"})
	wpid := createWorkflow(t, s, nil)
	wr := doRequest(t, s, http.MethodPost, "/v1/run/workflows", map[string]any{"workflow_id": wpid}).object(t)["run_id"].(string)

	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("tsk_%d", i)
	}
	cases := []struct {
		name    string
		method  string
		path    string
		body    any
		headers []string
		status  int
		want    string
	}{
		{"timeline unknown run", "GET", "/v1/runs/wr_404/timeline", nil, nil, 404, `{"detail":"Run not found wr_404"}`},
		{"timeline of a task v1 run", "GET", "/v1/runs/" + task + "/timeline", nil, nil, 400, `{"detail":"Timeline not available for run type task_v1"}`},
		{"artifacts bad type", "GET", "/v1/runs/" + task + "/artifacts?artifact_type=video", nil, nil, 422, ""},
		{"bulk cancel without ids", "POST", "/v1/runs/cancel", map[string]any{}, nil, 422, `{"detail":[{"type":"missing","loc":["body","run_ids"],"msg":"Field required","input":{}}]}`},
		{"bulk cancel over 100", "POST", "/v1/runs/cancel", map[string]any{"run_ids": tooMany}, nil, 422, ""},
		{"retry unknown run", "POST", "/v1/workflows/runs/wr_404/retry", nil, nil, 404, `{"detail":"Workflow run not found wr_404"}`},
		{"retry a running run", "POST", "/v1/agents/runs/" + wr + "/retry", nil, nil, 400, `{"detail":"Only terminal workflow runs can be retried"}`},
		{"retry bad max steps", "POST", "/v1/workflows/runs/" + wr + "/retry", nil, []string{"x-max-steps-override", "many"}, 422, ""},
		{"login without type", "POST", "/v1/run/tasks/login", map[string]any{}, nil, 422, `{"detail":[{"type":"missing","loc":["body","credential_type"],"msg":"Field required","input":{}}]}`},
		{"login skyvern without id", "POST", "/v1/run/tasks/login", map[string]any{"credential_type": "skyvern"}, nil, 400, `{"detail":"credential_id is required to login with Skyvern credential"}`},
		{"download without goal", "POST", "/v1/run/tasks/download_files", map[string]any{"url": "https://example.com"}, nil, 422, `{"detail":[{"type":"missing","loc":["body","navigation_goal"],"msg":"Field required","input":{"url":"https://example.com"}}]}`},
		{"upload without file", "POST", "/v1/upload_file", "", nil, 422, `{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]}`},
		{"totp without content", "POST", "/v1/credentials/totp", map[string]any{"totp_identifier": "a@example.com"}, nil, 422, `{"detail":[{"loc":["body","content"],"msg":"Field required","type":"missing"}]}`},
		{"totp no code", "POST", "/v1/credentials/totp", map[string]any{"totp_identifier": "a@example.com", "content": "hello"}, nil, 400, `{"detail":"Failed to parse otp login"}`},
		{"version without key", "GET", "/v1/version", nil, []string{"x-api-key", ""}, 200, `{"version":"skyverntest"}`},
		{"artifacts without key", "GET", "/v1/runs/" + task + "/artifacts", nil, []string{"x-api-key", ""}, 403, `{"detail":"Invalid credentials"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := doRequest(t, s, tc.method, tc.path, tc.body, tc.headers...)
			assert.Equal(t, tc.status, resp.status, "%s", resp.body)
			if tc.want != "" {
				assert.Equal(t, tc.want, string(resp.body))
			}
		})
	}
}

// TestSurfaceWireOrder checks the key order of the new response shapes.
func TestSurfaceWireOrder(t *testing.T) {
	s := newTestServer(t, fastDelivery())
	task := startTask(t, s, map[string]any{"prompt": "p"})
	_, err := s.AddArtifact(task, skyvern.ArtifactTypeRecording, "recording.webm", []byte("x"))
	require.NoError(t, err)
	resp := doRequest(t, s, http.MethodGet, "/v1/runs/"+task+"/artifacts", nil)
	require.Equal(t, http.StatusOK, resp.status)
	list := decodeList(t, resp.body)
	require.Len(t, list, 1)
	assert.Equal(t, []string{"created_at", "modified_at", "artifact_id", "artifact_type", "uri", "bundle_key", "checksum",
		"file_size", "task_id", "step_id", "workflow_run_id", "workflow_run_block_id", "run_id", "browser_session_id",
		"observer_cruise_id", "observer_thought_id", "ai_suggestion_id", "signed_url", "archived", "organization_id"},
		topKeys(t, resp.body[1:len(resp.body)-1]))

	resp = doRequest(t, s, http.MethodPost, "/v1/runs/cancel", map[string]any{"run_ids": []string{task, task}})
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, `{"cancelled":["`+task+`"],"failed":[]}`, string(resp.body))
}

// TestBlockRunRecords checks how a login or download run is recorded, as
// the server records it: a generated auto_generated workflow holding the
// URL, goal and credential, a create answer that echoes only the passed-on
// settings under the workflow version's id, and a get_run echo without run
// parameters.
func TestBlockRunRecords(t *testing.T) {
	s := newTestServer(t, fastDelivery())
	for _, tc := range []struct {
		path, title string
		body        map[string]any
		block       map[string]any
	}{
		{"/v1/run/tasks/login", "Login",
			map[string]any{"url": "https://portal.example.com/login", "credential_type": "skyvern", "credential_id": "cred_1", "start_fresh_browser": true},
			map[string]any{"block_type": "login", "label": "login", "url": "https://portal.example.com/login"}},
		{"/v1/run/tasks/download_files", "File Download",
			map[string]any{"url": "https://portal.example.com", "navigation_goal": "Get the invoice", "download_suffix": "inv.pdf", "proxy_location": "RESIDENTIAL_GB"},
			map[string]any{"block_type": "file_download", "label": "file_download", "url": "https://portal.example.com/", "navigation_goal": "Get the invoice", "download_suffix": "inv.pdf"}},
	} {
		created := doRequest(t, s, http.MethodPost, tc.path, tc.body)
		require.Equal(t, http.StatusOK, created.status, string(created.body))
		echo := created.object(t)["run_request"].(map[string]any)
		assert.Regexp(t, `^w_`, echo["workflow_id"], tc.path)
		assert.Equal(t, tc.title, echo["title"])
		assert.Equal(t, tc.body["proxy_location"], echo["proxy_location"], "the proxy as sent")
		assert.Nil(t, echo["parameters"])

		runID := created.object(t)["run_id"].(string)
		got := doRequest(t, s, http.MethodGet, "/v1/runs/"+runID, nil).object(t)["run_request"].(map[string]any)
		assert.Equal(t, map[string]any{}, got["parameters"], "the URL is no run parameter")
		assert.Equal(t, false, got["start_fresh_browser"], "not passed on to the run")
		wpid := got["workflow_id"].(string)

		wf := doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid, nil).object(t)
		assert.Equal(t, "auto_generated", wf["status"])
		assert.Equal(t, tc.title, wf["title"])
		def := wf["workflow_definition"].(map[string]any)
		blocks := def["blocks"].([]any)
		require.Len(t, blocks, 1)
		for k, v := range tc.block {
			assert.Equal(t, v, blocks[0].(map[string]any)[k], "%s block %s", tc.path, k)
		}
		if id, ok := tc.body["credential_id"]; ok {
			params := def["parameters"].([]any)
			require.Len(t, params, 1)
			assert.Equal(t, id, params[0].(map[string]any)["default_value"])
		}
	}
	// Generated workflows stay out of the default workflow list.
	for _, wf := range decodeList(t, doRequest(t, s, http.MethodGet, "/v1/workflows", nil).body) {
		assert.NotEqual(t, "auto_generated", wf["status"])
	}
}
