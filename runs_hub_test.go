package skyvern_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func TestWaitWithHubReturnsOnWebhook(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var polls atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&polls, statusSteps(skyvern.RunStatusRunning)...))
	hub := skyvern.MustRunHub(t)

	done := make(chan *skyvern.Run, 1)
	go func() {
		// Polls far apart: only the hub can end this wait quickly.
		run, err := c.WaitForRun(context.Background(), "wr_1", skyvern.WaitWithHub(hub), skyvern.WithPollInterval(time.Hour, time.Hour))
		assert.NoError(t, err)
		done <- run
	}()
	require.Eventually(t, func() bool { return polls.Load() == 1 && hub.Waiters() == 1 }, 5*time.Second, time.Millisecond)

	body := `{"run_id":"wr_1","status":"completed","output":{"n":1},"run_type":"workflow_run","workflow_run_id":"wr_1","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:01:00"}`
	hub.Publish("wr_2", skyvern.RunStatusCompleted, json.RawMessage(body)) // another run: ignored
	hub.Publish("wr_1", skyvern.RunStatusRunning, json.RawMessage(body))   // not terminal: ignored
	hub.Publish("wr_1", skyvern.RunStatusCompleted, json.RawMessage(body))

	select {
	case run := <-done:
		require.NotNil(t, run)
		assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
		assert.JSONEq(t, `{"n":1}`, string(run.Output))
		assert.JSONEq(t, body, string(run.Raw))
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end when the webhook was published")
	}
	assert.EqualValues(t, 1, polls.Load())
	assert.Zero(t, hub.Waiters(), "the waiter unsubscribes")
}

func TestWaitWithHubWebhookBeforeWait(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var polls atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1", sequence(&polls, statusSteps(skyvern.RunStatusRunning)...))
	hub := skyvern.MustRunHub(t)
	hub.Publish("tsk_1", skyvern.RunStatusFailed, json.RawMessage(`{"run_id":"tsk_1","status":"failed","failure_reason":"boom","run_type":"task_v1","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00"}`))

	run, err := c.WaitForRun(context.Background(), "tsk_1", skyvern.WaitWithHub(hub))
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusFailed, run.Status)
	assert.Equal(t, "boom", run.FailureReason)
	assert.Zero(t, polls.Load(), "a webhook that arrived first ends the wait without a poll")
}

func TestWaitWithHubFallsBackToGetRun(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var polls atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&polls, status(200, runWithStatus(skyvern.RunStatusCanceled))))
	hub := skyvern.MustRunHub(t)
	// A body that is not a run object (e.g. a legacy payload without run_id).
	hub.Publish("wr_1", skyvern.RunStatusCanceled, json.RawMessage(`{"workflow_run_id":"wr_1","status":"canceled"}`))
	run, err := c.WaitForRun(context.Background(), "wr_1", skyvern.WaitWithHub(hub))
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusCanceled, run.Status)
	assert.EqualValues(t, 1, polls.Load())
}

func TestWaitWithHubStillPolls(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var polls atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&polls, statusSteps(skyvern.RunStatusRunning, skyvern.RunStatusCompleted)...))
	hub := skyvern.MustRunHub(t) // the webhook lands on another replica: nothing is published here
	run, err := c.WaitForRun(context.Background(), "wr_1", skyvern.WaitWithHub(hub), fastPolls)
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
	assert.EqualValues(t, 2, polls.Load())
}
