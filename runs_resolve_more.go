package skyvern

import (
	"context"
	"encoding/json"
	"errors"
)

// The titles the server gives the one-block workflows it generates for
// RunLogin and RunDownloadFiles; the runs list and echo them.
const (
	loginWorkflowTitle         = "Login"
	downloadFilesWorkflowTitle = "File Download"
)

// The fields of a block run (LoginRequest, DownloadFilesRequest) that
// get_run echoes. The server generates a new workflow per call and passes
// only these settings to the run; the URL, the prompt or navigation goal
// and the credential go into the workflow's block and are not echoed.
// start_fresh_browser is not passed on, so it always echoes false and
// cannot be compared.
var blockRunEchoFields = []echoField{
	{key: "proxy_location", def: string(ProxyResidential)}, {key: "webhook_url", url: true},
	{key: "totp_url", url: true},
	// A Skyvern credential's own TOTP identifier is used when none is sent.
	{key: "totp_identifier", inherited: true},
	{key: "browser_session_id"}, {key: "browser_profile_id"}, {key: "browser_address"},
	{key: "max_screenshot_scrolls", sentKey: "max_screenshot_scrolling_times", inherited: true},
}

// blockRunListing narrows the listing to workflow runs: a block run's
// workflow is new, so no workflow id can narrow it further, and the search
// key does not reach a workflow's title.
func blockRunListing(map[string]any) ListRunsParams {
	return ListRunsParams{RunTypes: []RunType{RunTypeWorkflowRun}}
}

// blockRunTitleDiffers rejects listed runs of workflows other than the
// generated one.
func blockRunTitleDiffers(title string) func(map[string]any, *RunListItem) bool {
	return func(_ map[string]any, item *RunListItem) bool {
		return item.Title != "" && item.Title != title
	}
}

// blockRunMatcher compares a block run's echo with what was sent; the
// echo's title names the generated workflow.
func blockRunMatcher(title string) func(sent, echoed map[string]any) bool {
	return func(sent, echoed map[string]any) bool {
		if t, ok := echoed["title"].(string); ok && t != title {
			return false
		}
		return echoMatches(blockRunEchoFields, sent, echoed)
	}
}

// undecidableError stops a resolution whose answer the server's data cannot
// give.
type undecidableError struct{ reason string }

func (e *undecidableError) Error() string { return e.reason }

// findWorkflowRetry finds the runs that retry the workflow run in the path:
// the server records the original in each retry's
// retried_from_workflow_run_id, which the workflow's run list shows.
func findWorkflowRetry(ctx context.Context, r *resolver) ([]*Run, error) {
	orig, err := r.c.GetRun(ctx, r.pathParams[0], r.opts...)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // the server refuses to retry a run it does not have
	}
	if err != nil {
		return nil, err
	}
	if orig.RunType != RunTypeWorkflowRun {
		return nil, nil // only workflow runs can be retried
	}
	var echoed struct {
		WorkflowID string `json:"workflow_id"`
	}
	if json.Unmarshal(orig.RunRequest, &echoed) != nil || echoed.WorkflowID == "" {
		return nil, &undecidableError{reason: "the retried run does not name its workflow, whose runs would show the retry"}
	}
	from := r.windowStart()
	params := &GetWorkflowRunsParams{PageSize: MaxRunsPageSize, CreatedAtStart: from}
	var found []*Run
	for wr, err := range r.c.AllWorkflowRuns(ctx, echoed.WorkflowID, params, r.opts...) {
		if err != nil {
			return nil, err
		}
		if wr.CreatedAt.Before(from) {
			break // newest first, and a server may ignore the bound
		}
		if wr.RetriedFromWorkflowRunID != orig.RunID || r.c.ledger.claimedElsewhere(wr.WorkflowRunID, r.ue) {
			continue
		}
		run, err := r.getCandidate(ctx, wr.WorkflowRunID)
		if err != nil {
			return nil, err
		}
		if run != nil {
			found = append(found, run)
		}
	}
	return found, nil
}

// getCandidate reads a listed run; nil, nil when it is gone (deleted
// since it was listed).
func (r *resolver) getCandidate(ctx context.Context, runID string) (*Run, error) {
	run, err := r.c.GetRun(ctx, runID, r.opts...)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return run, err
}

// startRun sends a run-creating call in the class of RunTask through
// createRun, so that it joins the ledger and automatic resolution.
func (c *Client) startRun(ctx context.Context, call apiCall, opts []RequestOption) (*Run, error) {
	call.class = retryUnsafe
	rc := c.newRequestConfig(opts)
	return c.createRun(ctx, call, &rc)
}
