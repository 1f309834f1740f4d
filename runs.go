package skyvern

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// TaskRunRequest is the body of RunTask. Only Prompt is required; every
// unset field is left out of the request so the server applies its default.
//
// A task's webhook is WebhookURL, at the top level. (webhook_callback_url is
// the name inside a workflow definition, see WorkflowDefinition; a task has
// no such field.)
type TaskRunRequest struct {
	// Prompt says what the agent should do.
	Prompt string `json:"prompt"`
	// URL is the page to start on. Without it, v1 engines ask an LLM to
	// choose one.
	URL string `json:"url,omitempty"`
	// Engine selects the agent (server default RunEngineSkyvernV1).
	Engine RunEngine `json:"engine,omitempty"`
	// Title names the run in the Skyvern UI.
	Title string `json:"title,omitempty"`
	// ProxyLocation selects the proxy (server default RESIDENTIAL);
	// NewProxy(ProxyNone) turns it off.
	ProxyLocation *Proxy `json:"proxy_location,omitempty"`
	// DataExtractionSchema describes the output: a JSON Schema object, an
	// array, or a string.
	DataExtractionSchema any `json:"data_extraction_schema,omitempty"`
	// ErrorCodeMapping maps your error codes to conditions in prose; a failed
	// run then carries output.error with the matching code.
	ErrorCodeMapping map[string]string `json:"error_code_mapping,omitempty"`
	// MaxSteps caps the number of agent steps.
	MaxSteps *int `json:"max_steps,omitempty"`
	// WebhookURL receives the signed result when the run ends.
	WebhookURL string `json:"webhook_url,omitempty"`
	// TOTPIdentifier tells Skyvern which TOTP code to use.
	TOTPIdentifier string `json:"totp_identifier,omitempty"`
	// TOTPURL is called by Skyvern to get a TOTP code (see TOTPHandler).
	TOTPURL string `json:"totp_url,omitempty"`
	// BrowserSessionID runs the task in an existing browser session (pbs_…).
	BrowserSessionID string `json:"browser_session_id,omitempty"`
	// BrowserProfileID starts the browser from a saved profile (bp_…);
	// skyvern-2.0 only.
	BrowserProfileID string `json:"browser_profile_id,omitempty"`
	// StartFreshBrowser ignores saved browser state; skyvern-2.0 only.
	StartFreshBrowser bool `json:"start_fresh_browser,omitempty"`
	// Model selects and configures the LLM.
	Model map[string]any `json:"model,omitempty"`
	// ExtraHTTPHeaders are sent by the browser on every request.
	ExtraHTTPHeaders map[string]string `json:"extra_http_headers,omitempty"`
	// CDPConnectHeaders are sent when connecting to BrowserAddress; the
	// server echoes them masked.
	CDPConnectHeaders map[string]string `json:"cdp_connect_headers,omitempty"`
	// PublishWorkflow saves the task as a workflow.
	//
	// Deprecated: the server keeps it for compatibility only.
	PublishWorkflow bool `json:"publish_workflow,omitempty"`
	// IncludeActionHistoryInVerification shows the action history to the
	// completion check.
	IncludeActionHistoryInVerification *bool `json:"include_action_history_in_verification,omitempty"`
	// MaxScreenshotScrolls caps scrolling screenshots (0 to 1000).
	MaxScreenshotScrolls *int `json:"max_screenshot_scrolls,omitempty"`
	// BrowserAddress connects to your own browser (http(s) or ws(s) CDP URL).
	BrowserAddress string `json:"browser_address,omitempty"`
	// RunWith is "agent" or "code".
	RunWith string `json:"run_with,omitempty"`
	// FileIDs attaches files uploaded beforehand (at most 50); the server
	// deletes them when the run ends.
	FileIDs []string `json:"file_ids,omitempty"`

	// XUserAgent is sent as Skyvern's x-user-agent header, which the server
	// records as what triggered the run (a scheduler, a service); it is not
	// part of the body.
	XUserAgent string `json:"-"`
}

