package skyvern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func attemptRun(status skyvern.RunStatus, attempt int, pending bool) string {
	return fmt.Sprintf(`{"run_id":"wr_1","status":%q,"output":null,"run_type":"workflow_run","attempt":%d,"retry_pending":%t,"next_attempt_at":null,"attempts":[],"created_at":"2026-09-20T10:00:00","modified_at":"2026-09-20T10:00:00"}`,
		status, attempt, pending)
}

// Before attempt-aware waiting, the first attempt's failed was returned as
// the result.
func TestWaitForRunWaitsThroughPendingRetry(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var polls atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&polls,
		status(200, attemptRun(skyvern.RunStatusRunning, 1, false)),
		status(200, attemptRun(skyvern.RunStatusFailed, 1, true)),
		status(200, attemptRun(skyvern.RunStatusQueued, 2, false)),
		status(200, attemptRun(skyvern.RunStatusRunning, 2, false)),
		status(200, attemptRun(skyvern.RunStatusCompleted, 2, false)),
	))
	run, err := c.WaitForRun(context.Background(), "wr_1", fastPolls)
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
	assert.Equal(t, 2, run.Attempt)
	assert.True(t, run.IsFinal())
	assert.EqualValues(t, 5, polls.Load())
}

func TestWaitForRunDeadlineDuringPendingRetry(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/wr_1", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, attemptRun(skyvern.RunStatusFailed, 1, true))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	run, err := c.WaitForRun(ctx, "wr_1", fastPolls)
	var we *skyvern.WaitError
	require.ErrorAs(t, err, &we)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, skyvern.RunStatusFailed, we.LastStatus)
	require.NotNil(t, run, "the last run seen comes back with the error")
	assert.True(t, run.RetryPending)
	assert.False(t, run.IsFinal())
}

func TestRetryRunWebhookNotFinal(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1/retry_webhook", func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusConflict, `{"detail":"Webhook replay for run wr_1 is unavailable until it is final."}`)
	})
	replay, err := c.RetryRunWebhook(context.Background(), "wr_1", nil)
	assert.Nil(t, replay)
	assert.ErrorIs(t, err, skyvern.ErrRunNotFinal)
	assert.ErrorIs(t, err, skyvern.ErrConflict)
	assert.NotErrorIs(t, err, skyvern.ErrOutcomeUnknown, "a refusal is no ambiguity")
	var apiErr *skyvern.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusConflict, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "until it is final")
	assert.EqualValues(t, 1, calls.Load(), "a 409 is never retried blindly")

	// Other conflicts of other calls are not ErrRunNotFinal.
	mux.HandleFunc("/v1/runs/wr_2/cancel", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusConflict, `{"detail":"conflict"}`)
	})
	err = c.CancelRun(context.Background(), "wr_2")
	assert.ErrorIs(t, err, skyvern.ErrConflict)
	assert.NotErrorIs(t, err, skyvern.ErrRunNotFinal)
}

func TestRunRequestsFileIDsAndBrowserType(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/run/tasks", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"prompt":"Read the invoice","file_ids":["file_1","file_2"]}`)
		writeJSON(w, 200, `{"run_id":"tsk_1","status":"created","run_type":"task_v1"}`)
	})
	mux.HandleFunc("/v1/run/workflows", func(w http.ResponseWriter, r *http.Request) {
		stripClientRequestID(t, r)
		testJSONBody(t, r, `{"workflow_id":"wpid_1","browser_type":"stealth-chromium","file_ids":["file_1"]}`)
		writeJSON(w, 200, `{"run_id":"wr_1","status":"created","run_type":"workflow_run"}`)
	})
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "Read the invoice", FileIDs: []string{"file_1", "file_2"}})
	require.NoError(t, err)
	_, err = c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1",
		BrowserType: skyvern.BrowserTypeStealthChromium, FileIDs: []string{"file_1"}})
	require.NoError(t, err)

	// Echoed in run_request, the new keys decode back.
	var echoed skyvern.WorkflowRunRequest
	require.NoError(t, json.Unmarshal([]byte(`{"workflow_id":"wpid_1","ai_fallback":null,"run_with":null,"browser_type":"msedge","run_metadata":null,"file_ids":["f"]}`), &echoed))
	assert.Equal(t, skyvern.BrowserTypeMSEdge, echoed.BrowserType)
	assert.Equal(t, []string{"f"}, echoed.FileIDs)
}

func TestRunRequestsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { t.Error("refused requests must not be sent") })
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("file_%d", i)
	}
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"task file_ids over 50", func() error {
			_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p", FileIDs: tooMany})
			return err
		}, "file_ids"},
		{"workflow file_ids over 50", func() error {
			_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", FileIDs: tooMany})
			return err
		}, "file_ids"},
		{"blank file id", func() error {
			_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p", FileIDs: []string{"file_1", " "}})
			return err
		}, "file_ids[1]"},
		{"browser_type with a session", func() error {
			_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1",
				BrowserType: skyvern.BrowserTypeChrome, BrowserSessionID: "pbs_1"})
			return err
		}, "browser_type"},
		{"browser_type with an address", func() error {
			_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1",
				BrowserType: "firefox", BrowserAddress: "ws://127.0.0.1:9222"})
			return err
		}, "browser_type"},
	}
	for _, tc := range cases {
		err := tc.call()
		var invalid *skyvern.InvalidRequestError
		require.ErrorAs(t, err, &invalid, tc.name)
		assert.Equal(t, tc.field, invalid.Field, tc.name)
		assert.ErrorIs(t, err, skyvern.ErrValidation, tc.name)
	}
	// exactly 50 files and an unknown browser type alone pass validation.
	var sent atomic.Bool
	c2, mux2, _ := setup(t)
	mux2.HandleFunc("/v1/run/workflows", func(w http.ResponseWriter, _ *http.Request) {
		sent.Store(true)
		writeJSON(w, 200, `{"run_id":"wr_1","status":"created","run_type":"workflow_run"}`)
	})
	_, err := c2.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", BrowserType: "firefox", FileIDs: tooMany[:50]})
	require.NoError(t, err)
	assert.True(t, sent.Load())
}

