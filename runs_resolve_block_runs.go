package skyvern

// Resolution of the calls that start a run other than RunTask and
// RunWorkflow: the block runs of RunLogin and RunDownloadFiles, and
// RetryWorkflowRun.

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

// blockField maps a field of a block-run request to the field of the
// generated workflow's block that holds it.
type blockField struct {
	sent, block string
	url         bool
}

// The request fields that the server copies into the generated block as
// sent. An unsent prompt becomes the server's default instructions, so it
// is compared only when sent.
var (
	loginBlockFields    = []blockField{{sent: "url", block: "url", url: true}, {sent: "prompt", block: "navigation_goal"}}
	downloadBlockFields = []blockField{{sent: "url", block: "url", url: true}, {sent: "navigation_goal", block: "navigation_goal"},
		{sent: "download_suffix", block: "download_suffix"}}
)

// verifyBlockRunWorkflow compares what a block run's echo leaves out (the
// URL, the prompt or goal, a Skyvern credential's id) with the workflow the
// server generated for the run. A workflow that cannot be read (a server
// that hides generated workflows) leaves the run a candidate: the echo
// matched, and attribution then rests on it alone.
func verifyBlockRunWorkflow(fields []blockField) func(context.Context, *resolver, *Run) (bool, error) {
	return func(ctx context.Context, r *resolver, run *Run) (bool, error) {
		var echoed struct {
			WorkflowID string `json:"workflow_id"`
		}
		if json.Unmarshal(run.RunRequest, &echoed) != nil || echoed.WorkflowID == "" {
			return true, nil
		}
		wf, err := r.c.GetWorkflow(ctx, echoed.WorkflowID, nil, r.opts...)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		var def struct {
			WorkflowDefinition struct {
				Parameters []map[string]any `json:"parameters"`
				Blocks     []map[string]any `json:"blocks"`
			} `json:"workflow_definition"`
		}
		if decodeLoose(wf.Raw, &def) != nil || len(def.WorkflowDefinition.Blocks) != 1 {
			return false, nil // not a generated one-block workflow
		}
		block := def.WorkflowDefinition.Blocks[0]
		for _, f := range fields {
			want, sent := r.sent[f.sent].(string)
			got, _ := block[f.block].(string)
			if !sent || want == "" {
				continue
			}
			if f.url {
				want, got = normalizeRequestURL(want), normalizeRequestURL(got)
			}
			if want != got {
				return false, nil
			}
		}
		if id, _ := r.sent["credential_id"].(string); id != "" && r.sent["credential_type"] == string(CredentialSkyvern) {
			for _, p := range def.WorkflowDefinition.Parameters {
				if v, ok := p["default_value"].(string); ok && p["key"] == "credential" && v != id {
					return false, nil
				}
			}
		}
		return true, nil
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
