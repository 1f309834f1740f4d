package skyverntest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithAPIKey("sk_custom"))
	require.Equal(t, "sk_custom", s.APIKey())
	paths := []struct{ method, path string }{
		{http.MethodPost, "/v1/run/tasks"},
		{http.MethodPost, "/v1/run/workflows"},
		{http.MethodPost, "/v1/run/agents"},
		{http.MethodGet, "/v1/runs/tsk_1"},
		{http.MethodPost, "/v1/runs/tsk_1/cancel"},
		{http.MethodPost, "/v1/runs/tsk_1/retry_webhook"},
		{http.MethodPost, "/v1/workflows"},
		{http.MethodGet, "/v1/agents"},
		{http.MethodGet, "/v1/workflows/wpid_1"},
		{http.MethodPost, "/v1/agents/wpid_1"},
		{http.MethodPost, "/v1/workflows/wpid_1/delete"},
	}
	for _, key := range []string{"", "sk_wrong", DefaultAPIKey} {
		for _, p := range paths {
			resp := doRequest(t, s, p.method, p.path, `{"prompt":"x"}`, "x-api-key", key)
			assert.Equal(t, http.StatusForbidden, resp.status, "%s %s key %q", p.method, p.path, key)
			assert.Equal(t, `{"detail":"Invalid credentials"}`, string(resp.body))
			assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
		}
	}
	for _, req := range s.Requests() {
		if v := req.Header.Get("x-api-key"); v != "" {
			assert.Equal(t, Redacted, v, "the key never reaches the log")
		}
	}
}

func TestDefaultsAndAccessors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithAPIKey(""), WithOrganizationID("o_42"), nil)
	assert.Equal(t, DefaultAPIKey, s.APIKey(), "an empty key is ignored")
	assert.Equal(t, "o_42", s.OrganizationID())
	assert.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
	assert.Regexp(t, `^o_\d+$`, newTestServer(t).OrganizationID())
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/v1/nope", http.StatusNotFound, `{"detail":"Not Found"}`},
		{http.MethodGet, "/v1/run/tasks", http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
		{http.MethodDelete, "/v1/workflows/wpid_1", http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
		{http.MethodGet, "/v1/runs/tsk_1/nope", http.StatusNotFound, `{"detail":"Not Found"}`},
	}
	for _, tt := range tests {
		resp := doRequest(t, s, tt.method, tt.path, nil)
		assert.Equal(t, tt.status, resp.status, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.body, string(resp.body))
	}
}