func retryDefinition(p *skyvern.RetryPolicy) *skyvern.WorkflowRequest {
	return &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
		Title:              "Invoice Downloader",
		WorkflowDefinition: skyvern.WorkflowDefinitionBody{RetryPolicy: p},
	}}
}

func TestRetryPolicyValidation(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { t.Error("refused requests must not be sent") })
	failed := []skyvern.RetryRule{{Status: skyvern.RunStatusFailed}}
	const at = "json_definition.workflow_definition.retry_policy"
	cases := []struct {
		name   string
		policy skyvern.RetryPolicy
		field  string
	}{
		{"negative max_retries", skyvern.RetryPolicy{MaxRetries: -1, RetryOn: failed}, at + ".max_retries"},
		{"negative delay", skyvern.RetryPolicy{MaxRetries: 1, DelaySeconds: -5, RetryOn: failed}, at + ".delay_seconds"},
		{"unknown webhook mode", skyvern.RetryPolicy{MaxRetries: 1, WebhookOnRetry: "sometimes", RetryOn: failed}, at + ".webhook_on_retry"},
		{"no rule", skyvern.RetryPolicy{MaxRetries: 1}, at + ".retry_on"},
		{"rule without status", skyvern.RetryPolicy{MaxRetries: 1, RetryOn: []skyvern.RetryRule{{ErrorCodes: []string{"E"}}}}, at + ".retry_on[0].status"},
	}
	for _, tc := range cases {
		_, err := c.CreateWorkflow(context.Background(), retryDefinition(&tc.policy))
		var invalid *skyvern.InvalidRequestError
		require.ErrorAs(t, err, &invalid, tc.name)
		assert.Equal(t, tc.field, invalid.Field, tc.name)
	}
}

func TestRetryPolicyWire(t *testing.T) {
	t.Parallel()
	// Built in Go: the numbers are always sent, so 0 retries means none
	// rather than the server's default of one.
	b, err := json.Marshal(skyvern.RetryPolicy{RetryOn: []skyvern.RetryRule{{Status: skyvern.RunStatusFailed}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"max_retries":0,"delay_seconds":0,"retry_on":[{"status":"failed"}]}`, string(b))

	// Read from the server: kept as received, untouched fields byte for
	// byte, including what the typed fields do not model.
	const stored = `{"version":1,"parameters":[],"blocks":[],"retry_policy":{"max_retries":2,"delay_seconds":30,"webhook_on_retry":"every_attempt","retry_on":[{"status":"failed","error_codes":null,"note":"kept"},{"status":"timed_out","error_codes":["SLOW"]}],"x_future":true}}`
	var body skyvern.WorkflowDefinitionBody
	require.NoError(t, json.Unmarshal([]byte(stored), &body))
	p := body.RetryPolicy
	require.NotNil(t, p)
	assert.Equal(t, 2, p.MaxRetries)
	assert.Equal(t, 30, p.DelaySeconds)
	assert.Equal(t, skyvern.WebhookOnRetryEveryAttempt, p.WebhookOnRetry)
	require.Len(t, p.RetryOn, 2)
	assert.Equal(t, skyvern.RunStatusTimedOut, p.RetryOn[1].Status)
	assert.Equal(t, []string{"SLOW"}, p.RetryOn[1].ErrorCodes)
	out, err := json.Marshal(body)
	require.NoError(t, err)
	assert.Equal(t, stored, string(out), "untouched, the definition encodes back as it came")

	p.MaxRetries = 3
	p.RetryOn[1].ErrorCodes = append(p.RetryOn[1].ErrorCodes, "SLOWER")
	out, err = json.Marshal(body)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	policy := got["retry_policy"].(map[string]any)
	assert.EqualValues(t, 3, policy["max_retries"])
	assert.Equal(t, true, policy["x_future"], "unmodelled keys survive an edit")
	rules := policy["retry_on"].([]any)
	assert.Equal(t, "kept", rules[0].(map[string]any)["note"])
	assert.Contains(t, rules[0].(map[string]any), "error_codes", "the explicit null stays")
	assert.Equal(t, []any{"SLOW", "SLOWER"}, rules[1].(map[string]any)["error_codes"])
}

func TestWorkflowDefinitionBrowserType(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/workflows", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		assert.Equal(t, "msedge", body["json_definition"]["browser_type"])
		writeJSON(w, 200, `{"workflow_id":"w_1","workflow_permanent_id":"wpid_1","title":"t","version":1}`)
	})
	req := retryDefinition(&skyvern.RetryPolicy{MaxRetries: 1, RetryOn: []skyvern.RetryRule{{Status: skyvern.RunStatusFailed}}})
	req.JSONDefinition.BrowserType = skyvern.BrowserTypeMSEdge
	_, err := c.CreateWorkflow(context.Background(), req)
	require.NoError(t, err)
}
