package skyvern_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// retryFixture is a fake Skyvern running workflows with a retry policy,
// whose webhooks reach a Handler with an interim hook and a RunHub.
type retryFixture struct {
	srv      *skyverntest.Server
	client   *skyvern.Client
	hub      *skyvern.RunHub
	receiver *httptest.Server

	mu       sync.Mutex
	final    []*skyvern.WebhookPayload
	interims []*skyvern.WebhookPayload
}

func newRetryFixture(t *testing.T, opts ...skyverntest.Option) *retryFixture {
	t.Helper()
	f := &retryFixture{hub: skyvern.MustRunHub(t)}
	f.srv = skyverntest.NewServer(append([]skyverntest.Option{skyverntest.WithDeliveryTimeScale(0)}, opts...)...)
	t.Cleanup(f.srv.Close)
	var err error
	f.client, err = skyvern.NewClient(f.srv.APIKey(), skyvern.WithBaseURL(f.srv.URL()), skyvern.WithHTTPClient(f.srv.Client()))
	require.NoError(t, err)
	wh, err := skyvern.NewWebhook(f.srv.APIKey())
	require.NoError(t, err)
	record := func(into *[]*skyvern.WebhookPayload) func(context.Context, *skyvern.WebhookPayload) error {
		return func(_ context.Context, p *skyvern.WebhookPayload) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			*into = append(*into, p)
			return nil
		}
	}
	f.receiver = httptest.NewServer(wh.Handler(record(&f.final), skyvern.WithInterimHook(record(&f.interims)), skyvern.WithRunHub(f.hub)))
	t.Cleanup(f.receiver.Close)
	return f
}

func (f *retryFixture) seen() (final, interims []*skyvern.WebhookPayload) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(final, f.final...), append(interims, f.interims...)
}

// startRun creates a workflow with policy and starts a run of it whose
// webhook goes to the fixture's receiver.
func (f *retryFixture) startRun(ctx context.Context, t *testing.T, policy *skyvern.RetryPolicy) *skyvern.Run {
	t.Helper()
	wf, err := f.client.CreateWorkflow(ctx, retryDefinition(policy))
	require.NoError(t, err)
	require.NotNil(t, wf.WorkflowDefinition.RetryPolicy, "the fake stores the policy")
	run, err := f.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, WebhookURL: f.receiver.URL})
	require.NoError(t, err)
	return run
}

func retryOnFailed(mode skyvern.WebhookOnRetry, maxRetries, delay int) *skyvern.RetryPolicy {
	return &skyvern.RetryPolicy{MaxRetries: maxRetries, DelaySeconds: delay, WebhookOnRetry: mode,
		RetryOn: []skyvern.RetryRule{{Status: skyvern.RunStatusFailed}}}
}

// byAttempt ends attempt n of every run with outcomes[n-1].
func byAttempt(outcomes ...skyverntest.Outcome) skyverntest.Option {
	return skyverntest.WithAutoAdvanceFunc(2*time.Millisecond, func(_ skyverntest.RunSnapshot, attempt int) skyverntest.Outcome {
		return outcomes[min(attempt, len(outcomes))-1]
	})
}

func TestRetriedWorkflowEndToEnd(t *testing.T) {
	t.Parallel()
	fail := skyverntest.Outcome{Status: skyvern.RunStatusFailed, FailureReason: "login page changed"}
	cases := []struct {
		name  string
		last  skyverntest.Outcome
		final skyvern.RunStatus
	}{
		{"attempt 2 completes", skyverntest.Completed(map[string]any{"total": 42}), skyvern.RunStatusCompleted},
		// The final failed shares (run_id, status) with the interim one and
		// must still be processed.
		{"attempt 2 fails as well", fail, skyvern.RunStatusFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRetryFixture(t, byAttempt(fail, tc.last), skyverntest.WithRetryDelayScale(0))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := f.startRun(ctx, t, retryOnFailed(skyvern.WebhookOnRetryEveryAttempt, 1, 5))

			// Polls an hour apart: after the first one, only the hub can
			// end this wait, and only with the final outcome.
			hubRun, err := f.client.WaitForRun(ctx, run.RunID, skyvern.WaitWithHub(f.hub), skyvern.WithPollInterval(time.Hour, time.Hour))
			require.NoError(t, err)
			assert.Equal(t, tc.final, hubRun.Status)
			assert.Equal(t, 2, hubRun.Attempt, "the hub woke the waiter with the final run")
			assert.False(t, hubRun.RetryPending)

			polled, err := f.client.WaitForRun(ctx, run.RunID, fastPolls)
			require.NoError(t, err)
			assert.Equal(t, tc.final, polled.Status)
			assert.Equal(t, 2, polled.Attempt)
			require.Len(t, polled.Attempts, 2)
			assert.Equal(t, skyvern.RetryDecisionRetry, polled.Attempts[0].RetryDecision)
			assert.Equal(t, skyvern.RunStatusFailed, polled.Attempts[0].Status)
			assert.Equal(t, skyvern.RetryDecisionFinal, polled.Attempts[1].RetryDecision)

			// Deliveries run in the background and may end in any order.
			deliveries, err := f.srv.WaitForDeliveries(ctx, run.RunID, 2)
			require.NoError(t, err)
			assert.NotEqual(t, deliveries[0].Interim, deliveries[1].Interim, "one interim webhook and one final")
			after, err := f.client.GetRun(ctx, run.RunID)
			require.NoError(t, err)
			assert.NotNil(t, after.Attempts[0].WebhookSentAt, "the interim webhook was delivered")
			assert.NotNil(t, after.Attempts[1].WebhookSentAt, "the final webhook was delivered")

			final, interims := f.seen()
			require.Len(t, final, 1, "fn runs once, for the final outcome")
			assert.Equal(t, tc.final, final[0].Status)
			assert.Equal(t, 2, final[0].Attempt)
			require.Len(t, interims, 1)
			assert.Equal(t, skyvern.RunStatusFailed, interims[0].Status)
			assert.Equal(t, 1, interims[0].Attempt)
			assert.True(t, interims[0].RetryPending)
		})
	}
}

