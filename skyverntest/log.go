package skyverntest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// Redacted replaces credentials in the request log.
const Redacted = "REDACTED"

// Request is one request the server received, as logged for assertions.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  url.Values
	// Header is the request's header with x-api-key and Authorization
	// replaced by Redacted.
	Header http.Header
	Body   []byte
	// Route is the operation matched, "" for an unknown path.
	Route Route
	// StatusCode is the status sent, 0 when no answer was sent (a dropped
	// connection, or a request still in progress).
	StatusCode int
	// Fault is the fault applied to the request, if any.
	Fault *Fault
}

// DeliveryAttempt is one POST of a webhook to a receiver.
type DeliveryAttempt struct {
	RunID string
	URL   string
	// Attempt counts from 1 within one delivery; a replay is always 1.
	Attempt int
	// Replay is true for a retry_webhook replay.
	Replay bool
	// Header holds the headers sent, with canonical keys (the wire keys of
	// the Skyvern headers are lower-case).
	Header http.Header
	// Body is the exact signed body.
	Body []byte
	// Time is when the attempt was made, on the server's clock.
	Time time.Time
	// Duration is how long the receiver took to answer.
	Duration time.Duration
	// StatusCode is the receiver's status, 0 when no response arrived.
	StatusCode   int
	ResponseBody string
	// Err names the transport failure the way Skyvern records it
	// ("ReadTimeout", "ConnectError: [Errno 111] Connection refused"); ""
	// when a response arrived.
	Err string
	// RetryDelay is the wait Skyvern's rules planned before the next
	// attempt (before WithDeliveryTimeScale); 0 when there was none.
	RetryDelay time.Duration
}

// WebhookDelivery is the outcome of one original (not replayed) webhook
// delivery, all of its attempts included.
type WebhookDelivery struct {
	RunID    string
	URL      string
	Attempts []DeliveryAttempt
	// Interim marks the webhook of a workflow attempt that its retry
	// policy retries (retry_pending true in the body).
	Interim bool
	// FailureReason is the webhook_failure_reason Skyvern stores: "" on
	// success, otherwise "Webhook failed with status code ..." or "Webhook
	// delivery failed before receiving a response: ...".
	FailureReason string
}

// RunSnapshot is a copy of a run's state.
type RunSnapshot struct {
	ID     string
	Type   skyvern.RunType
	Status skyvern.RunStatus
	// WorkflowPermanentID is set for workflow runs and for the workflow
	// behind a task v2 run; WorkflowRunID likewise.
	WorkflowPermanentID string
	WorkflowRunID       string
	WebhookURL          string
	// WebhookFailureReason is nil until a delivery finished.
	WebhookFailureReason *string
	FailureReason        string
	// Output is the output as get_run would show it; nil when null.
	Output json.RawMessage
	// MaxStepsOverride is the x-max-steps-override header of run_workflow.
	MaxStepsOverride *int
	// Attempt is the current attempt of a workflow run with a retry policy
	// (1 for every other run); RetryPending tells that the run's terminal
	// status will be followed by another attempt.
	Attempt      int
	RetryPending bool
	// Request is the body of the request that created the run.
	Request                                                []byte
	CreatedAt, ModifiedAt, QueuedAt, StartedAt, FinishedAt time.Time
}

// WorkflowSnapshot is a copy of a workflow's latest version.
type WorkflowSnapshot struct {
	WorkflowPermanentID string
	WorkflowID          string
	Version             int
	Title               string
	WebhookCallbackURL  string
	FolderID            string
	Status              string
	IdempotencyKey      string
	Deleted             bool
	// JSON is the workflow as get_workflow returns it.
	JSON json.RawMessage
}

func (s *Server) logRequest(r *http.Request, body []byte, route Route) int {
	h := r.Header.Clone()
	for _, k := range []string{"X-Api-Key", "Authorization"} {
		if _, ok := h[k]; ok {
			h[k] = []string{Redacted}
		}
	}
	entry := Request{
		Time: s.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: h, Body: body, Route: route,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, entry)
	return len(s.requests) - 1
}

func (s *Server) setRequestStatus(i, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[i].StatusCode = status
}

