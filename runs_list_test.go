package skyvern_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// runListItemJSON is a TaskRunListItem as the server writes it.
const runListItemJSON = `{"task_run_id":"tr_1","run_id":"wr_1","task_run_type":"workflow_run","status":"completed","title":"Invoices","started_at":"2026-01-31T15:20:44.391756","finished_at":null,"created_at":"2026-01-31T15:20:42","workflow_permanent_id":"wpid_1","workflow_deleted":false,"script_run":true,"trigger_type":"api"}`

func TestListRunsWireShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params *skyvern.ListRunsParams
		query  string
	}{
		{"nil params", nil, ""},
		{"zero params", &skyvern.ListRunsParams{}, ""},
		{"paging", &skyvern.ListRunsParams{Page: 3, PageSize: 100}, "page=3&page_size=100"},
		{"repeated filters", &skyvern.ListRunsParams{
			Statuses:             []skyvern.RunStatus{skyvern.RunStatusFailed, skyvern.RunStatusTimedOut},
			RunTypes:             []skyvern.RunType{skyvern.RunTypeTaskV1, skyvern.RunTypeWorkflowRun},
			WorkflowPermanentIDs: []string{"wpid_1", "wpid_2"},
		}, "run_type=task_v1&run_type=workflow_run&status=failed&status=timed_out&workflow_permanent_id=wpid_1&workflow_permanent_id=wpid_2"},
		{"search and tags", &skyvern.ListRunsParams{SearchKey: "Invoice Jan", Tags: []string{"env:prod", "team:*,urgent"}},
			"search_key=Invoice+Jan&tags=env%3Aprod&tags=team%3A%2A%2Curgent"},
		{"search at the cap", &skyvern.ListRunsParams{SearchKey: "abc", Page: 10, PageSize: 100}, "page=10&page_size=100&search_key=abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/runs", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, http.MethodGet)
				want, _ := url.ParseQuery(tt.query)
				if diff := cmp.Diff(want, r.URL.Query()); diff != "" {
					t.Errorf("query (-want +got):\n%s", diff)
				}
				writeJSON(w, 200, "["+runListItemJSON+"]")
			})
			items, err := c.ListRuns(context.Background(), tt.params)
			require.NoError(t, err)
			require.Len(t, items, 1)
			it := items[0]
			assert.Equal(t, "tr_1", it.TaskRunID)
			assert.Equal(t, "wr_1", it.RunID)
			assert.Equal(t, skyvern.RunTypeWorkflowRun, it.TaskRunType)
			assert.Equal(t, skyvern.RunStatusCompleted, it.Status)
			assert.Equal(t, "Invoices", it.Title)
			require.NotNil(t, it.StartedAt)
			assert.Equal(t, time.Date(2026, 1, 31, 15, 20, 44, 391756000, time.UTC), it.StartedAt.Time)
			assert.Nil(t, it.FinishedAt)
			assert.Equal(t, time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC), it.CreatedAt.Time)
			assert.Equal(t, "wpid_1", it.WorkflowPermanentID)
			assert.False(t, it.WorkflowDeleted)
			assert.True(t, it.ScriptRun)
			assert.Equal(t, "api", it.TriggerType)
			assert.JSONEq(t, runListItemJSON, string(it.Raw))
		})
	}
}

func TestListRunsValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/v1/runs", func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); writeJSON(w, 200, "[]") })
	many := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name   string
		params skyvern.ListRunsParams
		field  string
	}{
		{"negative page", skyvern.ListRunsParams{Page: -1}, "page"},
		{"page 101", skyvern.ListRunsParams{Page: 101}, "page"},
		{"page size 101", skyvern.ListRunsParams{PageSize: 101}, "page_size"},
		{"negative page size", skyvern.ListRunsParams{PageSize: -1}, "page_size"},
		{"short search key", skyvern.ListRunsParams{SearchKey: "ab"}, "search_key"},
		{"51 workflows", skyvern.ListRunsParams{WorkflowPermanentIDs: many(51, func(i int) string { return fmt.Sprint("wpid_", i) })}, "workflow_permanent_id"},
		{"search beyond the cap", skyvern.ListRunsParams{SearchKey: "abc", Page: 11, PageSize: 100}, "page"},
		{"workflow filter beyond the cap", skyvern.ListRunsParams{WorkflowPermanentIDs: []string{"wpid_1"}, Page: 101, PageSize: 10}, "page"},
		{"21 tag terms", skyvern.ListRunsParams{Tags: []string{strings.Join(many(21, func(i int) string { return fmt.Sprint("t", i) }), ",")}}, "tags"},
	}
	for _, tt := range tests {
		_, err := c.ListRuns(context.Background(), &tt.params)
		var invalid *skyvern.InvalidRequestError
		require.ErrorAs(t, err, &invalid, tt.name)
		assert.Equal(t, tt.field, invalid.Field, tt.name)
	}
	// The limits themselves are fine; repeated tag terms count once.
	for _, p := range []skyvern.ListRunsParams{
		{Page: 100, PageSize: 100}, {SearchKey: "abc", Page: 10, PageSize: 100},
		{WorkflowPermanentIDs: many(50, func(i int) string { return fmt.Sprint("wpid_", i) })},
		{Tags: append(many(20, func(i int) string { return fmt.Sprint("t", i) }), "t0", "t1,t2")},
	} {
		_, err := c.ListRuns(context.Background(), &p)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 4, hits.Load())
}

