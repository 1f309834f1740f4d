package skyverntest

import (
	"net/http"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// workflowRunWire is WorkflowRun, the record get_workflow_runs_by_id lists.
type workflowRunWire struct {
	WorkflowRunID                       string       `json:"workflow_run_id"`
	WorkflowID                          string       `json:"workflow_id"`
	WorkflowPermanentID                 string       `json:"workflow_permanent_id"`
	OrganizationID                      string       `json:"organization_id"`
	BrowserSessionID                    *string      `json:"browser_session_id"`
	BrowserProfileID                    *string      `json:"browser_profile_id"`
	BrowserSeedSource                   *string      `json:"browser_seed_source"`
	BrowserSinkProfileID                *string      `json:"browser_sink_profile_id"`
	StartFreshBrowser                   *bool        `json:"start_fresh_browser"`
	ReuseBrowserSession                 *bool        `json:"reuse_browser_session"`
	DebugSessionID                      *string      `json:"debug_session_id"`
	Status                              string       `json:"status"`
	ExtraHTTPHeaders                    pyjson.Value `json:"extra_http_headers"`
	CDPConnectHeaders                   pyjson.Value `json:"cdp_connect_headers"`
	ProxyLocation                       pyjson.Value `json:"proxy_location"`
	WebhookCallbackURL                  *string      `json:"webhook_callback_url"`
	WebhookFailureReason                *string      `json:"webhook_failure_reason"`
	TOTPVerificationURL                 *string      `json:"totp_verification_url"`
	TOTPIdentifier                      *string      `json:"totp_identifier"`
	FailureReason                       *string      `json:"failure_reason"`
	FailureCategory                     pyjson.Value `json:"failure_category"`
	RetriedFromWorkflowRunID            *string      `json:"retried_from_workflow_run_id"`
	FallbackAttempt                     *int         `json:"fallback_attempt"`
	ParentWorkflowRunID                 *string      `json:"parent_workflow_run_id"`
	WorkflowTitle                       *string      `json:"workflow_title"`
	MaxScreenshotScrolls                *int         `json:"max_screenshot_scrolls"`
	MaxElapsedTimeMinutes               *int         `json:"max_elapsed_time_minutes"`
	BrowserAddress                      *string      `json:"browser_address"`
	RunWith                             *string      `json:"run_with"`
	ScriptRun                           pyjson.Value `json:"script_run"`
	JobID                               *string      `json:"job_id"`
	DependsOnWorkflowRunID              *string      `json:"depends_on_workflow_run_id"`
	SequentialKey                       *string      `json:"sequential_key"`
	SequentialCredentialID              *string      `json:"sequential_credential_id"`
	AIFallback                          *bool        `json:"ai_fallback"`
	CodeGen                             *bool        `json:"code_gen"`
	TriggerType                         *string      `json:"trigger_type"`
	WorkflowScheduleID                  *string      `json:"workflow_schedule_id"`
	IgnoreInheritedWorkflowSystemPrompt bool         `json:"ignore_inherited_workflow_system_prompt"`
	CopilotSessionID                    *string      `json:"copilot_session_id"`
	CreditsUsed                         int          `json:"credits_used"`
	CachedCreditsUsed                   int          `json:"cached_credits_used"`
	QueuedAt                            skyvern.Time `json:"queued_at"`
	StartedAt                           skyvern.Time `json:"started_at"`
	FinishedAt                          skyvern.Time `json:"finished_at"`
	CreatedAt                           skyvern.Time `json:"created_at"`
	ModifiedAt                          skyvern.Time `json:"modified_at"`
}

func (s *Server) workflowRunRecordLocked(r *run) workflowRunWire {
	req, wf := r.flow, r.workflow
	out := workflowRunWire{
		WorkflowRunID: r.id, WorkflowID: wf.WorkflowID, WorkflowPermanentID: wf.WorkflowPermanentID,
		OrganizationID: s.orgID, BrowserSessionID: req.BrowserSessionID, BrowserProfileID: req.BrowserProfileID,
		StartFreshBrowser: skyvern.Ptr(req.StartFreshBrowser), ReuseBrowserSession: req.ReuseBrowserSession,
		Status: string(r.status), ExtraHTTPHeaders: req.ExtraHTTPHeaders, CDPConnectHeaders: maskHeaders(req.CDPConnectHeaders),
		ProxyLocation: req.ProxyLocation, WebhookCallbackURL: optionalString(r.webhookURL),
		WebhookFailureReason: r.webhookFailureReason, TOTPVerificationURL: req.TOTPURL, TOTPIdentifier: req.TOTPIdentifier,
		FailureReason: r.failureReason, RetriedFromWorkflowRunID: optionalString(r.retriedFrom),
		WorkflowTitle: stringPtr(wf.Title), MaxScreenshotScrolls: req.MaxScreenshotScrolls,
		MaxElapsedTimeMinutes: req.MaxElapsedTimeMinutes, BrowserAddress: req.BrowserAddress,
		RunWith: stringPtr(workflowRunWith(r)), AIFallback: req.AIFallback, TriggerType: stringPtr("api"),
		QueuedAt: optionalTime(r.queuedAt), StartedAt: optionalTime(r.startedAt), FinishedAt: optionalTime(r.finishedAt),
		CreatedAt: skyvern.NewTime(r.createdAt), ModifiedAt: skyvern.NewTime(r.modifiedAt),
	}
	return out
}

// handleGetWorkflowRuns answers get_workflow_runs_by_id: the workflow's
// runs, newest first, filtered by status and paged.
func (s *Server) handleGetWorkflowRuns(w http.ResponseWriter, r *http.Request, c *call) {
	q := newQuery(r)
	page := q.integer("page", 1, 1)
	pageSize := q.integer("page_size", 10, 1)
	statuses := q.enumList("status", []string{"created", "queued", "running", "failed", "terminated", "canceled", "timed_out", "completed", "paused"})
	q.boolean("include_child_runs", false)
	if len(q.errs) > 0 {
		writeValidation(w, q.errs)
		return
	}
	wpid := c.params[0]
	s.mu.Lock()
	var matched []*run
	for i := len(s.runOrder) - 1; i >= 0; i-- {
		rr := s.runOrder[i]
		if rr.runType != skyvern.RunTypeWorkflowRun || rr.workflow.WorkflowPermanentID != wpid {
			continue
		}
		if len(statuses) > 0 && !containsString(statuses, string(rr.status)) {
			continue
		}
		matched = append(matched, rr)
	}
	list := pyjson.Array{}
	for i := (page - 1) * pageSize; i < len(matched) && i < page*pageSize; i++ {
		list = append(list, mustJSONValue(s.workflowRunRecordLocked(matched[i])))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// handleGetWorkflowVersions lists every version of a workflow, newest
// first; an unknown or deleted workflow lists nothing.
func (s *Server) handleGetWorkflowVersions(w http.ResponseWriter, r *http.Request, c *call) {
	q := newQuery(r)
	q.boolean("template", false)
	if len(q.errs) > 0 {
		writeValidation(w, q.errs)
		return
	}
	s.mu.Lock()
	list := pyjson.Array{}
	if rec := s.workflows[c.params[0]]; rec != nil && !rec.deleted() {
		for i := len(rec.versions) - 1; i >= 0; i-- {
			list = append(list, mustJSONValue(rec.versions[i]))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}
