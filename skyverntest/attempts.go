package skyverntest

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// Skyvern's retry-policy rules (skyvern/forge/sdk/workflow/retry_policy.py).
const (
	// policyDeliveryCalls is how many delivery calls a workflow with a
	// retry policy reserves per kind (interim, final) and attempt; each
	// call makes up to deliveryMaxAttempts requests.
	policyDeliveryCalls = 15
)

// retryPolicyWire is WorkflowRetryPolicy as stored and returned.
type retryPolicyWire struct {
	MaxRetries     int             `json:"max_retries"`
	DelaySeconds   int             `json:"delay_seconds"`
	WebhookOnRetry string          `json:"webhook_on_retry"`
	RetryOn        []retryRuleWire `json:"retry_on"`
}

// retryRuleWire is one retry_on rule; ErrorCodes nil is written as null.
type retryRuleWire struct {
	Status     string   `json:"status"`
	ErrorCodes []string `json:"error_codes"`
}

// runAttemptWire is WorkflowRunAttempt.
type runAttemptWire struct {
	AttemptNumber  int          `json:"attempt_number"`
	Status         string       `json:"status"`
	FailureReason  *string      `json:"failure_reason"`
	ErrorCodes     []string     `json:"error_codes"`
	StartedAt      skyvern.Time `json:"started_at"`
	FinishedAt     skyvern.Time `json:"finished_at"`
	RetryDecision  *string      `json:"retry_decision"`
	DecisionReason *string      `json:"decision_reason"`
	NextAttemptAt  skyvern.Time `json:"next_attempt_at"`
	WebhookSentAt  skyvern.Time `json:"webhook_sent_at"`
}

// attemptRecord is the server's record of one attempt of a workflow run.
type attemptRecord struct {
	number         int
	status         skyvern.RunStatus
	failureReason  *string
	errorCodes     []string
	startedAt      time.Time
	finishedAt     time.Time
	decision       string
	decisionReason string
	nextAttemptAt  time.Time
	webhookSentAt  time.Time
}

func (a *attemptRecord) wire() runAttemptWire {
	return runAttemptWire{
		AttemptNumber:  a.number,
		Status:         string(a.status),
		FailureReason:  a.failureReason,
		ErrorCodes:     append([]string{}, a.errorCodes...),
		StartedAt:      optionalTime(a.startedAt),
		FinishedAt:     optionalTime(a.finishedAt),
		RetryDecision:  optionalString(a.decision),
		DecisionReason: optionalString(a.decisionReason),
		NextAttemptAt:  optionalTime(a.nextAttemptAt),
		WebhookSentAt:  optionalTime(a.webhookSentAt),
	}
}

// policy returns the retry policy of a workflow run, nil for other runs and
// workflows without one.
func (r *run) policy() *retryPolicyWire {
	if r.workflow == nil {
		return nil
	}
	return r.workflow.WorkflowDefinition.RetryPolicy
}

// attemptNumber is the current attempt, from 1.
func (r *run) attemptNumber() int { return max(r.attempt, 1) }

// currentAttempt returns the record of the current attempt, creating it if
// the run has a policy and none exists yet; nil without a policy.
func (r *run) currentAttempt() *attemptRecord {
	if r.policy() == nil {
		return nil
	}
	n := r.attemptNumber()
	if len(r.attempts) < n {
		r.attempts = append(r.attempts, &attemptRecord{number: n, status: r.status})
	}
	return r.attempts[n-1]
}

// attemptsWire lists the attempts as get_run does; the attempt in progress
// shows the run's current status.
func (r *run) attemptsWire() []runAttemptWire {
	out := make([]runAttemptWire, 0, len(r.attempts))
	for _, a := range r.attempts {
		w := a.wire()
		if a.finishedAt.IsZero() {
			w.Status = string(r.status)
			w.StartedAt = optionalTime(r.startedAt)
		}
		out = append(out, w)
	}
	return out
}

// decide applies the retry policy to an attempt that just ended, the way
// Skyvern records its decision: a canceled run is never retried; past
// max_retries the decision is final; otherwise the attempt is retried when a
// rule matches its status and (if the rule lists codes) one of its error
// codes.
func (p *retryPolicyWire) decide(attempt int, status skyvern.RunStatus, codes []string) (retry bool, reason string) {
	switch {
	case status == skyvern.RunStatusCanceled:
		return false, "canceled runs are not retried"
	case status == skyvern.RunStatusCompleted:
		return false, "attempt completed"
	case attempt > p.MaxRetries:
		return false, fmt.Sprintf("retry budget exhausted (max_retries=%d)", p.MaxRetries)
	}
	for _, rule := range p.RetryOn {
		if rule.Status != string(status) {
			continue
		}
		if len(rule.ErrorCodes) == 0 || slices.ContainsFunc(codes, func(c string) bool { return slices.Contains(rule.ErrorCodes, c) }) {
			return true, fmt.Sprintf("matched retry_on status %s", status)
		}
	}
	return false, fmt.Sprintf("no retry_on rule matches status %s", status)
}

