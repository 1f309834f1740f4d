package skyvern

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// DefaultWorkflowRunsPageSize is the page size AllWorkflowRuns uses when the
// params do not set one; it is also the server's default.
const DefaultWorkflowRunsPageSize = 10

const maxWorkflowRunsSearch = 500

// WorkflowRun is one run of a workflow as GetWorkflowRuns lists it
// (Skyvern's WorkflowRun record, a different shape from Run). Raw keeps the
// JSON as received.
type WorkflowRun struct {
	WorkflowRunID       string `json:"workflow_run_id"`
	WorkflowID          string `json:"workflow_id"`
	WorkflowPermanentID string `json:"workflow_permanent_id"`
	OrganizationID      string `json:"organization_id"`
	BrowserSessionID    string `json:"browser_session_id,omitempty"`
	BrowserProfileID    string `json:"browser_profile_id,omitempty"`
	BrowserSeedSource   string `json:"browser_seed_source,omitempty"`
	StartFreshBrowser   *bool  `json:"start_fresh_browser,omitempty"`
	ReuseBrowserSession *bool  `json:"reuse_browser_session,omitempty"`
	// Status is the run's status.
	Status            RunStatus         `json:"status"`
	ExtraHTTPHeaders  map[string]string `json:"extra_http_headers,omitempty"`
	CDPConnectHeaders map[string]string `json:"cdp_connect_headers,omitempty"`
	ProxyLocation     *Proxy            `json:"proxy_location,omitempty"`
	// WebhookCallbackURL is where the run's webhook goes.
	WebhookCallbackURL   string `json:"webhook_callback_url,omitempty"`
	WebhookFailureReason string `json:"webhook_failure_reason,omitempty"`
	TOTPVerificationURL  string `json:"totp_verification_url,omitempty"`
	TOTPIdentifier       string `json:"totp_identifier,omitempty"`
	FailureReason        string `json:"failure_reason,omitempty"`
	// RetriedFromWorkflowRunID names the run this one retried
	// (RetryWorkflowRun).
	RetriedFromWorkflowRunID string     `json:"retried_from_workflow_run_id,omitempty"`
	ParentWorkflowRunID      string     `json:"parent_workflow_run_id,omitempty"`
	WorkflowTitle            string     `json:"workflow_title,omitempty"`
	MaxScreenshotScrolls     *int       `json:"max_screenshot_scrolls,omitempty"`
	MaxElapsedTimeMinutes    *int       `json:"max_elapsed_time_minutes,omitempty"`
	BrowserAddress           string     `json:"browser_address,omitempty"`
	RunWith                  string     `json:"run_with,omitempty"`
	ScriptRun                *ScriptRun `json:"script_run,omitempty"`
	AIFallback               *bool      `json:"ai_fallback,omitempty"`
	TriggerType              string     `json:"trigger_type,omitempty"`
	CreditsUsed              int64      `json:"credits_used,omitempty"`
	QueuedAt                 *Time      `json:"queued_at,omitempty"`
	StartedAt                *Time      `json:"started_at,omitempty"`
	FinishedAt               *Time      `json:"finished_at,omitempty"`
	CreatedAt                Time       `json:"created_at"`
	ModifiedAt               Time       `json:"modified_at"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler and keeps the raw JSON in Raw.
func (r *WorkflowRun) UnmarshalJSON(data []byte) error {
	type plain WorkflowRun
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	r.Raw = append(r.Raw[:0], data...)
	return nil
}

// GetWorkflowRunsParams filters and pages GetWorkflowRuns. The zero value
// lists the first page of the workflow's top-level runs, newest first.
type GetWorkflowRunsParams struct {
	// Page is 1-based; 0 means the first page.
	Page int
	// PageSize is the number of runs per page; 0 means the server's
	// default (10).
	PageSize int
	// Status keeps runs with one of these statuses.
	Status []RunStatus
	// SearchKey matches, case-insensitively, run ids and parameter keys,
	// descriptions and values (at most 500 characters).
	SearchKey string
	// ErrorCode keeps runs with a task error of exactly this code.
	ErrorCode string
	// CreatedAtStart and CreatedAtEnd bound the creation time: at or after
	// the start, strictly before the end. Zero means unbounded.
	CreatedAtStart, CreatedAtEnd time.Time
	// Tags filters by run tags (at most 20 terms: label, key:* or
	// key:value). Organizations without tagging answer 403.
	Tags []string
	// IncludeChildRuns also lists runs started from inside another run.
	IncludeChildRuns bool
}

func (p *GetWorkflowRunsParams) query() (url.Values, error) {
	q := url.Values{}
	if p == nil {
		return q, nil
	}
	if err := validatePaging(p.Page, p.PageSize); err != nil {
		return nil, err
	}
	switch {
	case len(p.SearchKey) > maxWorkflowRunsSearch:
		return nil, &InvalidRequestError{Field: "search_key", Reason: fmt.Sprintf("must be at most %d characters", maxWorkflowRunsSearch)}
	case len(p.ErrorCode) > maxWorkflowRunsSearch:
		return nil, &InvalidRequestError{Field: "error_code", Reason: fmt.Sprintf("must be at most %d characters", maxWorkflowRunsSearch)}
	case len(p.Tags) > maxWorkflowTagFilters:
		return nil, &InvalidRequestError{Field: "tags", Reason: fmt.Sprintf("has %d values; at most %d are allowed", len(p.Tags), maxWorkflowTagFilters)}
	case !p.CreatedAtStart.IsZero() && !p.CreatedAtEnd.IsZero() && !p.CreatedAtEnd.After(p.CreatedAtStart):
		return nil, &InvalidRequestError{Field: "created_at_end", Reason: "must be after created_at_start"}
	}
	if p.Page > 0 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(p.PageSize))
	}
	for _, s := range p.Status {
		q.Add("status", string(s))
	}
	if p.SearchKey != "" {
		q.Set("search_key", p.SearchKey)
	}
	if p.ErrorCode != "" {
		q.Set("error_code", p.ErrorCode)
	}
	for key, t := range map[string]time.Time{"created_at_start": p.CreatedAtStart, "created_at_end": p.CreatedAtEnd} {
		if !t.IsZero() {
			q.Set(key, t.UTC().Format(time.RFC3339Nano))
		}
	}
	for _, t := range p.Tags {
		q.Add("tags", t)
	}
	if p.IncludeChildRuns {
		q.Set("include_child_runs", "true")
	}
	return q, nil
}

// validatePaging refuses negative page parameters, which the server would
// answer with 422.
func validatePaging(page, pageSize int) error {
	switch {
	case page < 0:
		return &InvalidRequestError{Field: "page", Reason: "must not be negative"}
	case pageSize < 0:
		return &InvalidRequestError{Field: "page_size", Reason: "must not be negative"}
	}
	return nil
}

// GetWorkflowRuns returns one page of a workflow's runs, newest first
// (GET /v1/workflows/{workflow_permanent_id}/runs). params may be nil.
// AllWorkflowRuns walks every page.
func (c *Client) GetWorkflowRuns(ctx context.Context, workflowPermanentID string, params *GetWorkflowRunsParams, opts ...RequestOption) ([]*WorkflowRun, error) {
	if err := requireID("workflow_permanent_id", workflowPermanentID); err != nil {
		return nil, err
	}
	q, err := params.query()
	if err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "workflows", workflowPermanentID, "runs"), query: q, class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var page []*WorkflowRun
	if err := decodeJSON(call, resp.body, &page); err != nil {
		return nil, err
	}
	return page, nil
}

// AllWorkflowRuns iterates over a workflow's runs matching params (which may
// be nil), page after page from params.Page on, with
// DefaultWorkflowRunsPageSize unless params.PageSize is set. It stops after a
// short page. An error ends the iteration and is yielded once, with a nil
// run; so is ctx's error when ctx ends.
//
// Runs started while the iteration goes on shift the pages (they are newest
// first), so a run may be yielded twice; key on WorkflowRunID if that
// matters.
func (c *Client) AllWorkflowRuns(ctx context.Context, workflowPermanentID string, params *GetWorkflowRunsParams, opts ...RequestOption) iter.Seq2[*WorkflowRun, error] {
	var p GetWorkflowRunsParams
	if params != nil {
		p = *params // the caller's params are not modified
	}
	if p.PageSize == 0 {
		p.PageSize = DefaultWorkflowRunsPageSize
	}
	return pageThrough(ctx, p.Page, p.PageSize, "GET /v1/workflows/{id}/runs",
		func(page int) ([]*WorkflowRun, error) {
			p.Page = page
			return c.GetWorkflowRuns(ctx, workflowPermanentID, &p, opts...)
		},
		func(r *WorkflowRun) string { return r.WorkflowRunID })
}

// pageThrough yields the items of page after page, from page start (1 when
// 0), until a page is shorter than pageSize. A page with the same ids as the
// one before ends it with ErrMalformedResponse: a server that ignores the
// page parameter would otherwise be paged forever.
func pageThrough[T any](ctx context.Context, start, pageSize int, what string, fetch func(page int) ([]T, error), id func(T) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		page := max(start, 1)
		var prevIDs []string
		for {
			if err := contextErr(ctx); err != nil {
				yield(zero, err)
				return
			}
			items, err := fetch(page)
			if err != nil {
				yield(zero, err)
				return
			}
			ids := make([]string, len(items))
			for i, it := range items {
				ids[i] = id(it)
			}
			if len(ids) > 0 && slices.Equal(ids, prevIDs) {
				yield(zero, fmt.Errorf("skyvern: %s: %w: page %d repeats page %d", what, ErrMalformedResponse, page, page-1))
				return
			}
			prevIDs = ids
			for _, it := range items {
				if err := ctx.Err(); err != nil {
					yield(zero, err)
					return
				}
				if !yield(it, nil) {
					return
				}
			}
			if len(items) < pageSize {
				return
			}
			page++
		}
	}
}

// RetryWorkflowRunParams are the optional settings of RetryWorkflowRun.
type RetryWorkflowRunParams struct {
	// MaxStepsOverride caps the steps of the new run (the
	// x-max-steps-override header); at least 1 when set.
	MaxStepsOverride *int
}

// RetryWorkflowRun starts a new run of a finished workflow run's workflow with
// the original run's parameters (POST /v1/workflows/runs/{id}/retry) and
// returns the new run (a new wr_… id). The original must be terminal (else
// 400, ErrValidation). params may be nil.
//
// It starts billed work, so it follows RunTask's rule: never resent after an
// ambiguous failure, whose error matches ErrOutcomeUnknown.
// [Client.ResolveOutcome] and WithOutcomeResolution find the run exactly: the
// server records the original in the new run's retried_from_workflow_run_id,
// so resolution reads the original's workflow from GetRun and lists that
// workflow's runs (GetWorkflowRuns) for a retry of it; none after the
// settle time means none was created. The server keeps one retry per run
// and shares it with its own fallback retries (of a failed code-mode run,
// or with another credential): a fallback retry started within
// ResolveClockSkew before this call is taken for this call's (no resend
// could have started another retry of the run).
func (c *Client) RetryWorkflowRun(ctx context.Context, workflowRunID string, params *RetryWorkflowRunParams, opts ...RequestOption) (*Run, error) {
	if err := requireID("workflow_run_id", workflowRunID); err != nil {
		return nil, err
	}
	var p RetryWorkflowRunParams
	if params != nil {
		p = *params
	}
	if err := validateMaxStepsOverride(p.MaxStepsOverride); err != nil {
		return nil, err
	}
	return c.startRun(ctx, apiCall{method: http.MethodPost, path: c.endpoint("v1", "workflows", "runs", workflowRunID, "retry"),
		header: withMaxStepsOverride(nil, p.MaxStepsOverride)}, opts)
}
