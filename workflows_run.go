package skyvern

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// WorkflowRunRequest is the body of RunWorkflow. Only WorkflowID is
// required; every unset field is left out so the server applies the
// workflow's or its own default.
//
// WebhookURL overrides, for this run only, the workflow's default webhook
// (WorkflowDefinition.WebhookCallbackURL, set at creation). There is
// deliberately no WebhookCallbackURL field here: that name belongs to the
// workflow definition, and the server ignores it on a run. Where the webhook
// goes (the Skyvern webhooks guide's quick reference):
//
//	Context                  Wire name             Go field
//	Task run                 webhook_url           TaskRunRequest.WebhookURL, top level
//	Workflow create/update   webhook_callback_url  WorkflowDefinition.WebhookCallbackURL, inside json_definition
//	Workflow run (override)  webhook_url           WorkflowRunRequest.WebhookURL, top level
type WorkflowRunRequest struct {
	// WorkflowID is the workflow's permanent id (wpid_…, Workflow's
	// WorkflowPermanentID), not a version id (w_…). It is sent as
	// workflow_id, which servers before and after the agents rename both
	// accept.
	WorkflowID string `json:"workflow_id"`
	// Parameters holds the values of the workflow parameters, keyed by
	// parameter key.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Title names the run. The run_request the server echoes shows the
	// workflow's title instead.
	Title string `json:"title,omitempty"`
	// ProxyLocation overrides the workflow's proxy (server default
	// RESIDENTIAL).
	ProxyLocation *Proxy `json:"proxy_location,omitempty"`
	// WebhookURL receives this run's signed result instead of the
	// workflow's WebhookCallbackURL.
	WebhookURL string `json:"webhook_url,omitempty"`
	// TOTPURL is called by Skyvern to get a TOTP code.
	TOTPURL        string `json:"totp_url,omitempty"`
	TOTPIdentifier string `json:"totp_identifier,omitempty"`
	// BrowserSessionID runs the workflow in an existing browser session (pbs_…).
	BrowserSessionID    string `json:"browser_session_id,omitempty"`
	ReuseBrowserSession *bool  `json:"reuse_browser_session,omitempty"`
	// BrowserProfileID starts the browser from a saved profile (bp_…).
	BrowserProfileID string `json:"browser_profile_id,omitempty"`
	// StartFreshBrowser ignores saved browser state; it excludes
	// BrowserSessionID, BrowserProfileID and BrowserAddress.
	StartFreshBrowser    bool `json:"start_fresh_browser,omitempty"`
	MaxScreenshotScrolls *int `json:"max_screenshot_scrolls,omitempty"`
	// MaxElapsedTimeMinutes bounds the run's duration (1 to 480; the
	// platform default is 240).
	MaxElapsedTimeMinutes *int              `json:"max_elapsed_time_minutes,omitempty"`
	ExtraHTTPHeaders      map[string]string `json:"extra_http_headers,omitempty"`
	CDPConnectHeaders     map[string]string `json:"cdp_connect_headers,omitempty"`
	// BrowserAddress connects to your own browser (http(s) or ws(s) CDP URL).
	BrowserAddress string `json:"browser_address,omitempty"`
	AIFallback     *bool  `json:"ai_fallback,omitempty"`
	// RunWith is "agent" or "code"; unset inherits the workflow's.
	RunWith string `json:"run_with,omitempty"`
	// BrowserType selects the browser (BrowserTypeChrome, ...); unset
	// inherits the workflow's. It cannot be combined with BrowserSessionID
	// or BrowserAddress, whose browser already exists.
	BrowserType BrowserType `json:"browser_type,omitempty"`
	// RunMetadata labels the run: at most 20 keys, keys up to 64 and values
	// up to 256 characters.
	RunMetadata map[string]string `json:"run_metadata,omitempty"`
	// FileIDs attaches files uploaded beforehand (at most 50); the server
	// deletes them when the run ends.
	FileIDs []string `json:"file_ids,omitempty"`

	// Template runs one of Skyvern's templates; it is sent as the template
	// query parameter.
	Template bool `json:"-"`
	// MaxStepsOverride caps the steps of this run; it is sent as the
	// x-max-steps-override header and must be at least 1. nil leaves the
	// workflow's own limits.
	MaxStepsOverride *int `json:"-"`
	// XUserAgent is sent as Skyvern's x-user-agent header, which the server
	// records as what triggered the run.
	XUserAgent string `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler. It also accepts the id under
// agent_id, the key newer servers and SDKs use.
func (r *WorkflowRunRequest) UnmarshalJSON(data []byte) error {
	type plain WorkflowRunRequest
	var aux struct {
		plain
		AgentID string `json:"agent_id"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*r = WorkflowRunRequest(aux.plain)
	if r.WorkflowID == "" {
		r.WorkflowID = aux.AgentID
	}
	return nil
}

