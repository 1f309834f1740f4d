package skyvern

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformedPayload is matched by every *PayloadError: the delivery was
// authentic but its JSON does not fit WebhookPayload.
var ErrMalformedPayload = errors.New("skyvern: malformed webhook payload")

var errNoRunID = errors.New("no run_id, task_id or workflow_run_id: not a run webhook")

// ErrNoOutput is returned by [Run.DecodeOutput] and
// [WebhookPayload.DecodeOutput] when the run produced no output (the field
// is absent or null).
var ErrNoOutput = errors.New("skyvern: the run has no output")

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
	Errors              []json.RawMessage `json:"errors,omitempty"`
	StepCount           *int              `json:"step_count,omitempty"`
	RunType             RunType           `json:"run_type,omitempty"`
	AppURL              string            `json:"app_url,omitempty"`
	OrganizationID      string            `json:"organization_id,omitempty"`
	WorkflowRunID       string            `json:"workflow_run_id,omitempty"`
	WorkflowID          string            `json:"workflow_id,omitempty"`
	WorkflowPermanentID string            `json:"workflow_permanent_id,omitempty"`
	ProxyLocation       *Proxy            `json:"proxy_location,omitempty"`
	WebhookCallbackURL  string            `json:"webhook_callback_url,omitempty"`
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

	// Raw is the complete body as received.
	Raw json.RawMessage `json:"-"`
}

// payloadFields has WebhookPayload's fields without its methods, so that
// decoding into it does not recurse into UnmarshalJSON.
type payloadFields WebhookPayload

// payloadWire shadows the timestamp fields with raw JSON, so that a bad
// timestamp is reported with the name of its field.
type payloadWire struct {
	*payloadFields
	CreatedAt  json.RawMessage `json:"created_at"`
	ModifiedAt json.RawMessage `json:"modified_at"`
	QueuedAt   json.RawMessage `json:"queued_at"`
	StartedAt  json.RawMessage `json:"started_at"`
	FinishedAt json.RawMessage `json:"finished_at"`
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
func (p *WebhookPayload) DecodeOutput(v any) error {
	raw, field := p.Output, "output"
	if len(raw) == 0 {
		raw, field = p.Outputs, "outputs"
	}
	err := decodeOutput(raw, v)
	if err != nil && err != ErrNoOutput {
		return &PayloadError{Field: field, Err: err}
	}
	return err
}

// decodeOutput decodes a run's output into v, or reports ErrNoOutput for an
// absent or null one, leaving v unchanged.
func decodeOutput(raw json.RawMessage, v any) error {
	if !hasJSONValue(raw) {
		return ErrNoOutput
	}
	return json.Unmarshal(raw, v)
}

// IsTerminal reports whether the payload's status is final. Skyvern sends
// webhooks only for terminal runs, so false means a status this version of
// the package does not know.
func (p *WebhookPayload) IsTerminal() bool { return p.Status.IsTerminal() }

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
// id and the status, so Skyvern's retries and replays of the same outcome
// share a key. Payloads without run_id (task v2 from older servers) use
// task_id, then workflow_run_id. A payload with none of them is keyed by the
// SHA-256 of its body, which still catches identical retries. The key is
// empty only for a payload with no id and no Raw.
func (p *WebhookPayload) IdempotencyKey() string {
	if id := p.runID(); id != "" {
		return id + ":" + string(p.Status)
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