// pagedRuns serves total runs (wr_total ... wr_1, newest first) page by
// page; shift > 0 makes every page after the first start shift items
// earlier, as when new runs arrive while a client pages.
type pagedRuns struct {
	total, shift int
	mu           sync.Mutex
	pages        []int
}

func (p *pagedRuns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	size, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
	page, size = max(page, 1), max(size, 1)
	p.mu.Lock()
	p.pages = append(p.pages, page)
	p.mu.Unlock()
	start := (page - 1) * size
	if page > 1 {
		start -= p.shift
	}
	var items []string
	for i := start; i < min(start+size, p.total); i++ {
		id := fmt.Sprintf("wr_%d", p.total-i)
		items = append(items, strings.Replace(runListItemJSON, `"run_id":"wr_1"`, `"run_id":"`+id+`"`, 1))
	}
	writeJSON(w, 200, "["+strings.Join(items, ",")+"]")
}

func collectRuns(t *testing.T, seq func(func(*skyvern.RunListItem, error) bool)) ([]string, error) {
	t.Helper()
	var ids []string
	for it, err := range seq {
		if err != nil {
			return ids, err
		}
		ids = append(ids, it.RunID)
	}
	return ids, nil
}

func TestAllRunsPaging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		total     int
		shift     int
		params    *skyvern.ListRunsParams
		wantRuns  int
		wantPages []int
		wantErr   error
	}{
		{"empty", 0, 0, nil, 0, []int{1}, nil},
		{"short last page", 25, 0, nil, 25, []int{1, 2, 3}, nil},
		{"exact pages end with an empty one", 20, 0, nil, 20, []int{1, 2, 3}, nil},
		{"from a later page", 25, 0, &skyvern.ListRunsParams{Page: 2, PageSize: 10}, 15, []int{2, 3}, nil},
		{"new runs shift the pages: none twice", 25, 3, nil, 25, []int{1, 2, 3}, nil},
		{"search cap", 2000, 0, &skyvern.ListRunsParams{SearchKey: "invoice", PageSize: 100}, 1000,
			[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, skyvern.ErrRunListLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			pages := &pagedRuns{total: tt.total, shift: tt.shift}
			mux.Handle("/v1/runs", pages)
			ids, err := collectRuns(t, c.AllRuns(context.Background(), tt.params))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Len(t, ids, tt.wantRuns)
			seen := map[string]bool{}
			for _, id := range ids {
				assert.False(t, seen[id], "%s yielded twice", id)
				seen[id] = true
			}
			assert.Equal(t, tt.wantPages, pages.pages)
		})
	}
}

func TestAllRunsStopsOnErrorAndContext(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(0))
	mux.Handle("/v1/runs", &pagedRuns{total: 50})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for it, err := range c.AllRuns(ctx, nil) {
		if err != nil {
			last = err
			break
		}
		require.NotNil(t, it)
		if n++; n == 3 {
			cancel()
		}
	}
	require.ErrorIs(t, last, context.Canceled)
	assert.Equal(t, 3, n, "no run after ctx ended, even within a fetched page")

	c2, mux2, _ := setup(t, skyvern.WithMaxRetries(0))
	mux2.HandleFunc("/v1/runs", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 403, `{"detail":"Workflow tagging is not enabled for this organization."}`)
	})
	errs := 0
	for it, err := range c2.AllRuns(context.Background(), &skyvern.ListRunsParams{Tags: []string{"x"}}) {
		assert.Nil(t, it)
		require.ErrorIs(t, err, skyvern.ErrForbidden)
		errs++
	}
	assert.Equal(t, 1, errs)
}
