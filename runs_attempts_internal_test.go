package skyvern

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attemptBody is a workflow run webhook for one attempt, with the fields a
// server with retry policies adds.
func attemptBody(runID string, status RunStatus, attempt int, pending bool) []byte {
	return []byte(fmt.Sprintf(`{"run_id":%q,"status":%q,"output":null,"run_type":"workflow_run",`+
		`"attempt":%d,"retry_pending":%t,"next_attempt_at":null,"attempts":[],`+
		`"created_at":"2026-09-20T10:00:00","modified_at":"2026-09-20T10:05:00"}`, runID, status, attempt, pending))
}

const fullAttemptsJSON = `{"run_id":"wr_7","status":"failed","output":null,"run_type":"workflow_run",
	"attempt":2,"retry_pending":true,"next_attempt_at":"2026-09-20T10:06:00",
	"attempts":[
		{"attempt_number":1,"status":"failed","failure_reason":"login page changed","error_codes":["LOGIN_FAILED"],
		 "started_at":"2026-09-20T10:00:01","finished_at":"2026-09-20T10:01:00","retry_decision":"retry",
		 "decision_reason":"matched retry_on","next_attempt_at":"2026-09-20T10:02:00","webhook_sent_at":"2026-09-20T10:01:01.5"},
		{"attempt_number":2,"status":"failed","failure_reason":null,"error_codes":[],"started_at":"2026-09-20T10:02:01",
		 "finished_at":"2026-09-20T10:05:00","retry_decision":null,"decision_reason":null,"next_attempt_at":null,"webhook_sent_at":null}],
	"created_at":"2026-09-20T10:00:00","modified_at":"2026-09-20T10:05:00"}`

func mustTime(t *testing.T, s string) *Time {
	t.Helper()
	tm, err := ParseTime(s)
	require.NoError(t, err)
	return &tm
}

func wantAttempts(t *testing.T) []RunAttempt {
	return []RunAttempt{
		{
			AttemptNumber: 1, Status: RunStatusFailed, FailureReason: "login page changed", ErrorCodes: []string{"LOGIN_FAILED"},
			StartedAt: mustTime(t, "2026-09-20T10:00:01"), FinishedAt: mustTime(t, "2026-09-20T10:01:00"),
			RetryDecision: RetryDecisionRetry, DecisionReason: "matched retry_on",
			NextAttemptAt: mustTime(t, "2026-09-20T10:02:00"), WebhookSentAt: mustTime(t, "2026-09-20T10:01:01.5"),
		},
		{
			AttemptNumber: 2, Status: RunStatusFailed, ErrorCodes: []string{},
			StartedAt: mustTime(t, "2026-09-20T10:02:01"), FinishedAt: mustTime(t, "2026-09-20T10:05:00"),
		},
	}
}

func TestRunDecodesAttemptFields(t *testing.T) {
	t.Parallel()
	var run Run
	require.NoError(t, json.Unmarshal([]byte(fullAttemptsJSON), &run))
	assert.Equal(t, 2, run.Attempt)
	assert.True(t, run.RetryPending)
	assert.Equal(t, mustTime(t, "2026-09-20T10:06:00"), run.NextAttemptAt)
	if diff := cmp.Diff(wantAttempts(t), run.Attempts); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	assert.True(t, run.IsTerminal())
	assert.False(t, run.IsFinal(), "failed with a retry pending is not the end")
}

func TestPayloadDecodesAttemptFields(t *testing.T) {
	t.Parallel()
	p, err := decodePayload([]byte(fullAttemptsJSON))
	require.NoError(t, err)
	assert.Equal(t, 2, p.Attempt)
	assert.True(t, p.RetryPending)
	assert.Equal(t, mustTime(t, "2026-09-20T10:06:00"), p.NextAttemptAt)
	if diff := cmp.Diff(wantAttempts(t), p.Attempts); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	assert.False(t, p.IsFinal())

	_, err = decodePayload([]byte(`{"run_id":"wr_1","status":"failed","next_attempt_at":"tomorrow"}`))
	var pe *PayloadError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "next_attempt_at", pe.Field)
}

// A server without retry policies sends none of the new fields: everything
// behaves as it did, attempt 1 and final at any terminal status.
func TestWithoutAttemptFieldsNothingChanges(t *testing.T) {
	t.Parallel()
	for _, st := range []RunStatus{RunStatusCreated, RunStatusQueued, RunStatusRunning, RunStatusPaused,
		RunStatusCompleted, RunStatusFailed, RunStatusTerminated, RunStatusTimedOut, RunStatusCanceled, "future_status"} {
		body := deliveryBody("tsk_old", st)
		var run Run
		require.NoError(t, json.Unmarshal(body, &run))
		p, err := decodePayload(body)
		require.NoError(t, err)
		assert.Equal(t, 1, run.Attempt, st)
		assert.Equal(t, 1, p.Attempt, st)
		assert.Equal(t, st.IsTerminal(), run.IsFinal(), st)
		assert.Equal(t, st.IsTerminal(), p.IsFinal(), st)
		assert.Equal(t, "tsk_old:"+string(st), p.IdempotencyKey(), "the key of earlier versions")
	}
}

