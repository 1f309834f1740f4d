package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func runWithStatus(status skyvern.RunStatus) string {
	return fmt.Sprintf(`{"run_id":"wr_1","status":%q,"output":null,"run_type":"workflow_run","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00"}`, status)
}

func statusSteps(statuses ...skyvern.RunStatus) []behaviour {
	steps := make([]behaviour, len(statuses))
	for i, s := range statuses {
		steps[i] = status(200, runWithStatus(s))
	}
	return steps
}

var fastPolls = skyvern.WithPollInterval(time.Millisecond, 2*time.Millisecond)

func TestWaitForRunPollsUntilTerminal(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	steps := statusSteps(skyvern.RunStatusCreated, skyvern.RunStatusQueued, skyvern.RunStatusRunning,
		skyvern.RunStatusPaused, skyvern.RunStatusRunning, skyvern.RunStatusCompleted)
	mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts, steps...))

	var seen []skyvern.RunStatus
	run, err := c.WaitForRun(context.Background(), "wr_1", fastPolls, skyvern.OnPoll(func(r *skyvern.Run) {
		seen = append(seen, r.Status)
	}))
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
	assert.Equal(t, []skyvern.RunStatus{"created", "queued", "running", "paused", "running", "completed"}, seen,
		"paused is not terminal: the wait goes on")
	assert.EqualValues(t, 6, attempts.Load())
}

func TestWaitForRunRidesOverTransientErrors(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(0))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts,
		status(200, runWithStatus(skyvern.RunStatusRunning)),
		status(503, `<html>upstream down</html>`),
		status(429, `{"detail":"slow down"}`),
		dropConnection,
		status(500, `{"error":"Unexpected error: X"}`),
		status(200, `{"run_id":"wr_1","status":`), // truncated by a proxy
		status(200, runWithStatus(skyvern.RunStatusFailed)),
	))
	run, err := c.WaitForRun(context.Background(), "wr_1", fastPolls)
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusFailed, run.Status)
	assert.EqualValues(t, 7, attempts.Load())
}

func TestWaitForRunStopsOnPermanentError(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts,
		status(200, runWithStatus(skyvern.RunStatusRunning)),
		status(404, `{"detail":"Task run not found wr_1"}`),
	))
	run, err := c.WaitForRun(context.Background(), "wr_1", fastPolls)
	assert.ErrorIs(t, err, skyvern.ErrNotFound)
	require.NotNil(t, run, "the last run seen is returned with the error")
	assert.Equal(t, skyvern.RunStatusRunning, run.Status)
	assert.EqualValues(t, 2, attempts.Load())
}

func TestWaitForRunContextDeadline(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts, cancels atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts, statusSteps(skyvern.RunStatusPaused)...))
	mux.HandleFunc("/v1/runs/wr_1/cancel", func(w http.ResponseWriter, r *http.Request) { cancels.Add(1) })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	run, err := c.WaitForRun(ctx, "wr_1", fastPolls)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var waitErr *skyvern.WaitError
	require.ErrorAs(t, err, &waitErr)
	assert.Equal(t, "wr_1", waitErr.RunID)
	assert.Equal(t, skyvern.RunStatusPaused, waitErr.LastStatus)
	require.NotNil(t, run)
	assert.Equal(t, skyvern.RunStatusPaused, run.Status)
	assert.GreaterOrEqual(t, attempts.Load(), int32(1))
	assert.Zero(t, cancels.Load(), "WaitForRun never cancels the run")
}

func TestWaitForRunContextEndsWithNoRunSeen(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(0))
	mux.HandleFunc("/v1/runs/wr_1", status(503, ``))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	run, err := c.WaitForRun(ctx, "wr_1", fastPolls)
	assert.Nil(t, run)
	var waitErr *skyvern.WaitError
	require.ErrorAs(t, err, &waitErr)
	assert.Empty(t, waitErr.LastStatus)
	assert.True(t, errors.Is(waitErr.LastPollErr, skyvern.ErrServer) || waitErr.LastPollErr == nil)
}

func TestWaitForRunHonoursRetryAfterBetweenPolls(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(0))
	var attempts atomic.Int32
	var limitedAt atomic.Int64
	mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts,
		func(w http.ResponseWriter, r *http.Request) {
			limitedAt.Store(time.Now().UnixNano())
			status(429, ``, "Retry-After", "1")(w, r)
		},
		func(w http.ResponseWriter, r *http.Request) {
			// An ordering fact: the next poll waits for at least half the
			// hint (the pause is jittered between half and all of it).
			assert.GreaterOrEqual(t, time.Since(time.Unix(0, limitedAt.Load())), 450*time.Millisecond)
			writeJSON(w, 200, runWithStatus(skyvern.RunStatusCompleted))
		},
	))
	_, err := c.WaitForRun(context.Background(), "wr_1", fastPolls)
	require.NoError(t, err)
}

// One WaitOption value shared by concurrent waits must not race: the
// option clamps copies of its arguments, never the captured values.
func TestPollIntervalOptionSharedByConcurrentWaits(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_shared", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"run_id":"tsk_shared","status":"completed","run_type":"task_v1"}`)
	})
	opt := skyvern.WithPollInterval(time.Millisecond, 2*time.Millisecond) // both below the 10 ms floor
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := c.WaitForRun(context.Background(), "tsk_shared", opt)
			assert.NoError(t, err)
			if assert.NotNil(t, run) {
				assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
			}
		}()
	}
	wg.Wait()
}