func (s *Server) setRequestFault(i int, f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *f
	s.requests[i].Fault = &cp
}

// copyAll returns f applied to every element, under the server's lock, so
// that callers get copies they may keep and change.
func copyAll[T, U any](s *Server, in *[]T, f func(T) U) []U {
	s.mu.Lock()
	defer s.mu.Unlock()
	return mapSlice(*in, f)
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	return copyAll(s, &s.requests, func(r Request) Request {
		r.Header = r.Header.Clone()
		r.Query = cloneValues(r.Query)
		r.Body = append([]byte(nil), r.Body...)
		if r.Fault != nil {
			f := *r.Fault
			r.Fault = &f
		}
		return r
	})
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Deliveries returns every webhook attempt made so far, replays included,
// oldest first.
func (s *Server) Deliveries() []DeliveryAttempt {
	return copyAll(s, &s.attempts, cloneAttempt)
}

func cloneAttempt(a DeliveryAttempt) DeliveryAttempt {
	a.Header = a.Header.Clone()
	a.Body = append([]byte(nil), a.Body...)
	return a
}

// Webhooks returns the original webhook deliveries finished so far, oldest
// first.
func (s *Server) Webhooks() []WebhookDelivery {
	return copyAll(s, &s.webhooks, cloneDelivery)
}

func cloneDelivery(wd WebhookDelivery) WebhookDelivery {
	wd.Attempts = mapSlice(wd.Attempts, cloneAttempt)
	return wd
}

// WaitForDelivery blocks until the first original webhook delivery of a run
// has finished (all attempts made) and returns it.
func (s *Server) WaitForDelivery(ctx context.Context, runID string) (WebhookDelivery, error) {
	ds, err := s.WaitForDeliveries(ctx, runID, 1)
	if err != nil {
		return WebhookDelivery{}, err
	}
	return ds[0], nil
}

// WaitForDeliveries blocks until n original webhook deliveries of a run have
// finished and returns the first n. A run gets more than one when a
// finished workflow run is canceled again (Skyvern resends its webhook).
func (s *Server) WaitForDeliveries(ctx context.Context, runID string, n int) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := s.waitFor(ctx, func() bool {
		out = out[:0]
		for _, wd := range s.webhooks {
			if wd.RunID == runID && len(out) < n {
				out = append(out, cloneDelivery(wd))
			}
		}
		return len(out) >= n
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) snapshotLocked(r *run) RunSnapshot {
	snap := RunSnapshot{
		ID: r.id, Type: r.runType, Status: r.status,
		WebhookURL: r.webhookURL, MaxStepsOverride: r.maxStepsOverride,
		Attempt: r.attemptNumber(), RetryPending: r.retryPending,
		Request:   append([]byte(nil), r.rawRequest...),
		CreatedAt: r.createdAt, ModifiedAt: r.modifiedAt, QueuedAt: r.queuedAt, StartedAt: r.startedAt, FinishedAt: r.finishedAt,
	}
	if r.webhookFailureReason != nil {
		reason := *r.webhookFailureReason
		snap.WebhookFailureReason = &reason
	}
	if r.failureReason != nil {
		snap.FailureReason = *r.failureReason
	}
	if r.output != nil {
		snap.Output = pyjson.Encode(r.output, pyjson.Response)
	}
	switch {
	case r.workflow != nil:
		snap.WorkflowPermanentID, snap.WorkflowRunID = r.workflow.WorkflowPermanentID, r.id
	case r.v2 != nil:
		snap.WorkflowPermanentID, snap.WorkflowRunID = r.v2.workflowPermanentID, r.v2.workflowRunID
	}
	return snap
}

// Run returns a snapshot of one run (looked up like get_run does).
func (s *Server) Run(runID string) (RunSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRunLocked(runID)
	if r == nil {
		return RunSnapshot{}, false
	}
	return s.snapshotLocked(r), true
}

// Runs returns snapshots of all runs, in creation order.
func (s *Server) Runs() []RunSnapshot {
	return copyAll(s, &s.runOrder, s.snapshotLocked)
}

// RunCount returns the number of runs created.
func (s *Server) RunCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runOrder)
}
