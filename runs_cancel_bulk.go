package skyvern

import (
	"context"
	"fmt"
	"net/http"
)

// MaxBulkCancelRuns is the most run ids one BulkCancelRuns call takes.
const MaxBulkCancelRuns = 100

// BulkCancelResult is the answer of BulkCancelRuns.
type BulkCancelResult struct {
	// Cancelled lists the runs the server cancelled (a workflow run that
	// had already finished counts: the server leaves it as it was).
	Cancelled []string `json:"cancelled"`
	// Failed lists the runs the server could not cancel: an unknown id, a
	// task run that had already finished, or a webhook the server failed
	// to deliver during the cancel. The server does not say which; GetRun
	// or CancelRun on one id tells.
	Failed []string `json:"failed"`
	// Unreported lists ids that were sent but appear in neither list,
	// which a server that answers in full never leaves.
	Unreported []string `json:"-"`
}

// OK reports whether every id was cancelled.
func (r *BulkCancelResult) OK() bool { return len(r.Failed) == 0 && len(r.Unreported) == 0 }

// BulkCancelRuns cancels several runs in one request (POST /v1/runs/cancel
// with {"run_ids": [...]}), tasks and workflow runs alike, and reports which
// were cancelled and which were not. Duplicate ids are sent once; an empty
// list, an empty id, or more than MaxBulkCancelRuns distinct ids are refused
// before sending.
//
// Each cancel sends the run's webhook, so like CancelRun the call is not
// resent after an ambiguous failure (the error matches ErrOutcomeUnknown);
// cancelling again is harmless, so a caller may simply call it again.
func (c *Client) BulkCancelRuns(ctx context.Context, runIDs []string, opts ...RequestOption) (*BulkCancelResult, error) {
	ids := make([]string, 0, len(runIDs))
	seen := make(map[string]bool, len(runIDs))
	for i, id := range runIDs {
		if isBlank(id) {
			return nil, &InvalidRequestError{Field: fmt.Sprintf("run_ids[%d]", i), Reason: "must not be empty"}
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	switch {
	case len(ids) == 0:
		return nil, &InvalidRequestError{Field: "run_ids", Reason: "must name at least one run"}
	case len(ids) > MaxBulkCancelRuns:
		return nil, &InvalidRequestError{Field: "run_ids", Reason: fmt.Sprintf("has %d distinct ids; at most %d are allowed", len(ids), MaxBulkCancelRuns)}
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "runs", "cancel"), body: map[string][]string{"run_ids": ids}, class: retryUnsafe}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var out BulkCancelResult
	if err := decodeJSON(call, resp.body, &out); err != nil {
		return nil, err
	}
	reported := make(map[string]bool, len(out.Cancelled)+len(out.Failed))
	for _, id := range out.Cancelled {
		reported[id] = true
	}
	for _, id := range out.Failed {
		reported[id] = true
	}
	for _, id := range ids {
		if !reported[id] {
			out.Unreported = append(out.Unreported, id)
		}
	}
	return &out, nil
}
