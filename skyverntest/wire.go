package skyverntest

import (
	"fmt"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// The server's own wire structs. Field order is the key order of Skyvern's
// Pydantic models, and nothing is omitempty: the server writes every field,
// nulls included. Fields typed pyjson.Value carry user-supplied JSON as
// received (key order and number form intact); a nil pyjson.Value, nil pointer
// or zero skyvern.Time is written as null.

// runResponseBase is BaseRunResponse.
type runResponseBase struct {
	RunID                string       `json:"run_id"`
	Status               string       `json:"status"`
	Output               pyjson.Value `json:"output"`
	DownloadedFiles      pyjson.Value `json:"downloaded_files"`
	RecordingURL         *string      `json:"recording_url"`
	RecordingArchived    bool         `json:"recording_archived"`
	ScreenshotURLs       []string     `json:"screenshot_urls"`
	FailureReason        *string      `json:"failure_reason"`
	CreatedAt            skyvern.Time `json:"created_at"`
	ModifiedAt           skyvern.Time `json:"modified_at"`
	QueuedAt             skyvern.Time `json:"queued_at"`
	StartedAt            skyvern.Time `json:"started_at"`
	FinishedAt           skyvern.Time `json:"finished_at"`
	AppURL               *string      `json:"app_url"`
	BrowserSessionID     *string      `json:"browser_session_id"`
	BrowserProfileID     *string      `json:"browser_profile_id"`
	MaxScreenshotScrolls *int         `json:"max_screenshot_scrolls"`
	ScriptRun            pyjson.Value `json:"script_run"`
	Errors               pyjson.Value `json:"errors"`
	StepCount            *int         `json:"step_count"`
}

// taskRunResponse is TaskRunResponse.
type taskRunResponse struct {
	runResponseBase
	RunType    string          `json:"run_type"`
	RunRequest *taskRunRequest `json:"run_request"`
}

// workflowRunResponse is WorkflowRunResponse.
type workflowRunResponse struct {
	runResponseBase
	RunType           string              `json:"run_type"`
	Attempt           int                 `json:"attempt"`
	RetryPending      bool                `json:"retry_pending"`
	NextAttemptAt     skyvern.Time        `json:"next_attempt_at"`
	Attempts          []runAttemptWire    `json:"attempts"`
	RunWith           string              `json:"run_with"`
	AIFallback        *bool               `json:"ai_fallback"`
	ScriptID          *string             `json:"script_id"`
	BrowserSeedSource *string             `json:"browser_seed_source"`
	RunRequest        *workflowRunRequest `json:"run_request"`
}

// taskRunRequest is TaskRunRequest, both as parsed from a run_task body and
// as echoed in run_request.
type taskRunRequest struct {
	Prompt                             string       `json:"prompt"`
	URL                                *string      `json:"url"`
	Engine                             string       `json:"engine"`
	Title                              *string      `json:"title"`
	ProxyLocation                      pyjson.Value `json:"proxy_location"`
	DataExtractionSchema               pyjson.Value `json:"data_extraction_schema"`
	ErrorCodeMapping                   pyjson.Value `json:"error_code_mapping"`
	MaxSteps                           *int         `json:"max_steps"`
	WebhookURL                         *string      `json:"webhook_url"`
	TOTPIdentifier                     *string      `json:"totp_identifier"`
	TOTPURL                            *string      `json:"totp_url"`
	BrowserSessionID                   *string      `json:"browser_session_id"`
	BrowserProfileID                   *string      `json:"browser_profile_id"`
	StartFreshBrowser                  bool         `json:"start_fresh_browser"`
	Model                              pyjson.Value `json:"model"`
	ExtraHTTPHeaders                   pyjson.Value `json:"extra_http_headers"`
	CDPConnectHeaders                  pyjson.Value `json:"cdp_connect_headers"`
	PublishWorkflow                    bool         `json:"publish_workflow"`
	IncludeActionHistoryInVerification *bool        `json:"include_action_history_in_verification"`
	MaxScreenshotScrolls               *int         `json:"max_screenshot_scrolls"`
	BrowserAddress                     *string      `json:"browser_address"`
	RunWith                            *string      `json:"run_with"`
	FileIDs                            []string     `json:"file_ids"`
}

// workflowRunRequest is WorkflowRunRequest, serialized with workflow_id.
type workflowRunRequest struct {
	WorkflowID            string       `json:"workflow_id"`
	Parameters            pyjson.Value `json:"parameters"`
	Title                 *string      `json:"title"`
	ProxyLocation         pyjson.Value `json:"proxy_location"`
	WebhookURL            *string      `json:"webhook_url"`
	TOTPURL               *string      `json:"totp_url"`
	TOTPIdentifier        *string      `json:"totp_identifier"`
	BrowserSessionID      *string      `json:"browser_session_id"`
	ReuseBrowserSession   *bool        `json:"reuse_browser_session"`
	BrowserProfileID      *string      `json:"browser_profile_id"`
	StartFreshBrowser     bool         `json:"start_fresh_browser"`
	MaxScreenshotScrolls  *int         `json:"max_screenshot_scrolls"`
	MaxElapsedTimeMinutes *int         `json:"max_elapsed_time_minutes"`
	ExtraHTTPHeaders      pyjson.Value `json:"extra_http_headers"`
	CDPConnectHeaders     pyjson.Value `json:"cdp_connect_headers"`
	BrowserAddress        *string      `json:"browser_address"`
	AIFallback            *bool        `json:"ai_fallback"`
	RunWith               *string      `json:"run_with"`
	BrowserType           *string      `json:"browser_type"`
	RunMetadata           pyjson.Value `json:"run_metadata"`
	FileIDs               []string     `json:"file_ids"`
}

// workflowWire is Workflow; agent_id is Pydantic's computed field, last.
type workflowWire struct {
	WorkflowID               string             `json:"workflow_id"`
	OrganizationID           string             `json:"organization_id"`
	Title                    string             `json:"title"`
	WorkflowPermanentID      string             `json:"workflow_permanent_id"`
	Version                  int                `json:"version"`
	IsSavedTask              bool               `json:"is_saved_task"`
	IsTemplate               bool               `json:"is_template"`
	Description              *string            `json:"description"`
	WorkflowDefinition       workflowDefinition `json:"workflow_definition"`
	ProxyLocation            pyjson.Value       `json:"proxy_location"`
	WebhookCallbackURL       *string            `json:"webhook_callback_url"`
	TOTPVerificationURL      *string            `json:"totp_verification_url"`
	TOTPIdentifier           *string            `json:"totp_identifier"`
	PersistBrowserSession    bool               `json:"persist_browser_session"`
	ReuseBrowserSession      bool               `json:"reuse_browser_session"`
	MaskSecrets              bool               `json:"mask_secrets"`
	PinSavedSessionIP        bool               `json:"pin_saved_session_ip"`
	BrowserProfileID         *string            `json:"browser_profile_id"`
	BrowserProfileKey        *string            `json:"browser_profile_key"`
	Model                    pyjson.Value       `json:"model"`
	BrowserType              *string            `json:"browser_type"`
	Status                   string             `json:"status"`
	MaxScreenshotScrolls     *int               `json:"max_screenshot_scrolls"`
	MaxElapsedTimeMinutes    *int               `json:"max_elapsed_time_minutes"`
	ExtraHTTPHeaders         pyjson.Value       `json:"extra_http_headers"`
	CDPConnectHeaders        pyjson.Value       `json:"cdp_connect_headers"`
	RunWith                  string             `json:"run_with"`
	AIFallback               bool               `json:"ai_fallback"`
	CacheKey                 *string            `json:"cache_key"`
	AdaptiveCaching          bool               `json:"adaptive_caching"`
	EnableSelfHealing        bool               `json:"enable_self_healing"`
	CodeVersion              *int               `json:"code_version"`
	GenerateScriptOnTerminal bool               `json:"generate_script_on_terminal"`
	RunSequentially          *bool              `json:"run_sequentially"`
	SequentialKey            *string            `json:"sequential_key"`
	FolderID                 *string            `json:"folder_id"`
	ImportError              *string            `json:"import_error"`
	CreatedBy                *string            `json:"created_by"`
	EditedBy                 *string            `json:"edited_by"`
	CopilotAuthored          bool               `json:"copilot_authored"`
	CreatedAt                skyvern.Time       `json:"created_at"`
	ModifiedAt               skyvern.Time       `json:"modified_at"`
	DeletedAt                skyvern.Time       `json:"deleted_at"`
	AgentID                  string             `json:"agent_id"`
}

// workflowDefinition is the stored WorkflowDefinition.
type workflowDefinition struct {
	Version              int              `json:"version"`
	Parameters           pyjson.Value     `json:"parameters"`
	Blocks               pyjson.Value     `json:"blocks"`
	FinallyBlockLabel    *string          `json:"finally_block_label"`
	ErrorCodeMapping     pyjson.Value     `json:"error_code_mapping"`
	WorkflowSystemPrompt *string          `json:"workflow_system_prompt"`
	CompletionContract   pyjson.Value     `json:"completion_contract"`
	RetryPolicy          *retryPolicyWire `json:"retry_policy"`
}

// legacyTaskResponse is TaskResponse minus request: the first half of a task
// v1 webhook payload.
type legacyTaskResponse struct {
	TaskID               string       `json:"task_id"`
	Status               string       `json:"status"`
	CreatedAt            skyvern.Time `json:"created_at"`
	ModifiedAt           skyvern.Time `json:"modified_at"`
	ExtractedInformation pyjson.Value `json:"extracted_information"`
	ActionScreenshotURLs []string     `json:"action_screenshot_urls"`
	ScreenshotURL        *string      `json:"screenshot_url"`
	RecordingURL         *string      `json:"recording_url"`
	RecordingArchived    bool         `json:"recording_archived"`
	BrowserConsoleLogURL *string      `json:"browser_console_log_url"`
	DownloadedFiles      pyjson.Value `json:"downloaded_files"`
	DownloadedFileURLs   pyjson.Value `json:"downloaded_file_urls"`
	FailureReason        *string      `json:"failure_reason"`
	FailureCategory      pyjson.Value `json:"failure_category"`
	WebhookFailureReason *string      `json:"webhook_failure_reason"`
	Errors               pyjson.Value `json:"errors"`
	MaxStepsPerRun       *int         `json:"max_steps_per_run"`
	WorkflowRunID        *string      `json:"workflow_run_id"`
	QueuedAt             skyvern.Time `json:"queued_at"`
	StartedAt            skyvern.Time `json:"started_at"`
	FinishedAt           skyvern.Time `json:"finished_at"`
	MaxScreenshotScrolls *int         `json:"max_screenshot_scrolls"`
	StepCount            *int         `json:"step_count"`
	BrowserSessionID     *string      `json:"browser_session_id"`
}

// legacyTaskV2 is TaskV2 dumped by alias: the first half of a task v2
// webhook payload.
type legacyTaskV2 struct {
	TaskID                      string       `json:"task_id"`
	Status                      string       `json:"status"`
	OrganizationID              string       `json:"organization_id"`
	WorkflowRunID               string       `json:"workflow_run_id"`
	WorkflowID                  string       `json:"workflow_id"`
	WorkflowPermanentID         string       `json:"workflow_permanent_id"`
	Prompt                      string       `json:"prompt"`
	URL                         *string      `json:"url"`
	Summary                     *string      `json:"summary"`
	Output                      pyjson.Value `json:"output"`
	TOTPVerificationURL         *string      `json:"totp_verification_url"`
	TOTPIdentifier              *string      `json:"totp_identifier"`
	ProxyLocation               pyjson.Value `json:"proxy_location"`
	WebhookCallbackURL          *string      `json:"webhook_callback_url"`
	WebhookFailureReason        *string      `json:"webhook_failure_reason"`
	ExtractedInformationSchema  pyjson.Value `json:"extracted_information_schema"`
	ErrorCodeMapping            pyjson.Value `json:"error_code_mapping"`
	WorkflowSystemPrompt        *string      `json:"workflow_system_prompt"`
	Model                       pyjson.Value `json:"model"`
	QueuedAt                    skyvern.Time `json:"queued_at"`
	StartedAt                   skyvern.Time `json:"started_at"`
	FinishedAt                  skyvern.Time `json:"finished_at"`
	MaxScreenshotScrollingTimes *int         `json:"max_screenshot_scrolling_times"`
	ExtraHTTPHeaders            pyjson.Value `json:"extra_http_headers"`
	CDPConnectHeaders           pyjson.Value `json:"cdp_connect_headers"`
	BrowserAddress              *string      `json:"browser_address"`
	RunWith                     *string      `json:"run_with"`
	FailureCategory             pyjson.Value `json:"failure_category"`
	CreatedAt                   skyvern.Time `json:"created_at"`
	ModifiedAt                  skyvern.Time `json:"modified_at"`
}

// legacyWorkflowRun is WorkflowRunResponseBase: the first half of a workflow
// run webhook payload.
type legacyWorkflowRun struct {
	WorkflowID               string       `json:"workflow_id"`
	WorkflowRunID            string       `json:"workflow_run_id"`
	Status                   string       `json:"status"`
	FailureReason            *string      `json:"failure_reason"`
	FailureCategory          pyjson.Value `json:"failure_category"`
	RetriedFromWorkflowRunID *string      `json:"retried_from_workflow_run_id"`
	RetriedByWorkflowRunID   *string      `json:"retried_by_workflow_run_id"`
	ProxyLocation            pyjson.Value `json:"proxy_location"`
	WebhookCallbackURL       *string      `json:"webhook_callback_url"`
	WebhookFailureReason     *string      `json:"webhook_failure_reason"`
	TOTPVerificationURL      *string      `json:"totp_verification_url"`
	TOTPIdentifier           *string      `json:"totp_identifier"`
	ExtraHTTPHeaders         pyjson.Value `json:"extra_http_headers"`
	CDPConnectHeaders        pyjson.Value `json:"cdp_connect_headers"`
	QueuedAt                 skyvern.Time `json:"queued_at"`
	StartedAt                skyvern.Time `json:"started_at"`
	FinishedAt               skyvern.Time `json:"finished_at"`
	CreatedAt                skyvern.Time `json:"created_at"`
	ModifiedAt               skyvern.Time `json:"modified_at"`
	Parameters               pyjson.Value `json:"parameters"`
	ScreenshotURLs           []string     `json:"screenshot_urls"`
	RecordingURL             *string      `json:"recording_url"`
	RecordingURLs            pyjson.Value `json:"recording_urls"`
	RecordingArchived        bool         `json:"recording_archived"`
	DownloadedFiles          pyjson.Value `json:"downloaded_files"`
	DownloadedFileURLs       pyjson.Value `json:"downloaded_file_urls"`
	Outputs                  pyjson.Value `json:"outputs"`
	TotalSteps               *int         `json:"total_steps"`
	TotalCost                pyjson.Value `json:"total_cost"`
	CreditsUsed              pyjson.Value `json:"credits_used"`
	CachedCreditsUsed        pyjson.Value `json:"cached_credits_used"`
	TaskV2                   pyjson.Value `json:"task_v2"`
	WorkflowTitle            *string      `json:"workflow_title"`
	BrowserSessionID         *string      `json:"browser_session_id"`
	BrowserProfileID         *string      `json:"browser_profile_id"`
	BrowserSeedSource        *string      `json:"browser_seed_source"`
	BrowserSinkProfileID     *string      `json:"browser_sink_profile_id"`
	MaxScreenshotScrolls     *int         `json:"max_screenshot_scrolls"`
	BrowserAddress           *string      `json:"browser_address"`
	RunWith                  string       `json:"run_with"`
	ScriptRun                pyjson.Value `json:"script_run"`
	ScriptID                 *string      `json:"script_id"`
	Errors                   pyjson.Value `json:"errors"`
	AgentID                  string       `json:"agent_id"`
	AgentRunID               string       `json:"agent_run_id"`
}

// mustJSONValue converts one of the server's own wire structs, which are
// built so that conversion cannot fail.
func mustJSONValue(v any) pyjson.Value {
	jv, err := pyjson.ValueOf(v)
	if err != nil {
		panic(fmt.Sprintf("skyverntest: internal wire struct %T: %v", v, err))
	}
	return jv
}

// mustObject is mustJSONValue for structs, which always become objects.
func mustObject(v any) *pyjson.Object {
	obj, ok := mustJSONValue(v).(*pyjson.Object)
	if !ok {
		panic(fmt.Sprintf("skyverntest: internal wire struct %T is not an object", v))
	}
	return obj
}