// endAttemptLocked records the end of the current attempt of a run with a
// retry policy and decides what follows. It reports whether a retry is now
// pending, and whether this end sends a webhook (always when final; for a
// retried attempt only with every_attempt).
func (s *Server) endAttemptLocked(r *run, f finish) (pending, sendWebhook bool) {
	p := r.policy()
	rec := r.currentAttempt()
	if p == nil || rec == nil {
		return false, true
	}
	now := s.now()
	rec.status = f.status
	rec.failureReason = r.failureReason
	rec.errorCodes = append([]string(nil), f.errorCodes...)
	rec.startedAt = r.startedAt
	rec.finishedAt = now
	retry, reason := p.decide(rec.number, f.status, f.errorCodes)
	rec.decisionReason = reason
	if !retry {
		rec.decision = string(skyvern.RetryDecisionFinal)
		r.retryPending = false
		r.nextAttemptAt = time.Time{}
		return false, true
	}
	rec.decision = string(skyvern.RetryDecisionRetry)
	next := now.Add(time.Duration(p.DelaySeconds) * time.Second)
	rec.nextAttemptAt = next
	r.retryPending = true
	r.nextAttemptAt = next
	number := rec.number
	delay := time.Duration(float64(time.Duration(p.DelaySeconds)*time.Second) * s.cfg.retryDelayScale)
	s.goLocked(func() {
		if s.sleep(s.ctx, delay) {
			_ = s.startAttempt(r.id, number)
		}
	})
	return true, p.WebhookOnRetry == string(skyvern.WebhookOnRetryEveryAttempt)
}

// revokeRetryLocked ends a run whose retry is pending as canceled: the
// pending attempt never starts, and the last attempt's decision becomes
// revoked.
func (s *Server) revokeRetryLocked(r *run) *pendingDelivery {
	if n := len(r.attempts); n > 0 {
		rec := r.attempts[n-1]
		rec.decision = string(skyvern.RetryDecisionRevoked)
		rec.decisionReason = "run canceled while the retry was pending"
		rec.nextAttemptAt = time.Time{}
	}
	now := s.now()
	r.retryPending = false
	r.nextAttemptAt = time.Time{}
	r.status = skyvern.RunStatusCanceled
	r.modifiedAt = now
	r.finishedAt = now
	r.output = nil
	r.failureReason = nil
	return s.pendingDeliveryLocked(r)
}

// StartNextAttempt starts the pending retry of a workflow run now, instead
// of after the policy's delay_seconds (see also WithRetryDelayScale). The run
// goes back to queued as its next attempt; with auto-advance it then moves
// on by itself. It returns ErrRunNotFound, or ErrNoRetryPending when the run
// has no pending retry.
func (s *Server) StartNextAttempt(runID string) error {
	s.mu.Lock()
	r := s.findRunLocked(runID)
	s.mu.Unlock()
	if r == nil {
		return ErrRunNotFound
	}
	return s.startAttempt(r.id, 0)
}

// startAttempt begins the attempt after after (0: whichever is pending).
// A timer that fires after the test started the attempt itself, or after
// the run was canceled, does nothing.
func (s *Server) startAttempt(runID string, after int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[runID]
	switch {
	case r == nil:
		return ErrRunNotFound
	case !r.retryPending || (after != 0 && r.attemptNumber() != after):
		return ErrNoRetryPending
	}
	now := s.now()
	r.attempt = r.attemptNumber() + 1
	r.retryPending = false
	r.nextAttemptAt = time.Time{}
	r.status = skyvern.RunStatusQueued
	r.queuedAt, r.startedAt, r.finishedAt = now, time.Time{}, time.Time{}
	r.modifiedAt = now
	r.output, r.failureReason, r.stepCount = nil, nil, nil
	r.currentAttempt()
	if s.cfg.autoStep > 0 && !r.manual {
		id := r.id
		s.goLocked(func() { s.autoAdvance(id, skyvern.RunStatusQueued) })
	}
	s.notifyLocked()
	return nil
}

