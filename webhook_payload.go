package skyvern

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

var errNoRunID = errors.New("no run_id, task_id or workflow_run_id: not a run webhook")

// PayloadError reports a webhook body that could not be decoded. It matches
// ErrMalformedPayload and unwraps to the underlying decoding error.
type PayloadError struct {
	// Field is the JSON field at fault, when known.
	Field string
	// Err is the underlying error (a *json.SyntaxError,
	// *json.UnmarshalTypeError, a timestamp parse error, ...).
	Err error
}

// Error implements error.
func (e *PayloadError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", ErrMalformedPayload, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", ErrMalformedPayload, e.Err)
}

// Unwrap returns the underlying decoding error.
func (e *PayloadError) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformedPayload.
func (e *PayloadError) Is(target error) bool { return target == ErrMalformedPayload }

// WebhookPayload is the body of a Skyvern run webhook.
//
// The server builds it by merging a legacy object (which differs for task
// v1, task v2 and workflow runs) with the run response, so which fields are
// present depends on RunType; absent and null fields keep their zero value.
// Every field Skyvern documents is typed here, along with the useful legacy
// ones; Raw keeps the whole body for anything else.
//
// Unknown status and run_type values decode without error.
type WebhookPayload struct {
	// RunID identifies the run (tsk_..., tsk_v2_... or wr_...). It is
	// absent from task v2 deliveries made by older servers, which carry
	// TaskID instead.
	RunID  string    `json:"run_id,omitempty"`
	TaskID string    `json:"task_id,omitempty"`
	Status RunStatus `json:"status,omitempty"`
	// Output is the data the run extracted: an object, array, string or
	// null (kept as nil). For workflow runs it equals Outputs. Decode it
	// with DecodeOutput. If the workflow defines error_code_mapping, a
	// failed run's output carries an "error" key with the mapped code.
	Output          json.RawMessage `json:"output,omitempty"`
	Summary         string          `json:"summary,omitempty"`
	Prompt          string          `json:"prompt,omitempty"`
	URL             string          `json:"url,omitempty"`
	DownloadedFiles []FileInfo      `json:"downloaded_files,omitempty"`
	RecordingURL    string          `json:"recording_url,omitempty"`
	// ScreenshotURLs lists screenshots, latest first.
	ScreenshotURLs []string `json:"screenshot_urls,omitempty"`
	// FailureReason explains a failed run; see
	// [WebhookPayload.WebhookDeliveryFailed].
	FailureReason *string `json:"failure_reason,omitempty"`
	// Errors holds the error objects the run recorded, as sent.
	Errors    []json.RawMessage `json:"errors,omitempty"`
	StepCount *int              `json:"step_count,omitempty"`
	RunType   RunType           `json:"run_type,omitempty"`
	// Attempt is the workflow attempt the delivery reports, from 1; a
	// payload without one reads as 1.
	Attempt int `json:"attempt,omitempty"`
	// RetryPending marks an interim delivery: the attempt ended with a
	// terminal status, but the workflow's retry policy (with
	// WebhookOnRetryEveryAttempt) will run it again, and the final webhook
	// follows later, possibly with the same status. See IsFinal.
	RetryPending bool `json:"retry_pending,omitempty"`
	// NextAttemptAt is when the pending retry is planned to start.
	NextAttemptAt *Time `json:"next_attempt_at,omitempty"`
	// Attempts lists the run's attempts so far, oldest first.
	Attempts            []RunAttempt `json:"attempts,omitempty"`
	AppURL              string       `json:"app_url,omitempty"`
	OrganizationID      string       `json:"organization_id,omitempty"`
	WorkflowRunID       string       `json:"workflow_run_id,omitempty"`
	WorkflowID          string       `json:"workflow_id,omitempty"`
	WorkflowPermanentID string       `json:"workflow_permanent_id,omitempty"`
	ProxyLocation       *Proxy       `json:"proxy_location,omitempty"`
	WebhookCallbackURL  string       `json:"webhook_callback_url,omitempty"`
	// WebhookFailureReason is the stored outcome of an earlier delivery of
	// this run's webhook: nil before the first attempt, "" after a success,
	// an error message after a failure (so a replay may carry one).
	WebhookFailureReason *string `json:"webhook_failure_reason,omitempty"`
	CreatedAt            Time    `json:"created_at"`
	ModifiedAt           Time    `json:"modified_at"`
	QueuedAt             *Time   `json:"queued_at,omitempty"`
	StartedAt            *Time   `json:"started_at,omitempty"`
	FinishedAt           *Time   `json:"finished_at,omitempty"`

	// RunRequest is the request that started a workflow run; only workflow
	// deliveries carry it.
	RunRequest json.RawMessage `json:"run_request,omitempty"`
	// Outputs maps workflow block labels to their outputs (workflow runs).
	Outputs json.RawMessage `json:"outputs,omitempty"`
	// ExtractedInformation is the task v1 name for Output.
	ExtractedInformation json.RawMessage `json:"extracted_information,omitempty"`
	ActionScreenshotURLs []string        `json:"action_screenshot_urls,omitempty"`
	ScreenshotURL        string          `json:"screenshot_url,omitempty"`
	RecordingURLs        []string        `json:"recording_urls,omitempty"`
	RecordingArchived    bool            `json:"recording_archived,omitempty"`
	BrowserConsoleLogURL string          `json:"browser_console_log_url,omitempty"`
	DownloadedFileURLs   []string        `json:"downloaded_file_urls,omitempty"`
	// FailureCategory holds the server's classification of a failure.
	FailureCategory      []json.RawMessage          `json:"failure_category,omitempty"`
	MaxStepsPerRun       *int                       `json:"max_steps_per_run,omitempty"`
	TotalSteps           *int                       `json:"total_steps,omitempty"`
	TotalCost            *float64                   `json:"total_cost,omitempty"`
	WorkflowTitle        string                     `json:"workflow_title,omitempty"`
	Parameters           map[string]json.RawMessage `json:"parameters,omitempty"`
	AgentID              string                     `json:"agent_id,omitempty"`
	AgentRunID           string                     `json:"agent_run_id,omitempty"`
	BrowserSessionID     string                     `json:"browser_session_id,omitempty"`
	BrowserProfileID     string                     `json:"browser_profile_id,omitempty"`
	ScriptRun            *ScriptRun                 `json:"script_run,omitempty"`
	TOTPVerificationURL  string                     `json:"totp_verification_url,omitempty"`
	TOTPIdentifier       string                     `json:"totp_identifier,omitempty"`
	MaxScreenshotScrolls *int                       `json:"max_screenshot_scrolls,omitempty"`
	RunWith              string                     `json:"run_with,omitempty"`
	AIFallback           *bool                      `json:"ai_fallback,omitempty"`
	ScriptID             string                     `json:"script_id,omitempty"`
	BrowserSeedSource    string                     `json:"browser_seed_source,omitempty"`
	// TaskV2 is the task v2 object behind a workflow run, as sent.
	TaskV2 json.RawMessage `json:"task_v2,omitempty"`
	// CreditsUsed and CachedCreditsUsed are what the run was billed.
	CreditsUsed       *float64 `json:"credits_used,omitempty"`
	CachedCreditsUsed *float64 `json:"cached_credits_used,omitempty"`
	// RetriedFromWorkflowRunID and RetriedByWorkflowRunID link a workflow
	// run to the run it retried, and to the run that retried it, when a
	// retry made a new run (RetryWorkflowRun); retries under a retry policy
	// keep one id and use Attempt instead.
	RetriedFromWorkflowRunID string `json:"retried_from_workflow_run_id,omitempty"`
	RetriedByWorkflowRunID   string `json:"retried_by_workflow_run_id,omitempty"`
	BrowserSinkProfileID     string `json:"browser_sink_profile_id,omitempty"`
	BrowserAddress           string `json:"browser_address,omitempty"`
	// CDPConnectHeaders come masked ("***" values).
	CDPConnectHeaders map[string]string `json:"cdp_connect_headers,omitempty"`
	ExtraHTTPHeaders  map[string]string `json:"extra_http_headers,omitempty"`
	ErrorCodeMapping  map[string]string `json:"error_code_mapping,omitempty"`
	// ExtractedInformationSchema is the task v2 data extraction schema,
	// as sent.
	ExtractedInformationSchema json.RawMessage `json:"extracted_information_schema,omitempty"`
	// Model is the LLM configuration, as sent.
	Model                       json.RawMessage `json:"model,omitempty"`
	WorkflowSystemPrompt        string          `json:"workflow_system_prompt,omitempty"`
	MaxScreenshotScrollingTimes *int            `json:"max_screenshot_scrolling_times,omitempty"`

	// Raw is the complete body as received; nil when the body was too
	// large to hold in memory (see Large).
	Raw json.RawMessage `json:"-"`
	// Large is set on a delivery too large to decode in memory: it reads
	// the body, and the values too large to decode, from disk while the
	// handler's function runs. It is nil otherwise. See Spilled.
	Large *LargeBody `json:"-"`
}

