package skyvern

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// WorkflowRequest is the body of CreateWorkflow and UpdateWorkflow: a
// definition given either as Go structs (JSONDefinition) or as YAML text
// (YAMLDefinition). Exactly one must be set; the server would silently
// ignore JSONDefinition when both are.
type WorkflowRequest struct {
	// JSONDefinition is the workflow as structs. It carries the workflow's
	// default webhook, WebhookCallbackURL.
	JSONDefinition *WorkflowDefinition `json:"json_definition,omitempty"`
	// YAMLDefinition is the workflow as Skyvern YAML (the same fields as
	// WorkflowDefinition). Its default webhook key is webhook_callback_url;
	// a top-level webhook_url key is refused before sending.
	YAMLDefinition string `json:"yaml_definition,omitempty"`
	// FolderID files the new workflow in a folder (fld_…), overriding
	// JSONDefinition.FolderID. It is sent as the folder_id query parameter,
	// which only CreateWorkflow's route reads; UpdateWorkflow refuses it
	// (set JSONDefinition.FolderID instead).
	FolderID string `json:"-"`
	// IdempotencyKey is the Idempotency-Key of a CreateWorkflow call,
	// instead of the random one the call generates. The server derives the
	// workflow's permanent id from the key, so every call with the same key
	// returns the same workflow, created once. Use it to retry a call that
	// failed with ErrOutcomeUnknown: set it to the *OutcomeUnknownError's
	// IdempotencyKey. A key is 1 to 255 visible ASCII characters
	// (0x21–0x7E). UpdateWorkflow refuses it: its route does not read the
	// header.
	IdempotencyKey string `json:"-"`
}

// WorkflowDefinition is a workflow with its run defaults (the server's
// WorkflowCreateYAMLRequest), sent as WorkflowRequest.JSONDefinition. Only
// Title and WorkflowDefinition are required; unset fields are left out so
// the server applies its defaults.
//
// WebhookCallbackURL is the workflow's default webhook. There is deliberately
// no WebhookURL field: webhook_url is the per-run override and belongs to
// WorkflowRunRequest (and TaskRunRequest). The server ignores unknown keys,
// so a webhook_url sent when creating a workflow is silently dropped and its
// runs send no webhook; here that mistake does not compile. Where the
// webhook goes (the Skyvern webhooks guide's quick reference):
//
//	Context                  Wire name             Go field
//	Task run                 webhook_url           TaskRunRequest.WebhookURL, top level
//	Workflow create/update   webhook_callback_url  WorkflowDefinition.WebhookCallbackURL, inside json_definition
//	Workflow run (override)  webhook_url           WorkflowRunRequest.WebhookURL, top level
type WorkflowDefinition struct {
	// Title is required.
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// ProxyLocation is the default proxy of the workflow's runs.
	ProxyLocation *Proxy `json:"proxy_location,omitempty"`
	// WebhookCallbackURL receives the signed result of every run of this
	// workflow that does not set WorkflowRunRequest.WebhookURL.
	WebhookCallbackURL string `json:"webhook_callback_url,omitempty"`
	// TOTPVerificationURL is called by Skyvern to get a TOTP code.
	TOTPVerificationURL string `json:"totp_verification_url,omitempty"`
	TOTPIdentifier      string `json:"totp_identifier,omitempty"`
	// PersistBrowserSession keeps the browser session after a run.
	PersistBrowserSession bool `json:"persist_browser_session,omitempty"`
	ReuseBrowserSession   bool `json:"reuse_browser_session,omitempty"`
	// MaskSecrets hides secret values in screenshots, recordings and logs.
	MaskSecrets       *bool  `json:"mask_secrets,omitempty"`
	PinSavedSessionIP bool   `json:"pin_saved_session_ip,omitempty"`
	BrowserProfileID  string `json:"browser_profile_id,omitempty"`
	BrowserProfileKey string `json:"browser_profile_key,omitempty"`
	// Model selects and configures the LLM.
	Model map[string]any `json:"model,omitempty"`
	// BrowserType is the default browser of the workflow's runs
	// (BrowserTypeChrome, ...); WorkflowRunRequest.BrowserType overrides it.
	BrowserType BrowserType `json:"browser_type,omitempty"`
	// WorkflowDefinition holds the parameters and blocks; required.
	WorkflowDefinition WorkflowDefinitionBody `json:"workflow_definition"`
	IsSavedTask        bool                   `json:"is_saved_task,omitempty"`
	// MaxScreenshotScrolls caps scrolling screenshots.
	MaxScreenshotScrolls *int `json:"max_screenshot_scrolls,omitempty"`
	// MaxElapsedTimeMinutes bounds a run's duration (1 to 480).
	MaxElapsedTimeMinutes *int              `json:"max_elapsed_time_minutes,omitempty"`
	ExtraHTTPHeaders      map[string]string `json:"extra_http_headers,omitempty"`
	CDPConnectHeaders     map[string]string `json:"cdp_connect_headers,omitempty"`
	// Status defaults to WorkflowStatusPublished on the server.
	Status WorkflowStatus `json:"status,omitempty"`
	// RunWith is "agent" (the default) or "code".
	RunWith string `json:"run_with,omitempty"`
	// AIFallback lets code runs fall back to the agent; the server's
	// default is true, so only Bool(false) changes anything.
	AIFallback *bool `json:"ai_fallback,omitempty"`
	// CacheKey defaults to "default" on the server.
	CacheKey          string `json:"cache_key,omitempty"`
	AdaptiveCaching   bool   `json:"adaptive_caching,omitempty"`
	EnableSelfHealing *bool  `json:"enable_self_healing,omitempty"`
	// CodeVersion is 1 or 2.
	CodeVersion              *int `json:"code_version,omitempty"`
	GenerateScriptOnTerminal bool `json:"generate_script_on_terminal,omitempty"`
	// RunSequentially prevents overlapping runs (per SequentialKey).
	RunSequentially bool   `json:"run_sequentially,omitempty"`
	SequentialKey   string `json:"sequential_key,omitempty"`
	FolderID        string `json:"folder_id,omitempty"`
}

