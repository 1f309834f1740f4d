package skyvern

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// DefaultWorkflowsPageSize is the page size AllWorkflows uses when the
// params do not set one; it is also the server's default.
const DefaultWorkflowsPageSize = 10

const maxWorkflowTagFilters = 20

// GetWorkflowsParams filters and pages GetWorkflows. The zero value lists
// the first page of published and draft workflows.
type GetWorkflowsParams struct {
	// Page is 1-based; 0 means the first page.
	Page int
	// PageSize is the number of workflows per page; 0 means the server's
	// default (10).
	PageSize int
	// OnlySavedTasks and OnlyWorkflows exclude each other.
	OnlySavedTasks bool
	OnlyWorkflows  bool
	OnlyTemplates  bool
	// SearchKey matches titles and other text.
	SearchKey string
	// Title filters by title.
	//
	// Deprecated: the server keeps it for compatibility; use SearchKey.
	Title string
	// FolderID filters by folder.
	FolderID string
	// Status filters by status; the server's default is published and
	// draft.
	Status []WorkflowStatus
	// Tags filters by tag (at most 20); not with Template.
	Tags []string
	// Template lists Skyvern's templates.
	Template bool
}

func (p *GetWorkflowsParams) query() (url.Values, error) {
	q := url.Values{}
	if p == nil {
		return q, nil
	}
	if err := validatePaging(p.Page, p.PageSize); err != nil {
		return nil, err
	}
	switch {
	case p.OnlySavedTasks && p.OnlyWorkflows:
		return nil, &InvalidRequestError{Field: "only_saved_tasks", Reason: "and only_workflows cannot be used together"}
	case len(p.Tags) > maxWorkflowTagFilters:
		return nil, &InvalidRequestError{Field: "tags", Reason: fmt.Sprintf("has %d values; at most %d are allowed", len(p.Tags), maxWorkflowTagFilters)}
	case len(p.Tags) > 0 && p.Template:
		return nil, &InvalidRequestError{Field: "tags", Reason: "cannot be used with template=true"}
	}
	setInt := func(key string, v int) {
		if v > 0 {
			q.Set(key, strconv.Itoa(v))
		}
	}
	setBool := func(key string, v bool) {
		if v {
			q.Set(key, "true")
		}
	}
	setString := func(key, v string) {
		if v != "" {
			q.Set(key, v)
		}
	}
	setInt("page", p.Page)
	setInt("page_size", p.PageSize)
	setBool("only_saved_tasks", p.OnlySavedTasks)
	setBool("only_workflows", p.OnlyWorkflows)
	setBool("only_templates", p.OnlyTemplates)
	setString("search_key", p.SearchKey)
	setString("title", p.Title)
	setString("folder_id", p.FolderID)
	for _, s := range p.Status {
		q.Add("status", string(s))
	}
	for _, t := range p.Tags {
		q.Add("tags", t)
	}
	setBool("template", p.Template)
	return q, nil
}

// GetWorkflows returns one page of workflows, the latest version of each
// (GET /v1/workflows). params may be nil. AllWorkflows walks every page.
func (c *Client) GetWorkflows(ctx context.Context, params *GetWorkflowsParams, opts ...RequestOption) ([]*Workflow, error) {
	q, err := params.query()
	if err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "workflows"), query: q, class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var page []*Workflow
	if err := decodeJSON(call, resp.body, &page); err != nil {
		return nil, err
	}
	if slices.Contains(page, nil) {
		return nil, malformedResponse(call, "null in the list of workflows")
	}
	return page, nil
}

// AllWorkflows iterates over the workflows matching params (which may be
// nil), fetching page after page from params.Page on, with
// DefaultWorkflowsPageSize unless params.PageSize is set. It stops after a
// page with fewer workflows than the page size. An error ends the
// iteration: it is yielded once, with a nil *Workflow. When ctx ends, the
// iteration yields ctx.Err() and stops, even between workflows of a page
// already fetched.
//
//	for wf, err := range client.AllWorkflows(ctx, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(wf.WorkflowPermanentID, wf.Title)
//	}
func (c *Client) AllWorkflows(ctx context.Context, params *GetWorkflowsParams, opts ...RequestOption) iter.Seq2[*Workflow, error] {
	var p GetWorkflowsParams
	if params != nil {
		p = *params // the caller's params are not modified
	}
	if p.PageSize == 0 {
		p.PageSize = DefaultWorkflowsPageSize
	}
	return pageThrough(ctx, p.Page, p.PageSize, "GET /v1/workflows",
		func(page int) ([]*Workflow, error) {
			p.Page = page
			return c.GetWorkflows(ctx, &p, opts...)
		},
		func(wf *Workflow) string { return wf.WorkflowPermanentID })
}