func TestIsFinal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status  RunStatus
		pending bool
		final   bool
	}{
		{RunStatusCompleted, false, true},
		{RunStatusFailed, false, true},
		{RunStatusFailed, true, false},
		{RunStatusTimedOut, true, false},
		{RunStatusRunning, false, false},
		{RunStatusPaused, false, false},
		{RunStatusCanceled, false, true},
	}
	for _, tc := range cases {
		run := Run{Status: tc.status, RetryPending: tc.pending}
		p := WebhookPayload{Status: tc.status, RetryPending: tc.pending}
		assert.Equal(t, tc.final, run.IsFinal(), "%s pending=%t", tc.status, tc.pending)
		assert.Equal(t, tc.final, p.IsFinal(), "%s pending=%t", tc.status, tc.pending)
	}
}

func TestIdempotencyKeyPerAttempt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"attempt 1 final: unchanged", attemptBody("wr_1", RunStatusFailed, 1, false), "wr_1:failed"},
		{"attempt 1 interim", attemptBody("wr_1", RunStatusFailed, 1, true), "wr_1:failed:interim"},
		{"attempt 2 final", attemptBody("wr_1", RunStatusFailed, 2, false), "wr_1:failed:attempt-2"},
		{"attempt 2 interim", attemptBody("wr_1", RunStatusFailed, 2, true), "wr_1:failed:attempt-2:interim"},
		{"attempt 3 completed", attemptBody("wr_1", RunStatusCompleted, 3, false), "wr_1:completed:attempt-3"},
		{"attempt 0 reads as 1", attemptBody("wr_1", RunStatusCompleted, 0, false), "wr_1:completed"},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		p, err := decodePayload(tc.body)
		require.NoError(t, err, tc.name)
		key := p.IdempotencyKey()
		assert.Equal(t, tc.want, key, tc.name)
		if prev, dup := seen[key]; dup && tc.name != "attempt 0 reads as 1" {
			t.Errorf("%s and %s share key %s", prev, tc.name, key)
		}
		seen[key] = tc.name
	}
}

// recordingFn records the payloads a handler function or hook receives.
type recordingFn struct {
	mu    sync.Mutex
	got   []*WebhookPayload
	fails int // calls still to fail
}

func (r *recordingFn) fn(_ context.Context, p *WebhookPayload) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
	if r.fails > 0 {
		r.fails--
		return errors.New("queue unavailable")
	}
	return nil
}

func (r *recordingFn) payloads() []*WebhookPayload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*WebhookPayload(nil), r.got...)
}

// The defect of issue 10: an interim failed and a final failed share
// (run_id, status), and the final outcome was dropped as a duplicate of the
// interim one, which fn had taken for the result.
func TestHandlerProcessesFinalAfterInterimWithSameStatus(t *testing.T) {
	t.Parallel()
	var fn, hook recordingFn
	var notified []*WebhookPayload
	hub := MustRunHub(t)
	h := mustWebhook(t, testKey).Handler(fn.fn, WithInterimHook(hook.fn), WithRunHub(hub),
		WithNotify(func(p *WebhookPayload) { notified = append(notified, p) }))

	interim := attemptBody("wr_retry", RunStatusFailed, 1, true)
	final := attemptBody("wr_retry", RunStatusFailed, 2, false)
	for _, body := range [][]byte{interim, interim, final, final} {
		require.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	}
	got := fn.payloads()
	require.Len(t, got, 1, "fn sees the final outcome once")
	assert.Equal(t, 2, got[0].Attempt)
	assert.False(t, got[0].RetryPending)
	interims := hook.payloads()
	require.Len(t, interims, 1, "the interim hook sees attempt 1 once: interim deliveries are deduplicated too")
	assert.Equal(t, 1, interims[0].Attempt)
	assert.True(t, interims[0].RetryPending)
	require.Len(t, notified, 2, "notify hears the final delivery and its duplicate, never the interim one")
	for _, p := range notified {
		assert.True(t, p.IsFinal())
	}
	events, unsubscribe := hub.subscribe("wr_retry")
	defer unsubscribe()
	ev := <-events
	assert.JSONEq(t, string(final), string(ev.raw), "the hub holds the final outcome")
}

