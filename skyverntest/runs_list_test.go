package skyverntest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func listRunIDs(t *testing.T, s *Server, query string) []string {
	t.Helper()
	resp := doRequest(t, s, http.MethodGet, "/v1/runs?"+query, nil)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	var ids []string
	for _, it := range decodeList(t, resp.body) {
		ids = append(ids, it["run_id"].(string))
	}
	return ids
}

func TestListRunsFiltersAndOrder(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	wpid := createWorkflow(t, s, nil)
	task1 := startTask(t, s, map[string]any{"prompt": "a", "title": "Invoice January", "url": "https://Vendor.example.com"})
	task2 := startTask(t, s, map[string]any{"prompt": "b", "engine": "skyvern-2.0"})
	wr := doRequest(t, s, http.MethodPost, "/v1/run/workflows", map[string]any{
		"workflow_id": wpid, "parameters": map[string]any{"customer": "ACME Corp"},
		"run_metadata": map[string]any{"env": "prod", "skyvern.internal": "x", "team": "billing"},
	}).object(t)["run_id"].(string)
	require.NoError(t, s.Complete(task1, nil))

	assert.Equal(t, []string{wr, task2, task1}, listRunIDs(t, s, ""), "newest first")
	assert.Equal(t, []string{task1}, listRunIDs(t, s, "status=completed"))
	assert.Equal(t, []string{task2, task1}, listRunIDs(t, s, "run_type=task_v1&run_type=task_v2"))
	assert.Equal(t, []string{wr}, listRunIDs(t, s, "workflow_permanent_id="+wpid+"&run_type=workflow_run"))
	assert.Equal(t, []string{task1}, listRunIDs(t, s, "search_key=invoice+jan"), "task title")
	assert.Equal(t, []string{task1}, listRunIDs(t, s, "search_key=vendor.EXAMPLE"), "task url")
	assert.Equal(t, []string{wr}, listRunIDs(t, s, "search_key=acme"), "workflow parameter value")
	assert.Equal(t, []string{wr}, listRunIDs(t, s, "search_key=customer"), "workflow parameter key")
	assert.Equal(t, []string{task2}, listRunIDs(t, s, "search_key="+url.QueryEscape(task2)), "run id")
	assert.Equal(t, []string{wr}, listRunIDs(t, s, "tags=env:prod"))
	assert.Equal(t, []string{wr}, listRunIDs(t, s, "tags=env:prod,team:*"))
	assert.Equal(t, []string{wr}, listRunIDs(t, s, "tags=env:dev&tags=env:prod"), "OR within a key")
	assert.Empty(t, listRunIDs(t, s, "tags=env:prod&tags=team:ops"), "AND across keys")
	assert.Empty(t, listRunIDs(t, s, "tags=skyvern.internal:*"), "reserved keys are dropped")
	assert.Equal(t, []string{task2}, listRunIDs(t, s, "page=2&page_size=1"))
	assert.Empty(t, listRunIDs(t, s, "page=4&page_size=1"))

	items := decodeList(t, doRequest(t, s, http.MethodGet, "/v1/runs?page_size=1", nil).body)
	require.Len(t, items, 1)
	assert.Equal(t, []string{"task_run_id", "run_id", "task_run_type", "status", "title", "started_at", "finished_at",
		"created_at", "workflow_permanent_id", "workflow_deleted", "script_run", "trigger_type"},
		topKeys(t, doRequest(t, s, http.MethodGet, "/v1/runs?page_size=1", nil).body[1:]))
	assert.Equal(t, "workflow_run", items[0]["task_run_type"])
	assert.Equal(t, wpid, items[0]["workflow_permanent_id"])
	assert.Equal(t, "Invoice Downloader", items[0]["title"])

	// get_run echoes run_metadata without the reserved keys.
	got := doRequest(t, s, http.MethodGet, "/v1/runs/"+wr, nil).object(t)
	assert.Equal(t, map[string]any{"env": "prod", "team": "billing"}, got["run_request"].(map[string]any)["run_metadata"])
}

func TestListRunsBounds(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	forbidding := newTestServer(t, WithTagFilterForbidden())
	many := strings.Repeat("t,", 20) + "u1,u2"
	tests := []struct {
		server *Server
		query  string
		status int
		detail string
	}{
		{s, "page=0", 422, "greater_than_equal"},
		{s, "page=101", 422, "less_than_equal"},
		{s, "page_size=101", 422, "less_than_equal"},
		{s, "search_key=ab", 422, "string_too_short"},
		{s, "workflow_permanent_id=" + strings.Repeat("w&workflow_permanent_id=", 50) + "w", 422, "too_long"},
		{s, "search_key=abc&page=11&page_size=100", 400, "first 1000"},
		{s, "workflow_permanent_id=w&page=10&page_size=100", 200, ""},
		{s, "tags=" + strings.ReplaceAll(many, "t,", "x,"), 200, ""},
		{s, "tags=" + many + ",a1,a2,a3,a4,a5,a6,a7,a8,a9,b1,b2,b3,b4,b5,b6,b7,b8,b9,c1", 400, "At most 20"},
		{forbidding, "tags=env:prod", 403, "Workflow tagging is not enabled for this organization."},
		{forbidding, "search_key=abc", 200, ""},
	}
	for _, tt := range tests {
		resp := doRequest(t, tt.server, http.MethodGet, "/v1/runs?"+tt.query, nil)
		assert.Equal(t, tt.status, resp.status, "%s: %s", tt.query, resp.body)
		assert.Contains(t, string(resp.body), tt.detail, tt.query)
	}
}

// A latency fault with ProcessAfterGiveUp creates the run although the
// client gave up; without it, the request is dropped with the client.
func TestLatencyFaultProcessAfterGiveUp(t *testing.T) {
	t.Parallel()
	for _, keepGoing := range []bool{true, false} {
		s := newTestServer(t)
		s.InjectFault(RouteRunTask, Fault{Latency: 200 * time.Millisecond, ProcessAfterGiveUp: keepGoing})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v1/run/tasks", strings.NewReader(`{"prompt":"p"}`))
		require.NoError(t, err)
		req.Header.Set("x-api-key", s.APIKey())
		_, err = s.Client().Do(req)
		cancel()
		require.Error(t, err)
		want := 0
		if keepGoing {
			want = 1
			wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
			require.NoError(t, s.waitFor(wctx, func() bool { return len(s.runs) == 1 }))
			wcancel()
		} else {
			time.Sleep(300 * time.Millisecond) // past the latency: nothing may appear
		}
		assert.Equal(t, want, s.RunCount(), "ProcessAfterGiveUp=%v", keepGoing)
		if keepGoing {
			assert.Equal(t, skyvern.RunStatusCreated, s.Runs()[0].Status)
		}
	}
}