// WorkflowStatus is the publication status of a workflow. Unknown values
// decode without error.
type WorkflowStatus string

// Workflow statuses.
const (
	WorkflowStatusPublished     WorkflowStatus = "published"
	WorkflowStatusDraft         WorkflowStatus = "draft"
	WorkflowStatusAutoGenerated WorkflowStatus = "auto_generated"
	WorkflowStatusImporting     WorkflowStatus = "importing"
	WorkflowStatusImportFailed  WorkflowStatus = "import_failed"
)

// Workflow is a workflow version as the server returns it. Raw keeps the JSON
// as received, and encoding a Workflow that was decoded reproduces it (see
// Block for how edits are applied), so no field is lost on the way through.
//
// Its WorkflowDefinition is in the server's internal form, which is not the
// request form in places: a task block lists its parameters as objects under
// "parameters" where a request has "parameter_keys", a for_loop names its
// list in "loop_over" instead of "loop_over_parameter_key", a context
// parameter has "source" instead of "source_parameter_key". The server
// ignores keys it does not expect, so do not send a definition read from it
// to UpdateWorkflow as is: keep the definition you created (Go values or
// YAML) and update from that.
type Workflow struct {
	// WorkflowID identifies this version (w_…).
	WorkflowID     string `json:"workflow_id"`
	OrganizationID string `json:"organization_id"`
	Title          string `json:"title"`
	// WorkflowPermanentID identifies the workflow across versions
	// (wpid_…); RunWorkflow, UpdateWorkflow and DeleteWorkflow take it.
	WorkflowPermanentID string                 `json:"workflow_permanent_id"`
	Version             int                    `json:"version"`
	IsSavedTask         bool                   `json:"is_saved_task"`
	IsTemplate          bool                   `json:"is_template"`
	Description         string                 `json:"description,omitempty"`
	WorkflowDefinition  WorkflowDefinitionBody `json:"workflow_definition"`
	ProxyLocation       *Proxy                 `json:"proxy_location,omitempty"`
	// WebhookCallbackURL is the default webhook of the workflow's runs.
	WebhookCallbackURL    string            `json:"webhook_callback_url,omitempty"`
	TOTPVerificationURL   string            `json:"totp_verification_url,omitempty"`
	TOTPIdentifier        string            `json:"totp_identifier,omitempty"`
	PersistBrowserSession bool              `json:"persist_browser_session"`
	ReuseBrowserSession   bool              `json:"reuse_browser_session"`
	MaskSecrets           bool              `json:"mask_secrets"`
	PinSavedSessionIP     bool              `json:"pin_saved_session_ip"`
	BrowserProfileID      string            `json:"browser_profile_id,omitempty"`
	BrowserProfileKey     string            `json:"browser_profile_key,omitempty"`
	Model                 map[string]any    `json:"model,omitempty"`
	Status                WorkflowStatus    `json:"status"`
	MaxScreenshotScrolls  *int              `json:"max_screenshot_scrolls,omitempty"`
	MaxElapsedTimeMinutes *int              `json:"max_elapsed_time_minutes,omitempty"`
	ExtraHTTPHeaders      map[string]string `json:"extra_http_headers,omitempty"`
	// CDPConnectHeaders come back masked: every value is "***".
	CDPConnectHeaders        map[string]string `json:"cdp_connect_headers,omitempty"`
	RunWith                  string            `json:"run_with,omitempty"`
	AIFallback               *bool             `json:"ai_fallback,omitempty"`
	CacheKey                 string            `json:"cache_key,omitempty"`
	AdaptiveCaching          bool              `json:"adaptive_caching"`
	EnableSelfHealing        bool              `json:"enable_self_healing"`
	CodeVersion              *int              `json:"code_version,omitempty"`
	GenerateScriptOnTerminal bool              `json:"generate_script_on_terminal"`
	RunSequentially          bool              `json:"run_sequentially"`
	SequentialKey            string            `json:"sequential_key,omitempty"`
	FolderID                 string            `json:"folder_id,omitempty"`
	ImportError              string            `json:"import_error,omitempty"`
	CreatedBy                string            `json:"created_by,omitempty"`
	EditedBy                 string            `json:"edited_by,omitempty"`
	CopilotAuthored          bool              `json:"copilot_authored"`
	CreatedAt                Time              `json:"created_at"`
	ModifiedAt               Time              `json:"modified_at"`
	DeletedAt                *Time             `json:"deleted_at,omitempty"`
	// AgentID is the newer name of WorkflowPermanentID. Servers from before
	// the June 2026 agents rename send only workflow_permanent_id; whichever
	// of the two arrives fills both fields.
	AgentID string `json:"agent_id"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`

	kept keptjson.Kept
}