func TestHandlerInterimWithoutHook(t *testing.T) {
	t.Parallel()
	var fn recordingFn
	claims := &claimCounter{IdempotencyStore: MustMemoryStore(t)}
	hub := MustRunHub(t)
	h := mustWebhook(t, testKey).Handler(fn.fn, WithIdempotencyStore(claims), WithRunHub(hub))

	rec := serve(h, delivery(attemptBody("wr_2", RunStatusTimedOut, 1, true), testKey))
	assert.Equal(t, http.StatusOK, rec.Code, "answered, so Skyvern spends no delivery budget")
	assert.Empty(t, fn.payloads())
	assert.Zero(t, claims.claims.Load(), "nothing to remember for an event nobody processes")
	events, unsubscribe := hub.subscribe("wr_2")
	select {
	case ev := <-events:
		t.Fatalf("interim delivery published to the hub: %+v", ev)
	default:
	}
	unsubscribe()

	// A forged interim delivery is still refused.
	assert.Equal(t, http.StatusUnauthorized, serve(h, delivery(attemptBody("wr_2", RunStatusFailed, 1, true), "sk_wrong")).Code)
}

func TestInterimHookErrorAsksForRedelivery(t *testing.T) {
	t.Parallel()
	hook := recordingFn{fails: 1}
	var fn recordingFn
	h := mustWebhook(t, testKey).Handler(fn.fn, WithInterimHook(hook.fn))
	body := attemptBody("wr_3", RunStatusFailed, 1, true)
	assert.Equal(t, http.StatusInternalServerError, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Len(t, hook.payloads(), 2, "called again after its error, then deduplicated")
	assert.Empty(t, fn.payloads())
}

func TestMiddlewareKeepsInterimFromNext(t *testing.T) {
	t.Parallel()
	var nextCalls int
	var hook recordingFn
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nextCalls++
		p, ok := PayloadFromContext(r.Context())
		require.True(t, ok)
		assert.True(t, p.IsFinal())
		w.WriteHeader(http.StatusAccepted)
	})
	h := mustWebhook(t, testKey).Middleware(next, WithInterimHook(hook.fn))
	assert.Equal(t, http.StatusOK, serve(h, delivery(attemptBody("wr_4", RunStatusFailed, 1, true), testKey)).Code)
	assert.Equal(t, 0, nextCalls)
	assert.Equal(t, http.StatusAccepted, serve(h, delivery(attemptBody("wr_4", RunStatusCompleted, 2, false), testKey)).Code)
	assert.Equal(t, 1, nextCalls)
	assert.Len(t, hook.payloads(), 1)
}

// A store filled by an earlier version, under the old keys, still
// deduplicates replays of attempt-1 outcomes.
func TestStoreFilledBeforeUpgradeStillDedupes(t *testing.T) {
	t.Parallel()
	store := MustMemoryStore(t)
	ctx := context.Background()
	for _, key := range []string{"tsk_old:completed", "wr_old:failed"} {
		claim, err := store.Claim(ctx, key)
		require.NoError(t, err)
		require.Equal(t, ClaimAcquired, claim.Result)
		require.NoError(t, store.Complete(ctx, key, claim.Token))
	}
	var fn recordingFn
	h := mustWebhook(t, testKey).Handler(fn.fn, WithIdempotencyStore(store))
	for _, body := range [][]byte{
		deliveryBody("tsk_old", RunStatusCompleted),                    // a server without retry policies
		attemptBody("wr_old", RunStatusFailed, 1, false),               // a newer server, attempt 1
		[]byte(`{"run_id":"wr_old","status":"failed","attempt":null}`), // an explicit null
	} {
		assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	}
	assert.Empty(t, fn.payloads())
}