// Run is a task run or a workflow run, as returned by RunTask, RunWorkflow
// and GetRun. It covers both of Skyvern's response shapes
// (TaskRunResponse and WorkflowRunResponse, told apart by RunType); fields
// that one shape lacks stay zero. Raw keeps the JSON as received, so fields
// this SDK does not model yet are not lost.
//
// A Run decoded from JSON encodes back to what the server sent, explicit
// nulls, empty lists and empty strings included, and with its fields edited
// only the changed keys are replaced (as for a [Workflow]). Compare runs
// with [Run.Equal], which go-cmp also uses.
type Run struct {
	RunID             string          `json:"run_id"`
	Status            RunStatus       `json:"status"`
	Output            json.RawMessage `json:"output,omitempty"`
	DownloadedFiles   []FileInfo      `json:"downloaded_files,omitempty"`
	RecordingURL      string          `json:"recording_url,omitempty"`
	RecordingArchived bool            `json:"recording_archived,omitempty"`
	// ScreenshotURLs lists screenshots, latest first.
	ScreenshotURLs       []string          `json:"screenshot_urls,omitempty"`
	FailureReason        string            `json:"failure_reason,omitempty"`
	CreatedAt            Time              `json:"created_at"`
	ModifiedAt           Time              `json:"modified_at"`
	QueuedAt             *Time             `json:"queued_at,omitempty"`
	StartedAt            *Time             `json:"started_at,omitempty"`
	FinishedAt           *Time             `json:"finished_at,omitempty"`
	AppURL               string            `json:"app_url,omitempty"`
	BrowserSessionID     string            `json:"browser_session_id,omitempty"`
	BrowserProfileID     string            `json:"browser_profile_id,omitempty"`
	MaxScreenshotScrolls *int              `json:"max_screenshot_scrolls,omitempty"`
	ScriptRun            *ScriptRun        `json:"script_run,omitempty"`
	Errors               []json.RawMessage `json:"errors,omitempty"`
	StepCount            *int              `json:"step_count,omitempty"`
	RunType              RunType           `json:"run_type"`
	// Attempt is the number of the workflow attempt this state belongs to,
	// from 1; a server or run type that does not report it reads as 1.
	Attempt int `json:"attempt,omitempty"`
	// RetryPending is true while the status is terminal but the workflow's
	// retry policy will start another attempt under the same run id (or has
	// not decided yet). See IsFinal.
	RetryPending bool `json:"retry_pending,omitempty"`
	// NextAttemptAt is when the pending retry is planned to start, if known.
	NextAttemptAt *Time `json:"next_attempt_at,omitempty"`
	// Attempts lists the workflow run's attempts, oldest first.
	Attempts []RunAttempt `json:"attempts,omitempty"`
	// RunWith, AIFallback, ScriptID and BrowserSeedSource are set on
	// workflow runs only.
	RunWith           string `json:"run_with,omitempty"`
	AIFallback        *bool  `json:"ai_fallback,omitempty"`
	ScriptID          string `json:"script_id,omitempty"`
	BrowserSeedSource string `json:"browser_seed_source,omitempty"`
	// RunRequest is the request the server recorded for the run: a
	// TaskRunRequest for task runs, a WorkflowRunRequest (with
	// "workflow_id") for workflow runs. Decode it with DecodeRunRequest.
	RunRequest json.RawMessage `json:"run_request,omitempty"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`

	kept keptjson.Kept
}

// HasOutput reports whether the run carries an output (not absent or null).
func (r *Run) HasOutput() bool { return keptjson.HasValue(r.Output) }

// DecodeOutput decodes the run's output into v, which should be a pointer to
// a type matching your data extraction schema. A run without output (absent
// or null) gives [ErrNoOutput] and leaves v unchanged, as
// [WebhookPayload.DecodeOutput] does; an output that does not fit v gives
// the decoding error.
func (r *Run) DecodeOutput(v any) error { return decodeOutput(r.Output, v) }

// DecodeRunRequest decodes the recorded request into v (a *TaskRunRequest
// for task runs; for workflow runs, a *WorkflowRunRequest).
func (r *Run) DecodeRunRequest(v any) error {
	if !keptjson.HasValue(r.RunRequest) {
		return fmt.Errorf("skyvern: run %s has no run_request", r.RunID)
	}
	return json.Unmarshal(r.RunRequest, v)
}