// MarshalJSON implements json.Marshaler.
func (w Workflow) MarshalJSON() ([]byte, error) {
	type plain Workflow
	w.fillIDs()
	return w.kept.Encode(keptjson.Marshal(plain(w)))
}

// UnmarshalJSON implements json.Unmarshaler and keeps the raw JSON in Raw.
func (w *Workflow) UnmarshalJSON(data []byte) error {
	type plain Workflow
	if !keptjson.HasValue(data) {
		return nil
	}
	if err := json.Unmarshal(data, (*plain)(w)); err != nil {
		return err
	}
	w.fillIDs()
	snapshot, err := keptjson.Marshal((*plain)(w))
	if err != nil {
		return err
	}
	w.kept.Keep(data, snapshot)
	w.Raw = w.kept.Raw()
	return nil
}

func (w *Workflow) fillIDs() {
	switch {
	case w.AgentID == "":
		w.AgentID = w.WorkflowPermanentID
	case w.WorkflowPermanentID == "":
		w.WorkflowPermanentID = w.AgentID
	}
}

// CreateWorkflow creates a workflow (POST /v1/workflows) and returns its
// first version. Set the default webhook of its runs in
// req.JSONDefinition.WebhookCallbackURL.
//
// Every call sends an Idempotency-Key, generated once and reused on each
// attempt (or given as req.IdempotencyKey), so the call is retried like a
// read, including on 409 "creation still in progress": the server creates
// the workflow once. If the call still fails in a way that leaves the outcome
// open (a 5xx, a timeout, a dropped connection), the error matches
// ErrOutcomeUnknown and is an *OutcomeUnknownError carrying the key; calling
// again with req.IdempotencyKey set to that key is safe and returns the workflow if
// an earlier attempt created it.
func (c *Client) CreateWorkflow(ctx context.Context, req *WorkflowRequest, opts ...RequestOption) (*Workflow, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	key := req.IdempotencyKey
	if key != "" {
		if err := validateIdempotencyKey(key); err != nil {
			return nil, err
		}
	} else {
		var err error
		if key, err = newIdempotencyKey(); err != nil {
			return nil, err
		}
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "workflows"), body: req, class: retryIdempotent,
		header: http.Header{"Idempotency-Key": {key}}, idempotencyKey: key}
	if req.FolderID != "" {
		call.query = url.Values{"folder_id": {req.FolderID}}
	}
	return c.doWorkflow(ctx, call, &rc)
}