// newRunServer serves GET /v1/runs/{id} with the bodies next returns.
func newRunServer(t *testing.T, next func() []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(next())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRetryPause(t *testing.T) {
	t.Parallel()
	in := func(d time.Duration) *Time { tm := NewTime(time.Now().Add(d)); return &tm }
	const pause, capped = 10 * time.Millisecond, time.Second
	cases := []struct {
		name string
		run  Run
		min  time.Duration
		max  time.Duration
	}{
		{"no retry pending", Run{Status: RunStatusFailed, NextAttemptAt: in(time.Hour)}, pause, pause},
		{"pending, start unknown", Run{Status: RunStatusFailed, RetryPending: true}, pause, pause},
		{"pending, start in the past", Run{Status: RunStatusFailed, RetryPending: true, NextAttemptAt: in(-time.Minute)}, pause, pause},
		{"pending, start far off: the cap", Run{Status: RunStatusFailed, RetryPending: true, NextAttemptAt: in(time.Hour)}, capped, capped},
		{"pending, start soon: until then", Run{Status: RunStatusFailed, RetryPending: true, NextAttemptAt: in(500 * time.Millisecond)}, 400 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, tc := range cases {
		got := retryPause(&tc.run, pause, capped)
		assert.GreaterOrEqual(t, got, tc.min, tc.name)
		assert.LessOrEqual(t, got, tc.max, tc.name)
	}
}

// An interim body published to a hub by hand (a relay that forwards every
// delivery) does not end a wait: the waiter polls instead.
func TestWaitIgnoresInterimHubEvent(t *testing.T) {
	t.Parallel()
	var polls int
	var mu sync.Mutex
	srv := newRunServer(t, func() []byte {
		mu.Lock()
		defer mu.Unlock()
		polls++
		if polls == 1 {
			return attemptBody("wr_hub", RunStatusRunning, 1, false)
		}
		return attemptBody("wr_hub", RunStatusCompleted, 2, false)
	})
	client, err := NewClient(testKey, WithBaseURL(srv))
	require.NoError(t, err)
	hub := MustRunHub(t)
	hub.Publish("wr_hub", RunStatusFailed, attemptBody("wr_hub", RunStatusFailed, 1, true))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := client.WaitForRun(ctx, "wr_hub", WaitWithHub(hub), WithPollInterval(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, RunStatusCompleted, run.Status)
	assert.Equal(t, 2, run.Attempt)
}

// The fields the server sends that earlier versions left in Raw only.
func TestPayloadDecodesServerFields(t *testing.T) {
	t.Parallel()
	const body = `{"run_id":"wr_9","workflow_run_id":"wr_9","status":"completed","run_type":"workflow_run",
		"task_v2":{"task_id":"tsk_v2_1","prompt":"p"},"credits_used":12.5,"cached_credits_used":3,
		"retried_from_workflow_run_id":"wr_8","retried_by_workflow_run_id":"wr_10",
		"browser_sink_profile_id":"bp_sink","browser_address":"ws://127.0.0.1:9222/devtools",
		"cdp_connect_headers":{"Authorization":"***"},"extra_http_headers":{"X-Tenant":"acme"},
		"error_code_mapping":{"LOGIN_FAILED":"the login page says the password is wrong"},
		"extracted_information_schema":{"type":"object"},"model":{"model_name":"gpt-x","temperature":0.25},
		"workflow_system_prompt":"Be careful with invoices.","max_screenshot_scrolling_times":7,
		"created_at":"2026-09-20T10:00:00","modified_at":"2026-09-20T10:05:00"}`
	p, err := decodePayload([]byte(body))
	require.NoError(t, err)
	assert.JSONEq(t, `{"task_id":"tsk_v2_1","prompt":"p"}`, string(p.TaskV2))
	assert.Equal(t, 12.5, *p.CreditsUsed)
	assert.Equal(t, 3.0, *p.CachedCreditsUsed)
	assert.Equal(t, "wr_8", p.RetriedFromWorkflowRunID)
	assert.Equal(t, "wr_10", p.RetriedByWorkflowRunID)
	assert.Equal(t, "bp_sink", p.BrowserSinkProfileID)
	assert.Equal(t, "ws://127.0.0.1:9222/devtools", p.BrowserAddress)
	assert.Equal(t, map[string]string{"Authorization": "***"}, p.CDPConnectHeaders)
	assert.Equal(t, map[string]string{"X-Tenant": "acme"}, p.ExtraHTTPHeaders)
	assert.Equal(t, map[string]string{"LOGIN_FAILED": "the login page says the password is wrong"}, p.ErrorCodeMapping)
	assert.JSONEq(t, `{"type":"object"}`, string(p.ExtractedInformationSchema))
	assert.JSONEq(t, `{"model_name":"gpt-x","temperature":0.25}`, string(p.Model))
	assert.Equal(t, "Be careful with invoices.", p.WorkflowSystemPrompt)
	assert.Equal(t, 7, *p.MaxScreenshotScrollingTimes)

	// As the fake (and the server) send them when unset: nulls.
	nulls := `{"run_id":"wr_9","status":"completed","task_v2":null,"credits_used":null,"cached_credits_used":null,` +
		`"retried_from_workflow_run_id":null,"browser_sink_profile_id":null,"cdp_connect_headers":null,` +
		`"extracted_information_schema":null,"model":null,"max_screenshot_scrolling_times":null}`
	p, err = decodePayload([]byte(nulls))
	require.NoError(t, err)
	assert.Nil(t, p.TaskV2)
	assert.Nil(t, p.CreditsUsed)
	assert.Nil(t, p.Model)
	assert.Nil(t, p.ExtractedInformationSchema)
	assert.Nil(t, p.MaxScreenshotScrollingTimes)
}