// RunWorkflow starts a run of a workflow (POST /v1/run/workflows) and returns
// it, usually still queued. The result goes to req.WebhookURL if set, else to
// the workflow's WebhookCallbackURL, and can be polled with WaitForRun.
//
// Like RunTask, RunWorkflow is sent again only if the previous attempt
// provably never reached the server, or was refused with 429. After a 5xx, a
// timeout or a dropped connection the run may exist already, so the error
// satisfies errors.Is(err, ErrOutcomeUnknown) instead of a blind retry
// starting a second run. [Client.ResolveOutcome] then finds the run or
// proves there is none; with WithOutcomeResolution (per call or for
// the client) RunWorkflow does so itself and resends only after
// such a proof. To make the run easy to find, every request carries a
// unique id in run_metadata under ClientRequestIDKey (req is not modified),
// which the server also applies as a tag.
func (c *Client) RunWorkflow(ctx context.Context, req *WorkflowRunRequest, opts ...RequestOption) (*Run, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodPost, path: c.endpoint("v1", "run", "workflows"), class: retryUnsafe,
		header: withMaxStepsOverride(xUserAgentHeader(req.XUserAgent), req.MaxStepsOverride)}
	call.body, call.clientRequestID = stampClientRequestID(req)
	if req.Template {
		call.query = url.Values{"template": {"true"}}
	}
	return c.createRun(ctx, call, &rc)
}

// withMaxStepsOverride adds the x-max-steps-override header for n, if set,
// to h (which may be nil) and returns it.
func withMaxStepsOverride(h http.Header, n *int) http.Header {
	if n == nil {
		return h
	}
	if h == nil {
		h = make(http.Header, 1)
	}
	h.Set("X-Max-Steps-Override", strconv.Itoa(*n))
	return h
}

// validateMaxStepsOverride refuses a step cap below 1 before anything is
// sent.
func validateMaxStepsOverride(n *int) error {
	if n != nil && *n < 1 {
		return &InvalidRequestError{Field: "x-max-steps-override", Reason: "must be at least 1, got " + strconv.Itoa(*n)}
	}
	return nil
}

func (r *WorkflowRunRequest) validate() error {
	if r == nil {
		return &InvalidRequestError{Field: "request", Reason: "must not be nil"}
	}
	if isBlank(r.WorkflowID) {
		return &InvalidRequestError{Field: "workflow_id", Reason: "is required"}
	}
	if err := validateMaxStepsOverride(r.MaxStepsOverride); err != nil {
		return err
	}
	if !validHeaderValue(r.XUserAgent) {
		return &InvalidRequestError{Field: "x-user-agent", Reason: "must not contain control characters"}
	}
	if err := validateCallbackURL("webhook_url", r.WebhookURL); err != nil {
		return err
	}
	if err := validateCallbackURL("totp_url", r.TOTPURL); err != nil {
		return err
	}
	if err := validateElapsedMinutes("max_elapsed_time_minutes", r.MaxElapsedTimeMinutes); err != nil {
		return err
	}
	if r.BrowserType != "" && (r.BrowserSessionID != "" || r.BrowserAddress != "") {
		// The server answers 422: the existing browser has its type already.
		return &InvalidRequestError{Field: "browser_type", Reason: "cannot be combined with browser_session_id or browser_address"}
	}
	if err := validateFileIDs(r.FileIDs); err != nil {
		return err
	}
	return validateRunMetadata(r.RunMetadata)
}

// WorkflowRunRequest decodes the request the server recorded for a workflow
// run (RunRequest). It fails for task runs and for runs without one.
func (r *Run) WorkflowRunRequest() (*WorkflowRunRequest, error) {
	if !r.RunType.IsWorkflow() {
		return nil, fmt.Errorf("skyvern: run %s is a %s run, not a workflow run", r.RunID, r.RunType)
	}
	var req WorkflowRunRequest
	if err := r.DecodeRunRequest(&req); err != nil {
		return nil, err
	}
	return &req, nil
}