// UpdateWorkflow saves req as a new version of the workflow workflowID
// (wpid_…) with POST /v1/workflows/{id}, and returns that version. Runs
// started afterwards use it.
//
// Each call creates a version, so it is not blindly retried: like RunTask,
// an ambiguous failure matches ErrOutcomeUnknown. Check with GetWorkflow
// before sending it again.
func (c *Client) UpdateWorkflow(ctx context.Context, workflowID string, req *WorkflowRequest, opts ...RequestOption) (*Workflow, error) {
	if err := requireID("workflow_id", workflowID); err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	if req.FolderID != "" {
		return nil, &InvalidRequestError{Field: "folder_id", Reason: "query parameter is read by CreateWorkflow only; set json_definition.folder_id"}
	}
	if req.IdempotencyKey != "" {
		return nil, &InvalidRequestError{Field: "Idempotency-Key", Reason: "is read by CreateWorkflow only"}
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "workflows", workflowID), body: req, class: retryUnsafe}
	return c.doWorkflow(ctx, call, &rc)
}

// DeleteWorkflow deletes every version of the workflow workflowID (wpid_…)
// and its schedules (POST /v1/workflows/{id}/delete).
//
// It is retried like a read: the server soft-deletes, and deleting an
// already deleted workflow changes nothing, so a repeated request is
// harmless.
func (c *Client) DeleteWorkflow(ctx context.Context, workflowID string, opts ...RequestOption) error {
	if err := requireID("workflow_id", workflowID); err != nil {
		return err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "workflows", workflowID, "delete"), class: retryRead}
	_, err := c.do(ctx, call, &rc)
	return err
}

// GetWorkflowParams selects what GetWorkflow returns; nil means the latest
// version.
type GetWorkflowParams struct {
	// Version selects a version; 0 means the latest.
	Version int
	// Template looks the id up among Skyvern's templates.
	Template bool
}

// GetWorkflow returns a workflow by its permanent id (GET /v1/workflows/{id}).
// params may be nil. A missing workflow gives an error matching ErrNotFound.
func (c *Client) GetWorkflow(ctx context.Context, workflowID string, params *GetWorkflowParams, opts ...RequestOption) (*Workflow, error) {
	if err := requireID("workflow_id", workflowID); err != nil {
		return nil, err
	}
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "workflows", workflowID), class: retryRead}
	if params != nil {
		if params.Version < 0 {
			return nil, &InvalidRequestError{Field: "version", Reason: "must not be negative"}
		}
		call.query = url.Values{}
		if params.Version > 0 {
			call.query.Set("version", strconv.Itoa(params.Version))
		}
		if params.Template {
			call.query.Set("template", "true")
		}
	}
	rc := c.newRequestConfig(opts)
	return c.doWorkflow(ctx, call, &rc)
}

// doWorkflow sends a call that answers with one Workflow.
func (c *Client) doWorkflow(ctx context.Context, call apiCall, rc *requestConfig) (*Workflow, error) {
	resp, err := c.do(ctx, call, rc)
	if err != nil {
		return nil, err
	}
	var wf Workflow
	if err := decodeJSON(call, resp.body, &wf); err != nil {
		return nil, err
	}
	if wf.WorkflowPermanentID == "" {
		return nil, malformedResponse(call, "no workflow_permanent_id in response")
	}
	return &wf, nil
}

// validateIdempotencyKey applies the server's rule, so a bad key fails here
// instead of as a 422 after the definition was sent.
func validateIdempotencyKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return &InvalidRequestError{Field: "Idempotency-Key", Reason: fmt.Sprintf("must be 1 to 255 bytes long, got %d", len(key))}
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return &InvalidRequestError{Field: "Idempotency-Key", Reason: fmt.Sprintf("must contain visible ASCII characters only (0x21-0x7E), got byte 0x%02x at %d", key[i], i)}
		}
	}
	return nil
}

// newIdempotencyKey returns a random UUID (version 4) string.
func newIdempotencyKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("skyvern: generating an idempotency key: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:]), nil
}
