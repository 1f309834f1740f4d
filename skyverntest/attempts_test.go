package skyverntest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// retryWorkflowBody is a create body whose definition carries policy.
func retryWorkflowBody(policy any) map[string]any {
	return map[string]any{"json_definition": map[string]any{
		"title": "Invoice Downloader",
		"workflow_definition": map[string]any{
			"parameters": []any{}, "blocks": []any{},
			"retry_policy": policy,
		},
	}}
}

// startRetryRun creates a workflow with policy and runs it, its webhook
// going to hook ("" for none).
func startRetryRun(t *testing.T, s *Server, policy map[string]any, hook string) string {
	t.Helper()
	resp := doRequest(t, s, http.MethodPost, "/v1/workflows", retryWorkflowBody(policy))
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	body := map[string]any{"workflow_id": resp.object(t)["workflow_permanent_id"]}
	if hook != "" {
		body["webhook_url"] = hook
	}
	run := doRequest(t, s, http.MethodPost, "/v1/run/workflows", body)
	require.Equal(t, http.StatusOK, run.status, "%s", run.body)
	return run.object(t)["run_id"].(string)
}

func getRun(t *testing.T, s *Server, id string) map[string]any {
	t.Helper()
	resp := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	return resp.object(t)
}

func decisions(run map[string]any) []any {
	var out []any
	for _, a := range run["attempts"].([]any) {
		out = append(out, a.(map[string]any)["retry_decision"])
	}
	return out
}

func TestRetryPolicyStoredAndValidated(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	resp := doRequest(t, s, http.MethodPost, "/v1/workflows", retryWorkflowBody(map[string]any{
		"retry_on": []any{map[string]any{"status": "failed"}},
	}))
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	assert.JSONEq(t, `{"max_retries":1,"delay_seconds":0,"webhook_on_retry":"final_only","retry_on":[{"status":"failed","error_codes":null}]}`,
		string(subObject(t, subObject(t, resp.body, "workflow_definition"), "retry_policy")), "defaults filled in")

	loc := []any{"body", "json_definition", "workflow_definition", "retry_policy"}
	cases := []struct {
		name   string
		policy any
		typ    string
		loc    []any
	}{
		{"unknown key", map[string]any{"retry_on": []any{}, "max_attempts": 3}, "extra_forbidden", append(loc[:4:4], "max_attempts")},
		{"unknown webhook mode", map[string]any{"webhook_on_retry": "sometimes"}, "enum", append(loc[:4:4], "webhook_on_retry")},
		{"negative retries", map[string]any{"max_retries": -1}, "greater_than_equal", append(loc[:4:4], "max_retries")},
		{"rule without status", map[string]any{"retry_on": []any{map[string]any{"error_codes": []any{"E"}}}}, "missing", append(loc[:4:4], "retry_on", 0, "status")},
		{"unknown key in a rule", map[string]any{"retry_on": []any{map[string]any{"status": "failed", "why": 1}}}, "extra_forbidden", append(loc[:4:4], "retry_on", 0, "why")},
	}
	for _, tc := range cases {
		resp := doRequest(t, s, http.MethodPost, "/v1/workflows", retryWorkflowBody(tc.policy))
		require.Equal(t, http.StatusUnprocessableEntity, resp.status, "%s: %s", tc.name, resp.body)
		var body struct {
			Detail []struct {
				Type string `json:"type"`
				Loc  []any  `json:"loc"`
			} `json:"detail"`
		}
		require.NoError(t, json.Unmarshal(resp.body, &body), tc.name)
		require.NotEmpty(t, body.Detail, tc.name)
		assert.Equal(t, tc.typ, body.Detail[0].Type, tc.name)
		assert.Equal(t, fmt.Sprint(tc.loc), fmt.Sprint(body.Detail[0].Loc), tc.name)
	}
}

