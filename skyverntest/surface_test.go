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
