package skyverntest

import (
	"context"
	"fmt"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// Outcome describes how a run ends.
type Outcome struct {
	// Status is the terminal status; "" means completed.
	Status skyvern.RunStatus
	// Output becomes the run's output. It is converted like encoding/json
	// would, except that Go floats stay floats (29.0 is sent as 29.0 in
	// responses and as 29 in webhooks, as Skyvern does) and a
	// json.RawMessage keeps its key order and number literals.
	Output any
	// FailureReason is reported for failed, terminated and timed_out runs;
	// a failed or timed-out run gets a generic reason when it is empty.
	FailureReason string
	// StepCount is the reported number of steps; 0 means 1 for a run that
	// started and 0 for one canceled before it started.
	StepCount int
	// RecordingURL and ScreenshotURLs are reported as given.
	RecordingURL   string
	ScreenshotURLs []string
	// ErrorCodes are the attempt's error codes, which a workflow retry
	// policy's retry_on rules are matched against (and GetRun lists in
	// attempts[].error_codes).
	ErrorCodes []string
}

// Completed returns the Outcome of a run that completed with output.
func Completed(output any) Outcome {
	return Outcome{Status: skyvern.RunStatusCompleted, Output: output}
}

// finish is an Outcome after validation.
type finish struct {
	status         skyvern.RunStatus
	output         pyjson.Value
	failureReason  string
	stepCount      int
	recordingURL   string
	screenshotURLs []string
	errorCodes     []string
}

func (o Outcome) finish() (finish, error) {
	st := o.Status
	if st == "" {
		st = skyvern.RunStatusCompleted
	}
	if !st.IsTerminal() {
		return finish{}, fmt.Errorf("%w: %q is not a terminal status", ErrInvalidStatus, st)
	}
	out, err := pyjson.ValueOf(o.Output)
	if err != nil {
		return finish{}, fmt.Errorf("skyverntest: cannot encode output: %w", err)
	}
	return finish{
		status: st, output: out, failureReason: o.FailureReason, stepCount: o.StepCount,
		recordingURL: o.RecordingURL, screenshotURLs: append([]string(nil), o.ScreenshotURLs...),
		errorCodes: append([]string(nil), o.ErrorCodes...),
	}, nil
}

// Finish ends a run with the given outcome and, if the run has a webhook
// URL, starts delivering its webhook. It returns ErrRunNotFound,
// ErrRunFinished, or an error for an Outcome that is not terminal or whose
// Output cannot be encoded.
//
// For a workflow with a retry policy, Finish ends the current attempt: if
// the policy retries it, the run keeps its terminal status with
// retry_pending true (and sends an interim webhook with every_attempt)
// until the next attempt starts, after delay_seconds (see
// WithRetryDelayScale) or on StartNextAttempt. While a retry is pending
// only Cancel is accepted (it revokes the retry); other outcomes give
// ErrRunFinished.
func (s *Server) Finish(runID string, o Outcome) error {
	f, err := o.finish()
	if err != nil {
		return err
	}
	return s.finishRun(runID, f, "")
}

// Complete ends a run as completed with the given output.
func (s *Server) Complete(runID string, output any) error {
	return s.Finish(runID, Completed(output))
}

// Fail ends a run as failed with the given failure reason.
func (s *Server) Fail(runID, reason string) error {
	return s.Finish(runID, Outcome{Status: skyvern.RunStatusFailed, FailureReason: reason})
}

// Terminate ends a run as terminated with the given reason.
func (s *Server) Terminate(runID, reason string) error {
	return s.Finish(runID, Outcome{Status: skyvern.RunStatusTerminated, FailureReason: reason})
}

// TimeOut ends a run as timed_out.
func (s *Server) TimeOut(runID string) error {
	return s.Finish(runID, Outcome{Status: skyvern.RunStatusTimedOut})
}

// Cancel ends a run as canceled, as if a user had canceled it in the app.
// Unlike the cancel endpoint it never blocks on the webhook.
func (s *Server) Cancel(runID string) error {
	return s.Finish(runID, Outcome{Status: skyvern.RunStatusCanceled})
}

// Pause moves a run to paused (waiting for a human); paused is not terminal.
func (s *Server) Pause(runID string) error {
	return s.Advance(runID, skyvern.RunStatusPaused)
}

// Advance moves a run to any status. Non-terminal statuses (created,
// queued, running, paused) set queued_at and started_at as they are passed;
// a terminal status ends the run like Finish with no output.
func (s *Server) Advance(runID string, status skyvern.RunStatus) error {
	if status.IsTerminal() {
		return s.Finish(runID, Outcome{Status: status})
	}
	switch status {
	case skyvern.RunStatusCreated, skyvern.RunStatusQueued, skyvern.RunStatusRunning, skyvern.RunStatusPaused:
	default:
		return fmt.Errorf("%w: %q", ErrInvalidStatus, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.activeRunLocked(runID)
	if err != nil {
		return err
	}
	r.manual = true
	s.moveLocked(r, status)
	return nil
}

// activeRunLocked finds a run that has not finished.
func (s *Server) activeRunLocked(runID string) (*run, error) {
	r := s.findRunLocked(runID)
	switch {
	case r == nil:
		return nil, ErrRunNotFound
	case r.status.IsTerminal():
		return r, ErrRunFinished
	}
	return r, nil
}

func (s *Server) moveLocked(r *run, status skyvern.RunStatus) {
	now := s.now()
	switch status {
	case skyvern.RunStatusQueued:
		fillTime(&r.queuedAt, now)
	case skyvern.RunStatusRunning:
		fillTime(&r.queuedAt, now)
		fillTime(&r.startedAt, now)
	}
	r.status = status
	r.modifiedAt = now
	s.notifyLocked()
}

func fillTime(t *time.Time, now time.Time) {
	if t.IsZero() {
		*t = now
	}
}

// finishRun applies f to a run. With onlyFrom set, it applies only if the
// run is still in that status and no test has moved it (auto-advance).
func (s *Server) finishRun(runID string, f finish, onlyFrom skyvern.RunStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.activeRunLocked(runID)
	switch {
	case onlyFrom != "" && (r == nil || r.manual || r.status != onlyFrom):
		return nil
	case err != nil && r != nil && r.retryPending && f.status == skyvern.RunStatusCanceled:
		if d := s.revokeRetryLocked(r); d != nil {
			s.goLocked(func() { s.deliver(d) })
		}
		s.notifyLocked()
		return nil
	case err != nil:
		return err
	}
	if onlyFrom == "" {
		r.manual = true
	}
	if d := s.finishLocked(r, f); d != nil {
		s.goLocked(func() { s.deliver(d) })
	}
	s.notifyLocked()
	return nil
}

// finishLocked records a terminal status and returns the webhook delivery
// it triggers (nil when the run has no webhook URL, or when a retry policy
// retries the attempt without an interim webhook).
func (s *Server) finishLocked(r *run, f finish) *pendingDelivery {
	now := s.now()
	if f.status != skyvern.RunStatusCanceled {
		fillTime(&r.queuedAt, now)
		fillTime(&r.startedAt, now)
	}
	r.status = f.status
	r.finishedAt = now
	r.modifiedAt = now
	r.output = f.output
	reason := f.failureReason
	if reason == "" {
		switch f.status {
		case skyvern.RunStatusFailed:
			reason = "Run failed"
		case skyvern.RunStatusTimedOut:
			reason = "Run timed out"
		}
	}
	r.failureReason = optionalString(reason)
	if f.status == skyvern.RunStatusCompleted {
		r.failureReason = nil
	}
	steps := f.stepCount
	if steps <= 0 && !r.startedAt.IsZero() {
		steps = 1
	}
	r.stepCount = &steps
	r.errors = pyjson.Array{}
	r.downloadedFiles = pyjson.Array{}
	r.recordingURL = optionalString(f.recordingURL)
	r.screenshotURLs = f.screenshotURLs
	if _, send := s.endAttemptLocked(r, f); !send {
		return nil
	}
	return s.pendingDeliveryLocked(r)
}

// autoAdvance drives one run (or one attempt, from queued) for
// WithAutoAdvance. It stops as soon as a test moves the run or the server
// closes.
func (s *Server) autoAdvance(id string, from skyvern.RunStatus) {
	step := s.cfg.autoStep
	prev := from
	for _, next := range []skyvern.RunStatus{skyvern.RunStatusQueued, skyvern.RunStatusRunning} {
		if next == from {
			continue
		}
		if !s.sleep(s.ctx, step) || !s.autoMove(id, prev, next) {
			return
		}
		prev = next
	}
	if !s.sleep(s.ctx, step) {
		return
	}
	s.mu.Lock()
	r := s.runs[id]
	if r == nil {
		s.mu.Unlock()
		return
	}
	snap, attempt := s.snapshotLocked(r), r.attemptNumber()
	s.mu.Unlock()
	f, err := s.cfg.autoOutcome(snap, attempt).finish()
	if err != nil {
		f = finish{status: skyvern.RunStatusFailed, failureReason: err.Error()}
	}
	_ = s.finishRun(id, f, prev)
}

func (s *Server) autoMove(id string, from, to skyvern.RunStatus) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	if r == nil || r.manual || r.status != from {
		return false
	}
	s.moveLocked(r, to)
	return true
}

// WaitForStatus blocks until the run has one of the given statuses (any
// terminal status when none are given) and returns its snapshot. It returns
// ctx's error, ErrRunNotFound, or ErrServerClosed.
func (s *Server) WaitForStatus(ctx context.Context, runID string, statuses ...skyvern.RunStatus) (RunSnapshot, error) {
	var snap RunSnapshot
	var missing bool
	err := s.waitFor(ctx, func() bool {
		r := s.findRunLocked(runID)
		if r == nil {
			missing = true
			return true
		}
		if matchStatus(r.status, statuses) {
			snap = s.snapshotLocked(r)
			return true
		}
		return false
	})
	if err == nil && missing {
		return RunSnapshot{}, ErrRunNotFound
	}
	return snap, err
}

func matchStatus(st skyvern.RunStatus, want []skyvern.RunStatus) bool {
	if len(want) == 0 {
		return st.IsTerminal()
	}
	for _, w := range want {
		if st == w {
			return true
		}
	}
	return false
}
