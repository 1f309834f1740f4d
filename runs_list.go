package skyvern

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds of GET /v1/runs, as the server enforces them.
const (
	// DefaultRunsPageSize is the server's page size, which AllRuns also uses
	// when the params do not set one.
	DefaultRunsPageSize = 10
	// MaxRunsPageSize is the largest page the server returns.
	MaxRunsPageSize = 100
	// MaxRunsPage is the last page number the server accepts.
	MaxRunsPage = 100
	// MaxRunsSearchResults is how far a listing filtered by SearchKey or
	// WorkflowPermanentIDs can page: the server refuses a page that ends
	// beyond the first 1000 matches.
	MaxRunsSearchResults = 1000

	minRunsSearchKeyLen    = 3
	maxRunsWorkflowFilters = 50
	maxRunsTagTerms        = 20
)

// ListRunsParams filters and pages ListRuns. The zero value lists the
// newest runs of every kind, DefaultRunsPageSize of them.
type ListRunsParams struct {
	// Page is 1-based (at most MaxRunsPage); 0 means the first page.
	Page int
	// PageSize is the number of runs per page (1 to MaxRunsPageSize); 0
	// means the server's default.
	PageSize int
	// Statuses keeps runs with one of these statuses.
	Statuses []RunStatus
	// RunTypes keeps runs of these types (task_v1, workflow_run, ...).
	RunTypes []RunType
	// WorkflowPermanentIDs keeps runs of these workflows (at most 50).
	WorkflowPermanentIDs []string
	// SearchKey (at least 3 characters) matches, case-insensitively as a
	// substring, a task run's title and URL, the run id, the workflow
	// permanent id, and a workflow run's parameter keys and values.
	SearchKey string
	// Tags keeps runs carrying every term: "label", "key:*" or "key:value"
	// (at most 20 distinct terms; a value may hold several terms separated
	// by commas). Some organizations cannot filter by tags: the server
	// answers 403 (ErrForbidden).
	Tags []string
}

