package skyvern

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of WaitForRun's polling.
const (
	DefaultPollInterval    = time.Second
	DefaultMaxPollInterval = 10 * time.Second
)

// WaitOption configures WaitForRun.
type WaitOption func(*waitConfig)

type waitConfig struct {
	initial, max time.Duration
	onPoll       func(*Run)
	requestOpts  []RequestOption
	hub          *RunHub
}

// WithPollInterval sets the first wait between polls (default 1 s) and the
// cap it grows to (default 10 s). Values below 10 ms are raised to 10 ms.
func WithPollInterval(initial, maxInterval time.Duration) WaitOption {
	return func(w *waitConfig) {
		w.initial = max(initial, 10*time.Millisecond)
		w.max = max(maxInterval, w.initial)
	}
}

// OnPoll calls fn with every run WaitForRun fetches, for progress reporting.
// fn runs on the waiting goroutine and should return quickly.
func OnPoll(fn func(*Run)) WaitOption {
	return func(w *waitConfig) { w.onPoll = fn }
}

// WithPollRequestOptions applies opts to every GetRun that WaitForRun makes.
func WithPollRequestOptions(opts ...RequestOption) WaitOption {
	return func(w *waitConfig) { w.requestOpts = append(w.requestOpts, opts...) }
}

// WaitError is returned by WaitForRun when ctx ends before the run does. The
// run itself is left alone: WaitForRun never cancels it.
type WaitError struct {
	RunID string
	// LastStatus is the status seen at the last successful poll ("" if none
	// succeeded).
	LastStatus RunStatus
	// Err is the context's error; LastPollErr the error of the last failed
	// poll, if the last poll failed.
	Err         error
	LastPollErr error
}

// Error implements error.
func (e *WaitError) Error() string {
	msg := fmt.Sprintf("skyvern: waiting for run %s: %v", e.RunID, e.Err)
	if e.LastStatus != "" {
		msg += fmt.Sprintf(" (last status %s)", e.LastStatus)
	}
	if e.LastPollErr != nil {
		msg += fmt.Sprintf(" (last poll failed: %v)", e.LastPollErr)
	}
	return msg
}

// Unwrap returns the context's error, so errors.Is(err,
// context.DeadlineExceeded) works.
func (e *WaitError) Unwrap() error { return e.Err }

// WaitForRun polls GetRun until the run is final (Run.IsFinal) and returns
// it. Polls start about 1 s apart and back off, with jitter, to the cap set
// by WithPollInterval (default 10 s). A paused run is not terminal. A
// workflow attempt that ended while its retry policy will run it again is
// terminal but not final: WaitForRun keeps waiting through the retry (polls
// then stretch toward Run.NextAttemptAt, within the cap) and returns the
// outcome of the last attempt.
//
// Transient failures (429, 5xx, network errors) do not end the wait; a
// Retry-After hint stretches the next pause. Permanent ones (404, 403, 422)
// are returned at once. When ctx ends first, WaitForRun returns the last run
// it saw (nil if none; possibly a terminal one with a retry pending) with a
// *WaitError that wraps ctx.Err(). It never cancels the run.
//
// Prefer a webhook (see Webhook.Handler) where you can receive one, and use
// WaitForRun as the fallback.
func (c *Client) WaitForRun(ctx context.Context, runID string, opts ...WaitOption) (*Run, error) {
	if err := requireID("run_id", runID); err != nil {
		return nil, err
	}
	cfg := waitConfig{initial: DefaultPollInterval, max: DefaultMaxPollInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	var (
		last    *Run
		lastErr error
		timer   *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var events <-chan hubEvent
	if cfg.hub != nil {
		// Subscribe before the first poll, so a webhook that lands while it
		// is in flight (or landed before the wait began) is not missed.
		var unsubscribe func()
		events, unsubscribe = cfg.hub.subscribe(runID)
		defer unsubscribe()
	}
	interval := cfg.initial
	for {
		select {
		case ev := <-events:
			if run := runFromEvent(runID, ev); run != nil {
				return run, nil
			}
			// Not a run object: poll now, without waiting for the timer.
		default:
		}
		run, err := c.GetRun(ctx, runID, cfg.requestOpts...)
		pause := interval
		switch {
		case err == nil:
			last, lastErr = run, nil
			if cfg.onPoll != nil {
				cfg.onPoll(run)
			}
			if run.IsFinal() {
				return run, nil
			}
			pause = retryPause(run, pause, cfg.max)
		case ctx.Err() != nil:
			// handled below
		case !transientPollError(err):
			return last, err
		default:
			lastErr = err
			var apiErr *APIError
			if errors.As(err, &apiErr) && apiErr.RetryAfter > pause {
				pause = min(apiErr.RetryAfter, max(cfg.max, c.maxRetryAfter))
			}
		}
		if ctx.Err() != nil {
			return last, newWaitError(runID, last, lastErr, ctx.Err())
		}

		pause = pause/2 + rand.N(pause/2+1)
		if timer == nil {
			timer = time.NewTimer(pause)
		} else {
			timer.Reset(pause)
		}
		select {
		case <-ctx.Done():
			return last, newWaitError(runID, last, lastErr, ctx.Err())
		case ev := <-events:
			if run := runFromEvent(runID, ev); run != nil {
				return run, nil
			}
		case <-timer.C:
		}
		interval = min(interval*3/2, cfg.max)
	}
}

func newWaitError(runID string, last *Run, lastErr, ctxErr error) error {
	e := &WaitError{RunID: runID, Err: ctxErr, LastPollErr: lastErr}
	if last != nil {
		e.LastStatus = last.Status
	}
	return e
}

// retryPause stretches the pause while a workflow retry is pending and its
// start is known: nothing changes before then, so polling sooner only costs
// requests. The pause never exceeds the cap, so a run canceled meanwhile is
// still seen in time.
func retryPause(run *Run, pause, maxPause time.Duration) time.Duration {
	if !run.RetryPending || run.NextAttemptAt == nil {
		return pause
	}
	if until := time.Until(run.NextAttemptAt.Time); until > pause {
		return min(until, max(maxPause, pause))
	}
	return pause
}

// runFromEvent builds the run from a verified webhook body, or returns nil
// when the body is not a final run object for runID.
func runFromEvent(runID string, ev hubEvent) *Run {
	var run Run
	if json.Unmarshal(ev.raw, &run) != nil || run.RunID != runID || run.RetryPending {
		return nil
	}
	run.Status = ev.status
	return &run
}

// transientPollError reports whether a failed poll is worth repeating.
func transientPollError(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == 408 || apiErr.StatusCode == 429 || apiErr.StatusCode >= 500
	}
	var invalid *InvalidRequestError
	if errors.As(err, &invalid) || errors.Is(err, ErrResponseTooLarge) {
		return false
	}
	// Network failures and malformed bodies (a proxy's truncated answer)
	// are worth another poll.
	return true
}