// IsTerminal reports whether the run's status is terminal. For a workflow
// with a retry policy that is the end of an attempt, not necessarily of the
// run: use IsFinal to know whether the result is the last one.
func (r *Run) IsTerminal() bool { return r.Status.IsTerminal() }

// IsFinal reports whether the run is over: its status is terminal and no
// retry is pending. A failed attempt that the workflow's retry policy will
// repeat is terminal but not final. On servers and runs without retry
// policies IsFinal equals IsTerminal.
func (r *Run) IsFinal() bool { return r.Status.IsTerminal() && !r.RetryPending }

// RunAttempt is one attempt of a workflow run retried under its retry policy
// (the server's WorkflowRunAttempt).
type RunAttempt struct {
	// AttemptNumber counts from 1.
	AttemptNumber int       `json:"attempt_number"`
	Status        RunStatus `json:"status"`
	FailureReason string    `json:"failure_reason,omitempty"`
	// ErrorCodes are the codes the attempt failed with, which the policy's
	// RetryRule.ErrorCodes are matched against.
	ErrorCodes []string `json:"error_codes,omitempty"`
	StartedAt  *Time    `json:"started_at,omitempty"`
	FinishedAt *Time    `json:"finished_at,omitempty"`
	// RetryDecision is empty until the server decides.
	RetryDecision  RetryDecision `json:"retry_decision,omitempty"`
	DecisionReason string        `json:"decision_reason,omitempty"`
	NextAttemptAt  *Time         `json:"next_attempt_at,omitempty"`
	// WebhookSentAt is set once a webhook for this attempt was delivered.
	WebhookSentAt *Time `json:"webhook_sent_at,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler and keeps the raw JSON in Raw.
func (r *Run) UnmarshalJSON(data []byte) error {
	type plain Run
	// An absent or null attempt is the server's default, 1: set before the
	// decode, so that re-encoding does not take it for an edit.
	r.Attempt = 1
	if err := keptjson.Decode(data, (*plain)(r), &r.kept); err != nil {
		return err
	}
	r.Raw = r.kept.Raw()
	r.Attempt = firstAttempt(r.Attempt)
	return nil
}

// firstAttempt reads a nonsensical attempt number (0 or less) as 1, the
// server's default, so that runs from servers without retry policies are
// attempt 1.
func firstAttempt(n int) int { return max(n, 1) }

// MarshalJSON implements json.Marshaler. A decoded Run gives back the JSON
// it was decoded from, with the keys of edited fields replaced.
func (r Run) MarshalJSON() ([]byte, error) {
	type plain Run
	return r.kept.Encode(keptjson.Marshal(plain(r)))
}

// Equal reports whether r and o encode to the same JSON value (key order
// and spacing aside), so values the server sent that Run has no field for
// count too. go-cmp calls it, which lets tests compare runs with cmp.Diff.
func (r Run) Equal(o Run) bool { return keptjson.Equal(r, o) }

// decodeRun decodes a run response; the body is not copied again, since
// do returned a buffer of its own. For RunTask and RunWorkflow a body that
// is not a run is an unknown outcome (see malformedResponse).
func decodeRun(call apiCall, body []byte) (*Run, error) {
	type plain Run
	run := Run{Attempt: 1} // absent or null: the server's default (see UnmarshalJSON)
	if err := decodeJSON(call, body, (*plain)(&run)); err != nil {
		return nil, err
	}
	if run.RunID == "" {
		return nil, malformedResponse(call, "no run_id in response")
	}
	if err := run.kept.Record(body, (*plain)(&run)); err != nil {
		return nil, fmt.Errorf("skyvern: %s %s: %w", call.method, call.path, err)
	}
	run.Raw = body
	run.Attempt = firstAttempt(run.Attempt)
	return &run, nil
}

// RunTask starts a browser task (POST /v1/run/tasks) and returns the created
// run, usually still queued. The result arrives at req.WebhookURL or by
// polling (WaitForRun).
//
// RunTask is sent again only if the previous attempt provably never reached
// the server, or was refused with 429. After a 5xx, a timeout or a dropped
// connection the run may exist already, so the error satisfies
// errors.Is(err, ErrOutcomeUnknown) instead of a blind retry creating a
// second run. [Client.ResolveOutcome] then finds the run or proves there is
// none; with WithOutcomeResolution (per call or for the client)
// RunTask does so itself and resends only after such a proof.
func (c *Client) RunTask(ctx context.Context, req *TaskRunRequest, opts ...RequestOption) (*Run, error) {
	if req == nil {
		return nil, &InvalidRequestError{Field: "request", Reason: "must not be nil"}
	}
	if isBlank(req.Prompt) {
		return nil, &InvalidRequestError{Field: "prompt", Reason: "is required"}
	}
	if err := validateCallbackURL("webhook_url", req.WebhookURL); err != nil {
		return nil, err
	}
	if err := validateCallbackURL("totp_url", req.TOTPURL); err != nil {
		return nil, err
	}
	if !validHeaderValue(req.XUserAgent) {
		return nil, &InvalidRequestError{Field: "x-user-agent", Reason: "must not contain control characters"}
	}
	if err := validateFileIDs(req.FileIDs); err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "run", "tasks"), body: req, class: retryUnsafe, header: xUserAgentHeader(req.XUserAgent)}
	return c.createRun(ctx, call, &rc)
}

// GetRun returns a run by id (tsk_…, tsk_v2_…, wr_…). A missing run gives an
// error matching ErrNotFound.
func (c *Client) GetRun(ctx context.Context, runID string, opts ...RequestOption) (*Run, error) {
	if err := requireID("run_id", runID); err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "runs", runID), class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	return decodeRun(call, resp.body)
}

// CancelRun cancels a run (POST /v1/runs/{id}/cancel), sending no body (the
// route declares none). Skyvern then sends the run's webhook with status
// canceled. Cancelling a finished task run is an error (400); cancelling a
// finished workflow run is a no-op. A canceled run is never retried by its
// workflow's retry policy, so cancelling a workflow run between attempts
// (Run.RetryPending) ends it as canceled.
//
// Like RunTask, CancelRun is not blindly retried; an ambiguous failure
// matches ErrOutcomeUnknown. Cancelling again is harmless, so callers may
// simply retry it.
func (c *Client) CancelRun(ctx context.Context, runID string, opts ...RequestOption) error {
	if err := requireID("run_id", runID); err != nil {
		return err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "runs", runID, "cancel"), class: retryUnsafe}
	_, err := c.do(ctx, call, &rc)
	return err
}

// RetryRunWebhookRequest is the optional body of RetryRunWebhook.
type RetryRunWebhookRequest struct {
	// WebhookURL sends the replay to this URL instead of the one stored on
	// the run.
	WebhookURL string `json:"webhook_url,omitempty"`
}

// WebhookReplay reports the delivery made by RetryRunWebhook. Skyvern
// delivers the replay once, synchronously, and reports the outcome; a
// server that answers with an empty body leaves every field but RunID zero.
//
// Like a [Run], a decoded WebhookReplay encodes back to the JSON the server
// sent (nulls and empty strings included); compare replays with
// [WebhookReplay.Equal].
type WebhookReplay struct {
	RunID   string  `json:"run_id"`
	RunType RunType `json:"run_type"`
	// DefaultWebhookURL is the URL stored on the run.
	DefaultWebhookURL string `json:"default_webhook_url,omitempty"`
	// TargetWebhookURL is the URL actually called.
	TargetWebhookURL string `json:"target_webhook_url,omitempty"`
	// Payload is the exact signed body that was sent.
	Payload string `json:"payload"`
	// Headers are the headers that were sent, signature included.
	Headers map[string]string `json:"headers"`
	// StatusCode is the receiver's status; nil when no response came.
	StatusCode *int `json:"status_code,omitempty"`
	// LatencyMS is the delivery's duration in milliseconds.
	LatencyMS *int64 `json:"latency_ms,omitempty"`
	// ResponseBody is the receiver's answer, truncated by the server to
	// about 2 KiB.
	ResponseBody string `json:"response_body,omitempty"`
	// Error describes a delivery that got no response (timeout, unreachable).
	Error string `json:"error,omitempty"`

	kept keptjson.Kept
}

// UnmarshalJSON implements json.Unmarshaler, remembering the JSON for
// MarshalJSON.
func (w *WebhookReplay) UnmarshalJSON(data []byte) error {
	type plain WebhookReplay
	return keptjson.Decode(data, (*plain)(w), &w.kept)
}

// MarshalJSON implements json.Marshaler. A decoded WebhookReplay gives back
// the JSON it was decoded from, with the keys of edited fields replaced.
func (w WebhookReplay) MarshalJSON() ([]byte, error) {
	type plain WebhookReplay
	return w.kept.Encode(keptjson.Marshal(plain(w)))
}

// Equal reports whether w and o encode to the same JSON value (key order
// and spacing aside); go-cmp calls it.
func (w WebhookReplay) Equal(o WebhookReplay) bool { return keptjson.Equal(w, o) }

// Delivered reports whether the receiver answered with a 2xx status.
func (w *WebhookReplay) Delivered() bool {
	return w.StatusCode != nil && *w.StatusCode >= 200 && *w.StatusCode <= 299
}

// RetryRunWebhook sends a finished run's webhook again
// (POST /v1/runs/{id}/retry_webhook), to the stored URL or to
// req.WebhookURL; req may be nil. The payload is rebuilt from the run's
// current state and signed with a new timestamp. The run must be terminal
// (else 400, ErrValidation) and final: while a workflow retry is pending, or
// the latest attempt has no final decision yet, the server answers 409 and
// the error matches ErrRunNotFinal. That 409 is never retried here; wait for
// the run to be final (WaitForRun) and replay then.
//
// It is not blindly retried: a replay that was delivered but whose answer was
// lost would be delivered again. An ambiguous failure matches
// ErrOutcomeUnknown; receivers that dedupe (see Webhook.Handler) make a
// second replay harmless.
func (c *Client) RetryRunWebhook(ctx context.Context, runID string, req *RetryRunWebhookRequest, opts ...RequestOption) (*WebhookReplay, error) {
	if err := requireID("run_id", runID); err != nil {
		return nil, err
	}
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "runs", runID, "retry_webhook"), class: retryUnsafe}
	if req != nil {
		if err := validateCallbackURL("webhook_url", req.WebhookURL); err != nil {
			return nil, err
		}
		call.body = req
	}
	rc := c.newRequestConfig(opts)
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict {
			return nil, fmt.Errorf("%w: %w", ErrRunNotFinal, err)
		}
		return nil, err
	}
	replay := &WebhookReplay{}
	if keptjson.HasValue(resp.body) {
		if err := decodeJSON(call, resp.body, replay); err != nil {
			return nil, err
		}
	}
	if replay.RunID == "" {
		replay.RunID = runID
	}
	return replay, nil
}

// xUserAgentHeader is the x-user-agent header of RunTask and RunWorkflow,
// or nil when v is empty.
func xUserAgentHeader(v string) http.Header {
	if v == "" {
		return nil
	}
	return http.Header{"X-User-Agent": {v}}
}

// validateCallbackURL checks a URL that Skyvern will call back: it must be an
// absolute http(s) URL. Skyvern itself would prepend https:// to a bare host
// and reject other schemes; failing here names the field before anything is
// sent.
func validateCallbackURL(field, raw string) error {
	if raw == "" {
		return nil
	}
	if err := checkAbsoluteHTTPURL(raw); err != nil {
		return &InvalidRequestError{Field: field, Reason: err.Error()}
	}
	return nil
}

func checkAbsoluteHTTPURL(raw string) error {
	if len(raw) > 2083 {
		return errors.New("must be at most 2083 characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		// The value is not echoed: it may hold a token, and %q would show
		// it escaped.
		if u.Scheme == "" {
			return errors.New("must be an absolute http(s) URL; it has no scheme")
		}
		return errors.New("must be an absolute http(s) URL; its scheme is " + strings.ToLower(u.Scheme))
	}
	if u.Host == "" {
		return errors.New("must include a host")
	}
	return nil
}