// RunListItem is one run of a listing (Skyvern's TaskRunListItem): a
// summary without output or request. GetRun returns the whole run.
type RunListItem struct {
	// TaskRunID is the listing row's id (tr_…).
	TaskRunID string `json:"task_run_id"`
	// RunID is the run's id (tsk_…, tsk_v2_…, wr_…), for GetRun.
	RunID string `json:"run_id"`
	// TaskRunType is the run's type.
	TaskRunType RunType   `json:"task_run_type"`
	Status      RunStatus `json:"status"`
	Title       string    `json:"title,omitempty"`
	StartedAt   *Time     `json:"started_at,omitempty"`
	FinishedAt  *Time     `json:"finished_at,omitempty"`
	CreatedAt   Time      `json:"created_at"`
	// WorkflowPermanentID is set on workflow runs (and task v2 runs, which
	// a workflow backs).
	WorkflowPermanentID string `json:"workflow_permanent_id,omitempty"`
	// WorkflowDeleted reports that the run's workflow has been deleted.
	WorkflowDeleted bool `json:"workflow_deleted"`
	// ScriptRun reports that the run executed a generated script.
	ScriptRun bool `json:"script_run"`
	// TriggerType says what started the run: "api", "manual",
	// "scheduled", "mcp", ...
	TriggerType string `json:"trigger_type,omitempty"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler and keeps the raw JSON in Raw.
func (it *RunListItem) UnmarshalJSON(data []byte) error {
	type plain RunListItem
	if err := json.Unmarshal(data, (*plain)(it)); err != nil {
		return err
	}
	it.Raw = append(it.Raw[:0], data...)
	return nil
}

// searchCapped reports whether the server limits how far this listing can
// page.
func (p *ListRunsParams) searchCapped() bool {
	return p.SearchKey != "" || len(p.WorkflowPermanentIDs) > 0
}

func (p *ListRunsParams) query() (url.Values, error) {
	q := url.Values{}
	if p == nil {
		return q, nil
	}
	page, size := max(p.Page, 1), p.PageSize
	if size == 0 {
		size = DefaultRunsPageSize
	}
	switch {
	case p.Page < 0 || p.Page > MaxRunsPage:
		return nil, &InvalidRequestError{Field: "page", Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxRunsPage, p.Page)}
	case p.PageSize < 0 || p.PageSize > MaxRunsPageSize:
		return nil, &InvalidRequestError{Field: "page_size", Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxRunsPageSize, p.PageSize)}
	case p.SearchKey != "" && utf8.RuneCountInString(p.SearchKey) < minRunsSearchKeyLen:
		return nil, &InvalidRequestError{Field: "search_key", Reason: fmt.Sprintf("must be at least %d characters long", minRunsSearchKeyLen)}
	case len(p.WorkflowPermanentIDs) > maxRunsWorkflowFilters:
		return nil, &InvalidRequestError{Field: "workflow_permanent_id", Reason: fmt.Sprintf("has %d values; at most %d are allowed", len(p.WorkflowPermanentIDs), maxRunsWorkflowFilters)}
	case p.searchCapped() && page*size > MaxRunsSearchResults:
		return nil, &InvalidRequestError{Field: "page", Reason: fmt.Sprintf("page %d of %d runs ends beyond the first %d matches a search or workflow filter can reach", page, size, MaxRunsSearchResults)}
	}
	if n := countTagTerms(p.Tags); n > maxRunsTagTerms {
		return nil, &InvalidRequestError{Field: "tags", Reason: fmt.Sprintf("has %d distinct terms; at most %d are allowed", n, maxRunsTagTerms)}
	}
	if p.Page > 0 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(p.PageSize))
	}
	for _, s := range p.Statuses {
		q.Add("status", string(s))
	}
	for _, t := range p.RunTypes {
		q.Add("run_type", string(t))
	}
	for _, id := range p.WorkflowPermanentIDs {
		q.Add("workflow_permanent_id", id)
	}
	if p.SearchKey != "" {
		q.Set("search_key", p.SearchKey)
	}
	for _, t := range p.Tags {
		q.Add("tags", t)
	}
	return q, nil
}

// countTagTerms counts distinct tag terms the way the server does: values
// may be comma-separated, blanks are ignored.
func countTagTerms(tags []string) int {
	seen := map[string]bool{}
	for _, v := range tags {
		for _, term := range strings.Split(v, ",") {
			if term = strings.TrimSpace(term); term != "" {
				seen[term] = true
			}
		}
	}
	return len(seen)
}

// ListRuns returns one page of runs, newest first (GET /v1/runs). params
// may be nil; they are checked against the server's bounds before anything
// is sent. AllRuns walks every page.
func (c *Client) ListRuns(ctx context.Context, params *ListRunsParams, opts ...RequestOption) ([]*RunListItem, error) {
	q, err := params.query()
	if err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "runs"), query: q, class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var page []*RunListItem
	if err := decodeJSON(call, resp.body, &page); err != nil {
		return nil, err
	}
	return page, nil
}

// AllRuns iterates over the runs matching params (which may be nil), newest
// first, fetching page after page from params.Page on, with
// DefaultRunsPageSize unless params.PageSize is set. It stops after a page
// with fewer runs than the page size. Runs created while it pages push
// older ones onto later pages; a run already yielded is not yielded again.
//
// The server lets a listing reach page MaxRunsPage only, and a listing with
// a SearchKey or WorkflowPermanentIDs only its first MaxRunsSearchResults
// matches: a full page at that limit ends the iteration with an error
// matching ErrRunListLimit. Any other error also ends it, yielded once with a
// nil item; when ctx ends, the iteration yields ctx.Err() and stops, even
// between the runs of a page already fetched.
func (c *Client) AllRuns(ctx context.Context, params *ListRunsParams, opts ...RequestOption) iter.Seq2[*RunListItem, error] {
	return func(yield func(*RunListItem, error) bool) {
		var p ListRunsParams
		if params != nil {
			p = *params // the caller's params are not modified
		}
		p.Page = max(p.Page, 1)
		if p.PageSize == 0 {
			p.PageSize = DefaultRunsPageSize
		}
		seen := map[string]bool{}
		for {
			if err := contextErr(ctx); err != nil {
				yield(nil, err)
				return
			}
			page, err := c.ListRuns(ctx, &p, opts...)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range page {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
				if seen[it.RunID] {
					continue
				}
				seen[it.RunID] = true
				if !yield(it, nil) {
					return
				}
			}
			if len(page) < p.PageSize {
				return
			}
			next := p.Page + 1
			if next > MaxRunsPage || (p.searchCapped() && next*p.PageSize > MaxRunsSearchResults) {
				yield(nil, fmt.Errorf("skyvern: GET /v1/runs: %w: stopped after page %d of %d runs", ErrRunListLimit, p.Page, p.PageSize))
				return
			}
			p.Page = next
		}
	}
}