// retryPolicy validates a retry_policy object the way WorkflowRetryPolicy
// does (unknown keys are refused); absent or null gives nil.
func (f *fields) retryPolicy(key string) *retryPolicyWire {
	obj := f.object(key)
	if obj == nil {
		return nil
	}
	p := newFields(obj, f.at(key)...)
	p.forbidExtra("max_retries", "delay_seconds", "webhook_on_retry", "retry_on")
	out := &retryPolicyWire{MaxRetries: 1, WebhookOnRetry: string(skyvern.WebhookOnRetryFinalOnly), RetryOn: []retryRuleWire{}}
	if n := p.boundedInt("max_retries", 0, math.MaxInt32); n != nil {
		out.MaxRetries = *n
	}
	if n := p.boundedInt("delay_seconds", 0, math.MaxInt32); n != nil {
		out.DelaySeconds = *n
	}
	modes := []string{string(skyvern.WebhookOnRetryFinalOnly), string(skyvern.WebhookOnRetryEveryAttempt)}
	if m := p.enum("webhook_on_retry", modes); m != nil {
		out.WebhookOnRetry = *m
	}
	if v, ok := p.lookup("retry_on"); ok && !isNull(v) {
		list, isList := v.(pyjson.Array)
		if !isList {
			p.fail("retry_on", "list_type", "Input should be a valid list", v)
		}
		for i, item := range list {
			ruleObj, isObj := item.(*pyjson.Object)
			if !isObj {
				p.errs = append(p.errs, validationError{Type: "model_attributes_type", Loc: append(p.at("retry_on"), i),
					Msg: "Input should be a valid dictionary or object to extract fields from", Input: item})
				continue
			}
			rf := newFields(ruleObj, append(p.at("retry_on"), i)...)
			rf.forbidExtra("status", "error_codes")
			rule := retryRuleWire{}
			if st := rf.enum("status", runStatuses()); st != nil {
				rule.Status = *st
			} else if _, present := ruleObj.Get("status"); !present {
				rf.errs = append(rf.errs, validationError{Type: "missing", Loc: rf.at("status"), Msg: "Field required", Input: ruleObj})
			}
			rule.ErrorCodes = rf.stringList("error_codes", 0)
			p.errs = append(p.errs, rf.errs...)
			out.RetryOn = append(out.RetryOn, rule)
		}
	}
	f.errs = append(f.errs, p.errs...)
	return out
}

// forbidExtra refuses keys other than allowed, as a Pydantic model with
// extra="forbid" does.
func (f *fields) forbidExtra(allowed ...string) {
	for _, m := range f.obj.Members() {
		if !slices.Contains(allowed, m.Key) {
			f.fail(m.Key, "extra_forbidden", "Extra inputs are not permitted", m.Value)
		}
	}
}

// stringList reads an optional, nullable list of strings of at most limit
// items (0: no limit).
func (f *fields) stringList(key string, limit int) []string {
	v, ok := f.lookup(key)
	if !ok || isNull(v) {
		return nil
	}
	list, isList := v.(pyjson.Array)
	if !isList {
		f.fail(key, "list_type", "Input should be a valid list", v)
		return nil
	}
	if limit > 0 && len(list) > limit {
		ctx := pyjson.NewObject()
		ctx.Set("field_type", pyjson.String("List"))
		ctx.Set("max_length", pyjson.Int(fmt.Sprint(limit)))
		ctx.Set("actual_length", pyjson.Int(fmt.Sprint(len(list))))
		f.errs = append(f.errs, validationError{Type: "too_long", Loc: f.at(key),
			Msg: fmt.Sprintf("List should have at most %d items after validation, not %d", limit, len(list)), Input: v, Ctx: ctx})
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, isStr := item.(pyjson.String)
		if !isStr {
			f.errs = append(f.errs, validationError{Type: "string_type", Loc: append(f.at(key), i), Msg: "Input should be a valid string", Input: item})
			continue
		}
		out = append(out, string(s))
	}
	return out
}

// browserTypes lists the browser_type values the server accepts.
func browserTypes() []string {
	return []string{string(skyvern.BrowserTypeMSEdge), string(skyvern.BrowserTypeChrome), string(skyvern.BrowserTypeStealthChromium)}
}

// runStatuses lists the run statuses the server knows: the values a retry
// rule may name and a run listing may filter on.
func runStatuses() []string {
	return []string{
		string(skyvern.RunStatusCreated), string(skyvern.RunStatusQueued), string(skyvern.RunStatusRunning),
		string(skyvern.RunStatusTimedOut), string(skyvern.RunStatusFailed), string(skyvern.RunStatusTerminated),
		string(skyvern.RunStatusCompleted), string(skyvern.RunStatusCanceled), string(skyvern.RunStatusPaused),
	}
}

// notFinalError is retry_webhook's answer while the run's retry is pending.
func notFinalError(id string) *httpError {
	return &httpError{http.StatusConflict, fmt.Sprintf(
		"Webhook replay for run %s is unavailable until it is final: a retry is pending.", id)}
}

// WaitForFinal blocks until the run is over: a terminal status and no retry
// pending (WaitForStatus returns at the first terminal status, which for a
// workflow with a retry policy may be an attempt that is retried). It
// returns the run's snapshot, ctx's error, ErrRunNotFound or
// ErrServerClosed.
func (s *Server) WaitForFinal(ctx context.Context, runID string) (RunSnapshot, error) {
	var snap RunSnapshot
	var missing bool
	err := s.waitFor(ctx, func() bool {
		r := s.findRunLocked(runID)
		switch {
		case r == nil:
			missing = true
		case r.status.IsTerminal() && !r.retryPending:
			snap = s.snapshotLocked(r)
		default:
			return false
		}
		return true
	})
	if err == nil && missing {
		return RunSnapshot{}, ErrRunNotFound
	}
	return snap, err
}