func TestRetryBudgetAndInterimWebhooks(t *testing.T) {
	t.Parallel()
	fail := func(RunSnapshot, int) Outcome {
		return Outcome{Status: skyvern.RunStatusFailed, ErrorCodes: []string{"E1"}}
	}
	s := newTestServer(t, fastDelivery(), WithRetryDelayScale(0), WithAutoAdvanceFunc(time.Millisecond, fail))
	rc := newReceiver(t)
	id := startRetryRun(t, s, map[string]any{"max_retries": 2, "webhook_on_retry": "every_attempt",
		"retry_on": []any{map[string]any{"status": "failed", "error_codes": []any{"E1"}}}}, rc.url)

	snap, err := s.WaitForFinal(waitCtx(t), id)
	require.NoError(t, err)
	assert.Equal(t, 3, snap.Attempt, "one attempt and max_retries retries")
	assert.False(t, snap.RetryPending)
	run := getRun(t, s, id)
	assert.Equal(t, []any{"retry", "retry", "final"}, decisions(run))
	assert.EqualValues(t, 3, run["attempt"])
	assert.Equal(t, false, run["retry_pending"])

	ds, err := s.WaitForDeliveries(waitCtx(t), id, 3)
	require.NoError(t, err)
	// Deliveries run in the background and may finish out of order.
	seen := map[int]bool{}
	for _, d := range ds {
		var p struct {
			Attempt      int    `json:"attempt"`
			RetryPending bool   `json:"retry_pending"`
			Status       string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(d.Attempts[0].Body, &p))
		seen[p.Attempt] = true
		assert.Equal(t, p.Attempt < 3, p.RetryPending, "attempt %d", p.Attempt)
		assert.Equal(t, p.Attempt < 3, d.Interim, "attempt %d", p.Attempt)
		assert.Equal(t, "failed", p.Status, "every attempt failed alike")
	}
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true}, seen)
}

func TestCancelIsNeverRetried(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())
	rc := newReceiver(t)
	policy := map[string]any{"max_retries": 3, "delay_seconds": 3600, "webhook_on_retry": "every_attempt",
		"retry_on": []any{map[string]any{"status": "canceled"}, map[string]any{"status": "failed"}}}

	// Canceled while running: final at once, even with a rule for it.
	id := startRetryRun(t, s, policy, rc.url)
	require.NoError(t, s.Cancel(id))
	run := getRun(t, s, id)
	assert.Equal(t, "canceled", run["status"])
	assert.Equal(t, false, run["retry_pending"])
	assert.Equal(t, []any{"final"}, decisions(run))

	// Canceled between attempts: the pending retry is revoked.
	id = startRetryRun(t, s, policy, rc.url)
	require.NoError(t, s.Fail(id, "captcha"))
	_, err := s.WaitForDelivery(waitCtx(t), id) // the interim webhook, sent in the background
	require.NoError(t, err)
	run = getRun(t, s, id)
	assert.Equal(t, "failed", run["status"])
	assert.Equal(t, true, run["retry_pending"])
	assert.NotNil(t, run["next_attempt_at"])
	assert.ErrorIs(t, s.Complete(id, nil), ErrRunFinished, "only a cancel ends a pending retry")
	resp := doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/cancel", nil)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	run = getRun(t, s, id)
	assert.Equal(t, "canceled", run["status"])
	assert.Equal(t, false, run["retry_pending"])
	assert.Nil(t, run["next_attempt_at"])
	assert.Equal(t, []any{"revoked"}, decisions(run))
	assert.ErrorIs(t, s.StartNextAttempt(id), ErrNoRetryPending)
	ds, err := s.WaitForDeliveries(waitCtx(t), id, 2)
	require.NoError(t, err)
	assert.True(t, ds[0].Interim)
	assert.False(t, ds[1].Interim)
	assert.Contains(t, string(ds[1].Attempts[0].Body), `"status":"canceled"`)
}

func TestRetryRuleErrorCodes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	policy := map[string]any{"max_retries": 1, "delay_seconds": 3600,
		"retry_on": []any{map[string]any{"status": "failed", "error_codes": []any{"RATE_LIMITED"}}}}
	for _, tc := range []struct {
		codes []string
		retry bool
	}{{[]string{"LOGIN_FAILED"}, false}, {[]string{"LOGIN_FAILED", "RATE_LIMITED"}, true}, {nil, false}} {
		id := startRetryRun(t, s, policy, "")
		require.NoError(t, s.Finish(id, Outcome{Status: skyvern.RunStatusFailed, ErrorCodes: tc.codes}))
		run := getRun(t, s, id)
		assert.Equal(t, tc.retry, run["retry_pending"], "codes %v", tc.codes)
		attempt := run["attempts"].([]any)[0].(map[string]any)
		assert.Equal(t, fmt.Sprint(append([]string{}, tc.codes...)), fmt.Sprint(attempt["error_codes"]))
	}
}

func TestReplayWhileRetryPendingIs409(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())
	rc := newReceiver(t)
	id := startRetryRun(t, s, map[string]any{"max_retries": 1, "delay_seconds": 3600,
		"retry_on": []any{map[string]any{"status": "failed"}}}, rc.url)
	require.NoError(t, s.Fail(id, "captcha"))
	resp := doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", nil)
	assert.Equal(t, http.StatusConflict, resp.status)
	assert.Contains(t, string(resp.body), "unavailable until it is final")

	require.NoError(t, s.StartNextAttempt(id))
	run := getRun(t, s, id)
	assert.Equal(t, "queued", run["status"])
	assert.EqualValues(t, 2, run["attempt"])
	assert.Nil(t, run["finished_at"])
	require.NoError(t, s.Complete(id, "done"))
	_, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	resp = doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", nil)
	assert.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	_, bodies := rc.received()
	require.Len(t, bodies, 2, "final_only: no interim webhook; then the replay")
	assert.Contains(t, string(bodies[1]), `"attempt":2`)
}