// payloadFields has WebhookPayload's fields without its methods, so that
// decoding into it does not recurse into UnmarshalJSON.
type payloadFields WebhookPayload

// payloadWire shadows the timestamp fields with raw JSON, so that a bad
// timestamp is reported with the name of its field.
type payloadWire struct {
	*payloadFields
	CreatedAt     json.RawMessage `json:"created_at"`
	ModifiedAt    json.RawMessage `json:"modified_at"`
	QueuedAt      json.RawMessage `json:"queued_at"`
	StartedAt     json.RawMessage `json:"started_at"`
	FinishedAt    json.RawMessage `json:"finished_at"`
	NextAttemptAt json.RawMessage `json:"next_attempt_at"`
}

// UnmarshalJSON implements json.Unmarshaler. It keeps a copy of data in Raw
// and reports errors as *PayloadError.
func (p *WebhookPayload) UnmarshalJSON(data []byte) error {
	return p.decode(append(json.RawMessage(nil), data...))
}

// decodePayload decodes an authenticated body; the payload keeps body as Raw.
func decodePayload(body []byte) (*WebhookPayload, error) {
	p := new(WebhookPayload)
	if err := p.decode(body); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *WebhookPayload) decode(raw json.RawMessage) error {
	var fields payloadFields
	wire := payloadWire{payloadFields: &fields}
	if err := json.Unmarshal(raw, &wire); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			// The path runs through the embedded struct; users know
			// only the wire names.
			return &PayloadError{Field: strings.TrimPrefix(typeErr.Field, "payloadFields."), Err: err}
		}
		return &PayloadError{Err: err}
	}
	if err := decodeTime(wire.CreatedAt, "created_at", &fields.CreatedAt); err != nil {
		return err
	}
	if err := decodeTime(wire.ModifiedAt, "modified_at", &fields.ModifiedAt); err != nil {
		return err
	}
	for _, f := range []struct {
		raw  json.RawMessage
		name string
		dst  **Time
	}{
		{wire.QueuedAt, "queued_at", &fields.QueuedAt},
		{wire.StartedAt, "started_at", &fields.StartedAt},
		{wire.FinishedAt, "finished_at", &fields.FinishedAt},
		{wire.NextAttemptAt, "next_attempt_at", &fields.NextAttemptAt},
	} {
		if isJSONNull(f.raw) {
			continue
		}
		*f.dst = new(Time)
		if err := decodeTime(f.raw, f.name, *f.dst); err != nil {
			return err
		}
	}
	if fields.RunID == "" && fields.TaskID == "" && fields.WorkflowRunID == "" {
		// Every run webhook names its run; JSON null, {} or some other
		// object signed with the key is not one, and must not reach the
		// user's function as an empty event.
		return &PayloadError{Field: "run_id", Err: errNoRunID}
	}
	fields.Output = dropNull(fields.Output)
	fields.Outputs = dropNull(fields.Outputs)
	fields.RunRequest = dropNull(fields.RunRequest)
	fields.ExtractedInformation = dropNull(fields.ExtractedInformation)
	fields.TaskV2 = dropNull(fields.TaskV2)
	fields.ExtractedInformationSchema = dropNull(fields.ExtractedInformationSchema)
	fields.Model = dropNull(fields.Model)
	fields.Attempt = firstAttempt(fields.Attempt)
	fields.Raw = raw
	*p = WebhookPayload(fields)
	return nil
}