func TestTrailingSlashAndAliases(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	resp := doRequest(t, s, http.MethodPost, "/v1/run/tasks/", map[string]any{"prompt": "p"})
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	id := resp.object(t)["run_id"].(string)
	assert.Equal(t, http.StatusOK, doRequest(t, s, http.MethodGet, "/v1/runs/"+id+"/", nil).status)
	assert.Equal(t, http.StatusOK, doRequest(t, s, http.MethodGet, "/v1/agents/", nil).status)
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	wpid := createWorkflow(t, s, nil)
	tests := []struct {
		name    string
		path    string
		body    any
		headers []string
		status  int
		want    string
	}{
		{"missing prompt", "/v1/run/tasks", `{}`, nil, 422,
			`{"detail":[{"type":"missing","loc":["body","prompt"],"msg":"Field required","input":{}}]}`},
		{"no body", "/v1/run/tasks", nil, nil, 422,
			`{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{"not an object", "/v1/run/tasks", `[1]`, nil, 422,
			`{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1]}]}`},
		{"bad JSON even without a key", "/v1/run/tasks", `{"prompt":`, []string{"x-api-key", ""}, 422,
			`{"detail":[{"type":"json_invalid","loc":["body",10],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}`},
		{"prompt type", "/v1/run/tasks", `{"prompt":5,"max_steps":"x"}`, nil, 422,
			`{"detail":[{"type":"string_type","loc":["body","prompt"],"msg":"Input should be a valid string","input":5},` +
				`{"type":"int_parsing","loc":["body","max_steps"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}]}`},
		{"engine", "/v1/run/tasks", `{"prompt":"p","engine":"skyvern-9"}`, nil, 422,
			`{"detail":[{"type":"enum","loc":["body","engine"],"msg":"Input should be 'skyvern-1.0', 'skyvern-2.0', 'skyvern-3.0', 'openai-cua', 'anthropic-cua', 'ui-tars' or 'yutori-navigator'","input":"skyvern-9","ctx":{"expected":"'skyvern-1.0', 'skyvern-2.0', 'skyvern-3.0', 'openai-cua', 'anthropic-cua', 'ui-tars' or 'yutori-navigator'"}}]}`},
		{"bad URL wins over missing prompt", "/v1/run/tasks", `{"url":"ftp://x.example"}`, nil, 400,
			`{"detail":"Invalid URL: ftp://x.example. Skyvern supports HTTP and HTTPS urls with max 2083 character length."}`},
		{"bad webhook URL", "/v1/run/tasks", `{"prompt":"p","webhook_url":"http://"}`, nil, 400,
			`{"detail":"Invalid URL: http://. Skyvern supports HTTP and HTTPS urls with max 2083 character length."}`},
		{"ELB webhook", "/v1/run/tasks", `{"prompt":"p","webhook_url":"https://my-lb-1.us-east-1.elb.amazonaws.com/x"}`, nil, 400,
			`{"detail":"Webhook URL must use a stable custom hostname instead of an AWS load balancer DNS name."}`},
		{"v1 with profile", "/v1/run/tasks", `{"prompt":"p","browser_profile_id":"bp_1"}`, nil, 400,
			`{"detail":"browser_profile_id is not supported for the skyvern_v1 or CUA task engines; use engine=skyvern_v2."}`},
		{"missing agent_id", "/v1/run/agents", `{}`, nil, 422,
			`{"detail":[{"type":"missing","loc":["body","agent_id"],"msg":"Field required","input":{}}]}`},
		{"max steps header", "/v1/run/workflows", `{"workflow_id":"` + wpid + `"}`, []string{"x-max-steps-override", "abc"}, 422,
			`{"detail":[{"type":"int_parsing","loc":["header","x-max-steps-override"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}`},
		{"template query", "/v1/run/workflows?template=maybe", `{"workflow_id":"` + wpid + `"}`, nil, 422,
			`{"detail":[{"type":"bool_parsing","loc":["query","template"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`},
		{"elapsed bound", "/v1/run/workflows", `{"workflow_id":"` + wpid + `","max_elapsed_time_minutes":481}`, nil, 422,
			`{"detail":[{"type":"less_than_equal","loc":["body","max_elapsed_time_minutes"],"msg":"Input should be less than or equal to 480","input":481,"ctx":{"le":480}}]}`},
		{"unknown workflow", "/v1/run/workflows", `{"workflow_id":"wpid_404"}`, nil, 404,
			`{"detail":"Workflow not found. workflow_permanent_id=wpid_404"}`},
		{"unknown run", "/v1/runs/tsk_404", nil, nil, 404, `{"detail":"Task run not found tsk_404"}`},
	}
	for _, tt := range tests {
		method := http.MethodPost
		if strings.HasPrefix(tt.path, "/v1/runs/") {
			method = http.MethodGet
		}
		resp := doRequest(t, s, method, tt.path, tt.body, tt.headers...)
		assert.Equal(t, tt.status, resp.status, tt.name)
		if diff := cmp.Diff(tt.want, string(resp.body)); diff != "" {
			t.Errorf("%s: body (-want +got):\n%s", tt.name, diff)
		}
	}
	assert.Zero(t, s.RunCount(), "no failed request created a run")
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doRequest(t, s, http.MethodPost, "/v1/run/tasks?x=1", `{"prompt":"p"}`, "Authorization", "Bearer secret")
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/v1/run/tasks", r.Path)
	assert.Equal(t, "1", r.Query.Get("x"))
	assert.Equal(t, RouteRunTask, r.Route)
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, `{"prompt":"p"}`, string(r.Body))
	assert.Equal(t, Redacted, r.Header.Get("x-api-key"))
	assert.Equal(t, Redacted, r.Header.Get("Authorization"))
	assert.Nil(t, r.Fault)
}