func TestPolicyWorkflowDeliveryBudget(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())
	rc := newReceiver(t, http.StatusInternalServerError)
	withPolicy := startRetryRun(t, s, map[string]any{"max_retries": 0, "retry_on": []any{map[string]any{"status": "failed"}}}, rc.url)
	plain := startRetryRun(t, s, nil, rc.url)
	require.NoError(t, s.Fail(withPolicy, "boom"))
	require.NoError(t, s.Fail(plain, "boom"))
	d, err := s.WaitForDelivery(waitCtx(t), withPolicy)
	require.NoError(t, err)
	assert.Len(t, d.Attempts, 45, "15 calls of 3 requests for a workflow with a retry policy")
	assert.Contains(t, d.FailureReason, "status code 500")
	d, err = s.WaitForDelivery(waitCtx(t), plain)
	require.NoError(t, err)
	assert.Len(t, d.Attempts, 3)
	run := getRun(t, s, withPolicy)
	assert.Nil(t, run["attempts"].([]any)[0].(map[string]any)["webhook_sent_at"], "set only on success")
}

// PR #8566: a workflow run that fails before it starts executing still
// sends its webhook.
func TestWorkflowFailingBeforeItStartsSendsWebhook(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())
	rc := newReceiver(t)
	id := startRetryRun(t, s, nil, rc.url)
	require.NoError(t, s.Fail(id, "Workflow could not be started: no browser available"))
	d, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	assert.Equal(t, "", d.FailureReason)
	assert.Contains(t, string(d.Attempts[0].Body), "no browser available")
}

func TestRunRequestBrowserTypeAndFileIDs(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	wpid := createWorkflow(t, s, map[string]any{"browser_type": "chrome"})
	wf := doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid, nil)
	assert.Equal(t, "chrome", wf.object(t)["browser_type"])

	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("file_%d", i)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		typ  string
	}{
		{"unknown browser", map[string]any{"browser_type": "firefox"}, "enum"},
		{"browser with a session", map[string]any{"browser_type": "msedge", "browser_session_id": "pbs_1"}, "value_error"},
		{"browser with an address", map[string]any{"browser_type": "msedge", "browser_address": "ws://127.0.0.1:9222"}, "value_error"},
		{"too many files", map[string]any{"file_ids": many}, "too_long"},
	} {
		tc.body["workflow_id"] = wpid
		resp := doRequest(t, s, http.MethodPost, "/v1/run/workflows", tc.body)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status, "%s: %s", tc.name, resp.body)
		assert.Contains(t, string(resp.body), `"type":"`+tc.typ+`"`, tc.name)
	}
	resp := doRequest(t, s, http.MethodPost, "/v1/run/tasks", map[string]any{"prompt": "p", "file_ids": many})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.status)

	resp = doRequest(t, s, http.MethodPost, "/v1/run/workflows", map[string]any{
		"workflow_id": wpid, "browser_type": "stealth-chromium", "file_ids": []string{"file_1"}})
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	run := getRun(t, s, resp.object(t)["run_id"].(string))
	req := run["run_request"].(map[string]any)
	assert.Equal(t, "stealth-chromium", req["browser_type"])
	assert.Equal(t, []any{"file_1"}, req["file_ids"])
}

func TestAutoAdvanceFuncDecidesPerRun(t *testing.T) {
	t.Parallel()
	outcome := func(run RunSnapshot, attempt int) Outcome {
		if strings.Contains(string(run.Request), "refund") {
			return Outcome{Status: skyvern.RunStatusFailed, FailureReason: fmt.Sprintf("refused on attempt %d", attempt)}
		}
		return Completed(map[string]any{"total": 42})
	}
	s := newTestServer(t, WithAutoAdvanceFunc(time.Millisecond, outcome))
	refund := startTask(t, s, map[string]any{"prompt": "Ask for a refund"})
	invoice := startTask(t, s, map[string]any{"prompt": "Download the invoice"})
	for id, want := range map[string]skyvern.RunStatus{refund: skyvern.RunStatusFailed, invoice: skyvern.RunStatusCompleted} {
		snap, err := s.WaitForFinal(waitCtx(t), id)
		require.NoError(t, err)
		assert.Equal(t, want, snap.Status)
		assert.Equal(t, 1, snap.Attempt)
	}
	snap, _ := s.Run(refund)
	assert.Equal(t, "refused on attempt 1", snap.FailureReason)
}
