package skyvern

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of WaitForRun's polling. Without a hub, polls start
// DefaultPollInterval apart and the pause grows by half at each poll up to
// DefaultMaxPollInterval. With a hub ([WaitWithHub]) the webhook ends the
// wait and polling is only the fallback for a webhook that lands elsewhere
// or never: after the first poll the pause starts at
// DefaultHubPollInterval and doubles up to DefaultMaxHubPollInterval, so a
// run that takes three minutes costs at most three GetRun calls. Every pause
// is jittered to between half and all of its nominal length.
const (
	DefaultPollInterval       = time.Second
	DefaultMaxPollInterval    = 10 * time.Second
	DefaultHubPollInterval    = time.Minute
	DefaultMaxHubPollInterval = 5 * time.Minute
	minPollInterval           = 10 * time.Millisecond
)

// WaitOption configures WaitForRun. Under the package's rule for options, a
// nil WaitOption is ignored and an invalid one makes WaitForRun return an
// [*InvalidRequestError] before its first poll.
type WaitOption func(*waitConfig)

type waitConfig struct {
	// initial and max are the poll schedule; zero selects the default
	// schedule for the wait (with or without a hub).
	initial, max time.Duration
	onPoll       func(*Run)
	requestOpts  []RequestOption
	hub          *RunHub
	firstInvalid
}

// WithPollInterval sets the first pause between polls and the cap it grows
// to, with or without a hub. 0 selects the default of either (see
// [DefaultPollInterval]); positive values below 10 ms are raised to 10 ms.
// A negative value, or a cap below the first pause, is invalid.
func WithPollInterval(initial, maxInterval time.Duration) WaitOption {
	return func(w *waitConfig) {
		if initial < 0 || maxInterval < 0 || (maxInterval > 0 && maxInterval < initial) {
			w.invalid("WithPollInterval", "need 0 <= initial <= max, got %v and %v", initial, maxInterval)
			return
		}
		// Clamp copies: one option value may be applied by concurrent waits.
		first, ceiling := initial, maxInterval
		if first > 0 {
			first = max(first, minPollInterval)
		}
		if ceiling > 0 {
			ceiling = max(ceiling, minPollInterval)
		}
		w.initial, w.max = first, ceiling
	}
}

// OnPoll calls fn with every run WaitForRun fetches, for progress reporting.
// fn runs on the waiting goroutine and should return quickly; nil calls
// nothing.
func OnPoll(fn func(*Run)) WaitOption {
	return func(w *waitConfig) { w.onPoll = fn }
}

// WithPollRequestOptions applies opts to every GetRun that WaitForRun makes.
// An invalid one fails the wait before its first poll.
func WithPollRequestOptions(opts ...RequestOption) WaitOption {
	return func(w *waitConfig) { w.requestOpts = append(w.requestOpts, opts...) }
}

// WaitError is returned by WaitForRun when ctx ends before the run does. The
// run itself is left alone: WaitForRun never cancels it.
type WaitError struct {
	// RunID is the run waited on.
	RunID string
	// LastRun is the run as the last successful poll saw it, nil if no poll
	// succeeded. WaitForRun also returns it next to the error.
	LastRun *Run
	// LastStatus is LastRun's status ("" if no poll succeeded).
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
		msg += " (last poll failed: " + causeText(e.LastPollErr, "") + ")"
	}
	return msg
}

// Unwrap returns the context's error, so errors.Is(err,
// context.DeadlineExceeded) works.
func (e *WaitError) Unwrap() error { return e.Err }

// WaitForRun polls GetRun until the run is final (Run.IsFinal) and returns
// it. Polls start about 1 s apart and back off, with jitter, to the cap set
// by WithPollInterval (default 10 s); with [WaitWithHub] the webhook ends
// the wait and polling slows to a fallback (see [DefaultHubPollInterval]).
// A paused run is not terminal. A workflow attempt that ended while its
// retry policy will run it again is terminal but not final: WaitForRun
// keeps waiting through the retry (polls then stretch toward
// Run.NextAttemptAt, within the cap) and returns the outcome of the last
// attempt.
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
	var cfg waitConfig
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.err != nil {
		return nil, asInvalidRequest(cfg.err)
	}
	if rc := c.newRequestConfig(cfg.requestOpts); rc.err != nil {
		return nil, rc.err
	}
	sched := cfg.schedule()
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
	interval := sched.initial
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
				pause = min(apiErr.RetryAfter, max(sched.max, c.maxRetryAfter))
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
		interval = sched.next(interval)
	}
}

// pollSchedule is the nominal pause before each poll after the first.
type pollSchedule struct {
	initial, max time.Duration
	// growth is the factor of each step, in halves: 3 grows by half, 4
	// doubles.
	growth time.Duration
}

// schedule picks the wait's poll schedule: the caller's if given, else
// the default for a wait with or without a hub.
func (w *waitConfig) schedule() pollSchedule {
	s := pollSchedule{initial: DefaultPollInterval, max: DefaultMaxPollInterval, growth: 3}
	if w.hub != nil {
		s = pollSchedule{initial: DefaultHubPollInterval, max: DefaultMaxHubPollInterval, growth: 4}
	}
	if w.initial > 0 {
		s.initial = w.initial
	}
	if w.max > 0 {
		s.max = w.max
	}
	s.max = max(s.max, s.initial)
	return s
}

func (s pollSchedule) next(interval time.Duration) time.Duration {
	return min(interval*s.growth/2, s.max)
}

func newWaitError(runID string, last *Run, lastErr, ctxErr error) error {
	e := &WaitError{RunID: runID, LastRun: last, Err: ctxErr, LastPollErr: lastErr}
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
