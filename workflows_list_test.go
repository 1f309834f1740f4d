package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// pagedWorkflows serves total workflows (wpid_1, wpid_2, ...) page by page
// and records the query of every request.
type pagedWorkflows struct {
	total int
	// failPage, when set, answers that page with a 404.
	failPage int
	// ignorePage serves page 1 whatever page is asked for.
	ignorePage bool

	mu      sync.Mutex
	queries []url.Values
}

func (p *pagedWorkflows) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.queries = append(p.queries, q)
	p.mu.Unlock()
	page, _ := strconv.Atoi(q.Get("page"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	if page == 0 {
		page = 1
	}
	if size == 0 {
		size = 10
	}
	if page == p.failPage {
		writeJSON(w, 404, `{"detail":"gone"}`)
		return
	}
	if p.ignorePage {
		page = 1
	}
	var items []string
	for i := (page-1)*size + 1; i <= min(page*size, p.total); i++ {
		items = append(items, strings.Replace(workflowJSON, "wpid_490440779503357998", fmt.Sprintf("wpid_%d", i), 2))
	}
	writeJSON(w, 200, "["+strings.Join(items, ",")+"]")
}

func (p *pagedWorkflows) requests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.queries...)
}

func TestGetWorkflowsQuery(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	pages := &pagedWorkflows{total: 3}
	mux.Handle("/v1/workflows", pages)

	got, err := c.GetWorkflows(context.Background(), &skyvern.GetWorkflowsParams{
		Page: 1, PageSize: 25, OnlyWorkflows: true, OnlyTemplates: true, SearchKey: "invoice", Title: "Invoice",
		FolderID: "fld_1", Status: []skyvern.WorkflowStatus{skyvern.WorkflowStatusPublished, skyvern.WorkflowStatusDraft},
		Tags: []string{"billing", "monthly"},
	})
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "wpid_2", got[1].WorkflowPermanentID)
	assert.Equal(t, "wpid_2", got[1].AgentID)

	_, err = c.GetWorkflows(context.Background(), &skyvern.GetWorkflowsParams{OnlySavedTasks: true, Template: true})
	require.NoError(t, err)
	_, err = c.GetWorkflows(context.Background(), nil)
	require.NoError(t, err)

	want := []url.Values{
		{"page": {"1"}, "page_size": {"25"}, "only_workflows": {"true"}, "only_templates": {"true"}, "search_key": {"invoice"},
			"title": {"Invoice"}, "folder_id": {"fld_1"}, "status": {"published", "draft"}, "tags": {"billing", "monthly"}},
		{"only_saved_tasks": {"true"}, "template": {"true"}},
		{},
	}
	if diff := cmp.Diff(want, pages.requests()); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestGetWorkflowsMalformed(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/workflows", status(200, `{"workflows":[]}`))
	_, err := c.GetWorkflows(context.Background(), nil)
	assert.ErrorIs(t, err, skyvern.ErrMalformedResponse)
}

func collectWorkflows(seq iter.Seq2[*skyvern.Workflow, error], stopAfter int, onItem func(n int)) (ids []string, errs []error) {
	for wf, err := range seq {
		if err != nil {
			if wf != nil {
				errs = append(errs, errors.New("an error came with a workflow"))
			}
			errs = append(errs, err)
			continue
		}
		ids = append(ids, wf.WorkflowPermanentID)
		if onItem != nil {
			onItem(len(ids))
		}
		if len(ids) == stopAfter {
			break
		}
	}
	return ids, errs
}

func TestAllWorkflowsPagination(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	pages := &pagedWorkflows{total: 5}
	mux.Handle("/v1/workflows", pages)
	params := &skyvern.GetWorkflowsParams{PageSize: 2, Status: []skyvern.WorkflowStatus{skyvern.WorkflowStatusPublished, skyvern.WorkflowStatusDraft}}

	ids, errs := collectWorkflows(c.AllWorkflows(context.Background(), params), 0, nil)
	assert.Empty(t, errs)
	assert.Equal(t, []string{"wpid_1", "wpid_2", "wpid_3", "wpid_4", "wpid_5"}, ids)
	var want []url.Values
	for page := 1; page <= 3; page++ {
		want = append(want, url.Values{"page": {strconv.Itoa(page)}, "page_size": {"2"}, "status": {"published", "draft"}})
	}
	if diff := cmp.Diff(want, pages.requests()); diff != "" {
		t.Errorf("page requests (-want +got):\n%s", diff)
	}
	assert.Equal(t, 0, params.Page, "the caller's params are not modified")
}

func TestAllWorkflowsDefaultsAndEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		total     int
		params    *skyvern.GetWorkflowsParams
		wantIDs   int
		wantPages []string // "page/page_size" of each request
	}{
		{"nil params use the default page size", 12, nil, 12, []string{"1/10", "2/10"}},
		{"exact multiple needs one empty page", 4, &skyvern.GetWorkflowsParams{PageSize: 2}, 4, []string{"1/2", "2/2", "3/2"}},
		{"starts at the given page", 5, &skyvern.GetWorkflowsParams{Page: 2, PageSize: 2}, 3, []string{"2/2", "3/2"}},
		{"no workflows", 0, nil, 0, []string{"1/10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			pages := &pagedWorkflows{total: tc.total}
			mux.Handle("/v1/workflows", pages)
			ids, errs := collectWorkflows(c.AllWorkflows(context.Background(), tc.params), 0, nil)
			assert.Empty(t, errs)
			assert.Len(t, ids, tc.wantIDs)
			var got []string
			for _, q := range pages.requests() {
				got = append(got, q.Get("page")+"/"+q.Get("page_size"))
			}
			assert.Equal(t, tc.wantPages, got)
		})
	}
}

func TestAllWorkflowsStops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cancelAt int // cancel after this many workflows
		wantIDs  []string
	}{
		{"context cancelled mid-page", 1, []string{"wpid_1"}},
		{"context cancelled between pages", 2, []string{"wpid_1", "wpid_2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			pages := &pagedWorkflows{total: 5}
			mux.Handle("/v1/workflows", pages)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ids, errs := collectWorkflows(c.AllWorkflows(ctx, &skyvern.GetWorkflowsParams{PageSize: 2}), 0, func(n int) {
				if n == tc.cancelAt {
					cancel()
				}
			})
			assert.Equal(t, tc.wantIDs, ids)
			require.Len(t, errs, 1, "the context's error is yielded once")
			assert.ErrorIs(t, errs[0], context.Canceled)
			assert.Len(t, pages.requests(), 1, "no page is fetched after the context ended")
		})
	}
	t.Run("consumer breaks", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		pages := &pagedWorkflows{total: 5}
		mux.Handle("/v1/workflows", pages)
		ids, errs := collectWorkflows(c.AllWorkflows(context.Background(), &skyvern.GetWorkflowsParams{PageSize: 2}), 3, nil)
		assert.Equal(t, []string{"wpid_1", "wpid_2", "wpid_3"}, ids)
		assert.Empty(t, errs)
		assert.Len(t, pages.requests(), 2)
	})
	t.Run("error on a later page", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		pages := &pagedWorkflows{total: 5, failPage: 2}
		mux.Handle("/v1/workflows", pages)
		ids, errs := collectWorkflows(c.AllWorkflows(context.Background(), &skyvern.GetWorkflowsParams{PageSize: 2}), 0, nil)
		assert.Equal(t, []string{"wpid_1", "wpid_2"}, ids)
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], skyvern.ErrNotFound)
	})
	t.Run("server that ignores the page parameter", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		pages := &pagedWorkflows{total: 5, ignorePage: true}
		mux.Handle("/v1/workflows", pages)
		ids, errs := collectWorkflows(c.AllWorkflows(context.Background(), &skyvern.GetWorkflowsParams{PageSize: 2}), 0, nil)
		assert.Equal(t, []string{"wpid_1", "wpid_2"}, ids)
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], skyvern.ErrMalformedResponse)
		assert.Len(t, pages.requests(), 2)
	})
	t.Run("invalid params and done context", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		pages := &pagedWorkflows{total: 5}
		mux.Handle("/v1/workflows", pages)
		_, errs := collectWorkflows(c.AllWorkflows(context.Background(), &skyvern.GetWorkflowsParams{PageSize: -1}), 0, nil)
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], skyvern.ErrValidation)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, errs = collectWorkflows(c.AllWorkflows(ctx, nil), 0, nil)
		require.Len(t, errs, 1)
		assert.True(t, errors.Is(errs[0], context.Canceled))
		assert.Empty(t, pages.requests())
	})
}
