package skyvern_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// hubFixture is a fake Skyvern whose webhooks reach a handler that
// publishes to a RunHub, with a client of the fake: the webhook-first
// waiting of one replica, end to end.
type hubFixture struct {
	srv      *skyverntest.Server
	client   *skyvern.Client
	hub      *skyvern.RunHub
	receiver *httptest.Server
}

func newHubFixture(tb testing.TB) *hubFixture {
	tb.Helper()
	srv := skyverntest.NewServer()
	tb.Cleanup(srv.Close)
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()), skyvern.WithHTTPClient(srv.Client()))
	require.NoError(tb, err)
	wh, err := skyvern.NewWebhook(srv.APIKey())
	require.NoError(tb, err)
	hub := skyvern.MustRunHub(tb)
	process := func(context.Context, *skyvern.WebhookPayload) error { return nil }
	receiver := httptest.NewServer(wh.Handler(process, skyvern.WithRunHub(hub)))
	tb.Cleanup(receiver.Close)
	return &hubFixture{srv: srv, client: client, hub: hub, receiver: receiver}
}

// startRun starts a run of the given type whose webhook goes to the
// fixture's receiver (or nowhere, when webhook is false).
func (f *hubFixture) startRun(ctx context.Context, tb testing.TB, runType skyvern.RunType, webhook bool) *skyvern.Run {
	tb.Helper()
	target := ""
	if webhook {
		target = f.receiver.URL
	}
	var (
		run *skyvern.Run
		err error
	)
	switch runType {
	case skyvern.RunTypeWorkflowRun:
		wf, werr := f.client.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{Title: "Invoice Downloader"}})
		require.NoError(tb, werr)
		run, err = f.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, WebhookURL: target})
	case skyvern.RunTypeTaskV2:
		run, err = f.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Find the price", Engine: skyvern.RunEngineSkyvernV2, WebhookURL: target})
	default:
		run, err = f.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Find the price", WebhookURL: target})
	}
	require.NoError(tb, err)
	require.Equal(tb, runType, run.RunType)
	return run
}

// getRuns counts the get_run requests the fake received for id.
func (f *hubFixture) getRuns(id string) int {
	n := 0
	for _, r := range f.srv.Requests() {
		if r.Route == skyverntest.RouteGetRun && strings.HasSuffix(r.Path, "/"+id) {
			n++
		}
	}
	return n
}

// pollSignal returns an OnPoll option that counts polls and closes first
// after the first one.
func pollSignal() (opt skyvern.WaitOption, polls *atomic.Int32, first <-chan struct{}) {
	polls = new(atomic.Int32)
	ch := make(chan struct{})
	var once sync.Once
	return skyvern.OnPoll(func(*skyvern.Run) {
		polls.Add(1)
		once.Do(func() { close(ch) })
	}), polls, ch
}

// TestWaitWithHubRunFinishedBeforeWait: when the run's webhook was
// processed before the wait began, WaitForRun answers from the hub without
// a single poll (so without waiting any poll interval).
func TestWaitWithHubRunFinishedBeforeWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		runType skyvern.RunType
		finish  func(*skyverntest.Server, string) error
		want    skyvern.RunStatus
	}{
		{"task v1 completed", skyvern.RunTypeTaskV1, func(s *skyverntest.Server, id string) error {
			return s.Complete(id, map[string]any{"price": 29.0})
		}, skyvern.RunStatusCompleted},
		{"task v2 failed", skyvern.RunTypeTaskV2, func(s *skyverntest.Server, id string) error {
			return s.Fail(id, "page did not load")
		}, skyvern.RunStatusFailed},
		{"workflow run canceled", skyvern.RunTypeWorkflowRun, (*skyverntest.Server).Cancel, skyvern.RunStatusCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newHubFixture(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			run := f.startRun(ctx, t, tt.runType, true)
			require.NoError(t, tt.finish(f.srv, run.RunID))
			delivery, err := f.srv.WaitForDelivery(ctx, run.RunID)
			require.NoError(t, err)
			require.Empty(t, delivery.FailureReason, "the receiver took the webhook")

			onPoll, polls, _ := pollSignal()
			got, err := f.client.WaitForRun(ctx, run.RunID, skyvern.WaitWithHub(f.hub), onPoll)
			require.NoError(t, err)
			assert.Equal(t, run.RunID, got.RunID)
			assert.Equal(t, tt.want, got.Status)
			assert.Zero(t, polls.Load(), "polls")
			assert.Zero(t, f.getRuns(run.RunID), "get_run requests")
			assert.Zero(t, f.hub.Waiters())
		})
	}
}

// TestWaitWithHubBackingWorkflowRunOfTaskV2: get_run also answers for the
// wr_ id behind a task v2 run (with the task v2 run), so a wait may be on
// that id. The task v2 webhook must end such a wait too, not leave it to a
// poll an hour away.
func TestWaitWithHubBackingWorkflowRunOfTaskV2(t *testing.T) {
	t.Parallel()
	f := newHubFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := f.startRun(ctx, t, skyvern.RunTypeTaskV2, true)
	snap, ok := f.srv.Run(run.RunID)
	require.True(t, ok)
	require.True(t, strings.HasPrefix(snap.WorkflowRunID, "wr_"), "backing workflow run id %q", snap.WorkflowRunID)

	onPoll, polls, first := pollSignal()
	type result struct {
		run *skyvern.Run
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := f.client.WaitForRun(ctx, snap.WorkflowRunID, skyvern.WaitWithHub(f.hub),
			skyvern.WithPollInterval(time.Hour, time.Hour), onPoll)
		done <- result{got, err}
	}()
	select {
	case <-first:
	case <-ctx.Done():
		t.Fatal("no first poll")
	}
	require.NoError(t, f.srv.Complete(run.RunID, map[string]any{"price": 29.0}))

	res := <-done
	require.NoError(t, res.err, "the wait ended only when its context did: the webhook did not reach it")
	assert.Equal(t, run.RunID, res.run.RunID, "get_run on the wr_ id answers with the task v2 run")
	assert.Equal(t, skyvern.RunStatusCompleted, res.run.Status)
	assert.LessOrEqual(t, polls.Load(), int32(2), "the first poll, and at most one to read the run")
}