func decodeTime(raw json.RawMessage, field string, dst *Time) error {
	if isJSONNull(raw) {
		return nil
	}
	if bytes.IndexByte(raw, '\\') >= 0 && raw[0] == '"' {
		// Time reads the string's bytes as they are; resolve JSON escapes
		// first, as any JSON encoder may use them.
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return &PayloadError{Field: field, Err: err}
		}
		t, err := ParseTime(s)
		if err != nil {
			return &PayloadError{Field: field, Err: err}
		}
		*dst = t
		return nil
	}
	if err := dst.UnmarshalJSON(raw); err != nil {
		return &PayloadError{Field: field, Err: err}
	}
	return nil
}

// isJSONNull reports whether raw is absent or the literal null.
func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

func dropNull(raw json.RawMessage) json.RawMessage {
	if isJSONNull(raw) {
		return nil
	}
	return raw
}

// DecodeOutput decodes the run's output into v, which should be a pointer to
// a type matching the data the run extracts. Workflow payloads carry the
// same data in both output and outputs; when output is missing, outputs is
// used. If the run produced no output, DecodeOutput returns ErrNoOutput and
// leaves v unchanged; an output that does not fit v gives a *PayloadError.
//
// For a spilled payload (see Spilled) whose output was left on disk,
// DecodeOutput reads it from there, which brings it into memory; stream it
// with LargeValue and a json.Decoder instead to keep memory bounded.
func (p *WebhookPayload) DecodeOutput(v any) error {
	for _, f := range []struct {
		raw  json.RawMessage
		name string
	}{{p.Output, "output"}, {p.Outputs, "outputs"}} {
		if err := decodeOutput(f.raw, v); err != ErrNoOutput {
			if err != nil {
				return &PayloadError{Field: f.name, Err: err}
			}
			return nil
		}
		if r, ok := p.largeJSON(f.name); ok {
			return decodeLarge(r, f.name, v)
		}
	}
	return ErrNoOutput
}