func TestRetriedWorkflowFinalOnlySendsOneWebhook(t *testing.T) {
	t.Parallel()
	fail := skyverntest.Outcome{Status: skyvern.RunStatusFailed}
	f := newRetryFixture(t, byAttempt(fail, fail, skyverntest.Completed("ok")), skyverntest.WithRetryDelayScale(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := f.startRun(ctx, t, retryOnFailed(skyvern.WebhookOnRetryFinalOnly, 3, 0))
	got, err := f.client.WaitForRun(ctx, run.RunID, fastPolls)
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusCompleted, got.Status)
	assert.Equal(t, 3, got.Attempt)
	_, err = f.srv.WaitForDelivery(ctx, run.RunID)
	require.NoError(t, err)
	assert.Len(t, f.srv.Webhooks(), 1, "final_only: one webhook, for the last attempt")
	final, interims := f.seen()
	require.Len(t, final, 1)
	assert.Equal(t, 3, final[0].Attempt)
	assert.Empty(t, interims)
}

func TestReplayDuringPendingRetry(t *testing.T) {
	t.Parallel()
	f := newRetryFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := f.startRun(ctx, t, retryOnFailed(skyvern.WebhookOnRetryEveryAttempt, 1, 3600))
	require.NoError(t, f.srv.Fail(run.RunID, "captcha"))
	_, err := f.srv.WaitForDelivery(ctx, run.RunID)
	require.NoError(t, err)

	pending, err := f.client.GetRun(ctx, run.RunID)
	require.NoError(t, err)
	assert.True(t, pending.IsTerminal())
	assert.False(t, pending.IsFinal())
	require.NotNil(t, pending.NextAttemptAt)
	assert.WithinDuration(t, time.Now().Add(time.Hour), pending.NextAttemptAt.Time, time.Minute)

	_, err = f.client.RetryRunWebhook(ctx, run.RunID, nil)
	require.ErrorIs(t, err, skyvern.ErrRunNotFinal)

	require.NoError(t, f.srv.StartNextAttempt(run.RunID))
	require.NoError(t, f.srv.Complete(run.RunID, map[string]any{"ok": true}))
	if _, err := f.srv.WaitForDeliveries(ctx, run.RunID, 2); err != nil {
		t.Fatal(err)
	}
	replay, err := f.client.RetryRunWebhook(ctx, run.RunID, nil)
	require.NoError(t, err)
	assert.True(t, replay.Delivered())

	final, interims := f.seen()
	require.Len(t, final, 1, "the replay of the final outcome is deduplicated")
	assert.Equal(t, skyvern.RunStatusCompleted, final[0].Status)
	assert.Len(t, interims, 1)
}

// A workflow without a retry policy on the new fake behaves as before:
// attempt 1, no retry pending, the key of earlier versions.
func TestWorkflowWithoutPolicyUnchanged(t *testing.T) {
	t.Parallel()
	f := newRetryFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wf, err := f.client.CreateWorkflow(ctx, retryDefinition(nil))
	require.NoError(t, err)
	assert.Nil(t, wf.WorkflowDefinition.RetryPolicy)
	run, err := f.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, WebhookURL: f.receiver.URL})
	require.NoError(t, err)
	require.NoError(t, f.srv.Fail(run.RunID, "boom"))
	got, err := f.client.WaitForRun(ctx, run.RunID, fastPolls)
	require.NoError(t, err)
	assert.Equal(t, 1, got.Attempt)
	assert.Empty(t, got.Attempts)
	assert.True(t, got.IsFinal())
	_, err = f.srv.WaitForDelivery(ctx, run.RunID)
	require.NoError(t, err)
	final, _ := f.seen()
	require.Len(t, final, 1)
	assert.Equal(t, run.RunID+":failed", final[0].IdempotencyKey())
}