// decodeOutput decodes a run's output into v, or reports ErrNoOutput for an
// absent or null one, leaving v unchanged.
func decodeOutput(raw json.RawMessage, v any) error {
	if !keptjson.HasValue(raw) {
		return ErrNoOutput
	}
	return json.Unmarshal(raw, v)
}

// IsTerminal reports whether the payload's status is terminal. Skyvern
// sends webhooks only for terminal statuses, so false means a status this
// version of the package does not know. An interim delivery of a retried
// workflow is terminal too; see IsFinal.
func (p *WebhookPayload) IsTerminal() bool { return p.Status.IsTerminal() }

// IsFinal reports whether the delivery carries the run's final outcome: a
// terminal status and no retry pending. It is false for the interim
// deliveries a workflow with WebhookOnRetryEveryAttempt sends for each
// attempt that will be retried; Handler passes only final deliveries to its
// function (see WithInterimHook).
func (p *WebhookPayload) IsFinal() bool { return p.Status.IsTerminal() && !p.RetryPending }

// WebhookDeliveryFailed reports whether the run itself was marked failed
// because a webhook could not be delivered: its FailureReason mentions the
// webhook (for example "Failed to run task 2.0: Failed to send webhook.").
// The browser work may have succeeded anyway, so Output can still hold the
// extracted data.
//
// It does not tell whether an earlier delivery of this webhook failed; that
// is [WebhookPayload.WebhookFailureReason], non-empty after a failed
// delivery.
func (p *WebhookPayload) WebhookDeliveryFailed() bool {
	return p.FailureReason != nil && strings.Contains(strings.ToLower(*p.FailureReason), "webhook")
}

// IdempotencyKey identifies this delivery's event for deduplication: the run
// id, the status and the attempt, so Skyvern's retries and replays of the
// same outcome share a key while each attempt of a retried workflow has its
// own. An interim delivery (RetryPending) is keyed apart from the final one,
// so an interim failed never hides a final failed.
//
// The forms are "run_id:status" for attempt 1 (the key of every delivery
// from servers without retry policies, unchanged from earlier versions, so
// a store filled by them still deduplicates), "run_id:status:attempt-N" for
// a later attempt, and either followed by ":interim" for an interim
// delivery.
//
// Payloads without run_id (task v2 from older servers) use task_id, then
// workflow_run_id. A payload with none of them is keyed by the SHA-256 of
// its body, which still catches identical retries. The key is empty only for
// a payload with no id and no Raw.
func (p *WebhookPayload) IdempotencyKey() string {
	if id := p.runID(); id != "" {
		key := id + ":" + string(p.Status)
		if p.Attempt > 1 {
			key += ":attempt-" + strconv.Itoa(p.Attempt)
		}
		if p.RetryPending {
			key += ":interim"
		}
		return key
	}
	if len(p.Raw) == 0 {
		return ""
	}
	sum := sha256.Sum256(p.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// runID is the id the run was started under: run_id, or for payloads from
// servers that did not send it, task_id (task runs) then workflow_run_id.
func (p *WebhookPayload) runID() string {
	switch {
	case p.RunID != "":
		return p.RunID
	case p.TaskID != "":
		return p.TaskID
	}
	return p.WorkflowRunID
}
