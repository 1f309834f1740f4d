package skyverntest

import (
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// responseForm says which server code path builds a run response; each one
// sets a different subset of the fields.
type responseForm int

const (
	formCreate  responseForm = iota // run_task / run_workflow answer
	formGet                         // get_run
	formWebhook                     // the second half of an original webhook payload
	formReplay                      // the second half of a retry_webhook payload
)

func stringPtr(s string) *string { return &s }

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) appURL(path string) *string { return stringPtr(s.cfg.appURL + path) }

// baseResponseLocked fills BaseRunResponse from the run's state.
func (s *Server) baseResponseLocked(r *run) runResponseBase {
	return runResponseBase{
		RunID:           r.id,
		Status:          string(r.status),
		Output:          r.output,
		DownloadedFiles: s.downloadedFilesLocked(r),
		RecordingURL:    s.recordingURLLocked(r),
		ScreenshotURLs:  r.screenshotURLs,
		FailureReason:   r.failureReason,
		CreatedAt:       skyvern.NewTime(r.createdAt),
		ModifiedAt:      skyvern.NewTime(r.modifiedAt),
		QueuedAt:        optionalTime(r.queuedAt),
		StartedAt:       optionalTime(r.startedAt),
		FinishedAt:      optionalTime(r.finishedAt),
		Errors:          r.errors,
		StepCount:       r.stepCount,
	}
}

func optionalTime(t time.Time) skyvern.Time {
	if t.IsZero() {
		return skyvern.Time{}
	}
	return skyvern.NewTime(t)
}

// taskResponse builds TaskRunResponse. run_task answers with the request
// mostly echoed and an app_url under /runs/; get_run (and the webhook, which
// is built from get_run) rebuilds run_request from the stored task, points
// app_url at /tasks/ for v1-style runs and leaves browser_session_id and
// max_screenshot_scrolls null.
func (s *Server) taskResponse(r *run, form responseForm) *taskRunResponse {
	req := r.task
	resp := &taskRunResponse{runResponseBase: s.baseResponseLocked(r), RunType: string(r.runType)}
	echo := &taskRunRequest{
		Prompt:                             req.Prompt,
		URL:                                req.URL,
		Engine:                             req.Engine,
		ProxyLocation:                      req.ProxyLocation,
		DataExtractionSchema:               req.DataExtractionSchema,
		ErrorCodeMapping:                   req.ErrorCodeMapping,
		MaxSteps:                           req.MaxSteps,
		WebhookURL:                         req.WebhookURL,
		TOTPIdentifier:                     req.TOTPIdentifier,
		TOTPURL:                            req.TOTPURL,
		IncludeActionHistoryInVerification: skyvern.Ptr(false),
		MaxScreenshotScrolls:               req.MaxScreenshotScrolls,
		FileIDs:                            req.FileIDs,
	}
	if r.v2 != nil {
		resp.AppURL = s.appURL("/runs/" + r.v2.workflowRunID)
	}
	switch form {
	case formCreate:
		if r.v2 == nil {
			resp.AppURL = s.appURL("/runs/" + r.id)
		}
		resp.BrowserSessionID = req.BrowserSessionID
		resp.MaxScreenshotScrolls = req.MaxScreenshotScrolls
		echo.BrowserSessionID = req.BrowserSessionID
		echo.StartFreshBrowser = req.StartFreshBrowser
	default:
		if r.v2 == nil {
			resp.AppURL = s.appURL("/tasks/" + r.id)
		}
		echo.Engine = runTypeEngine(r.runType)
	}
	resp.RunRequest = echo
	return resp
}

// workflowRunWith is the run_with a workflow run reports: the request's,
// else the workflow's.
func workflowRunWith(r *run) string {
	if r.flow.RunWith != nil {
		return *r.flow.RunWith
	}
	return r.workflow.RunWith
}

// workflowResponse builds WorkflowRunResponse for the given code path.
func (s *Server) workflowResponse(r *run, form responseForm) *workflowRunResponse {
	req, wf := r.flow, r.workflow
	resp := &workflowRunResponse{
		runResponseBase: s.baseResponseLocked(r),
		RunType:         string(skyvern.RunTypeWorkflowRun),
		Attempt:         r.attemptNumber(),
		RetryPending:    r.retryPending,
		NextAttemptAt:   optionalTime(r.nextAttemptAt),
		Attempts:        r.attemptsWire(),
		RunWith:         workflowRunWith(r),
		AIFallback:      req.AIFallback,
	}
	if resp.AIFallback == nil {
		resp.AIFallback = skyvern.Ptr(wf.AIFallback)
	}
	resp.AppURL = s.appURL("/runs/" + r.id)
	title := stringPtr(wf.Title)
	// The fields every rebuilt run_request carries.
	rebuilt := workflowRunRequest{
		WorkflowID:        wf.WorkflowPermanentID,
		Title:             title,
		Parameters:        r.parameters(),
		ProxyLocation:     req.ProxyLocation,
		WebhookURL:        optionalString(r.webhookURL),
		TOTPURL:           req.TOTPURL,
		TOTPIdentifier:    req.TOTPIdentifier,
		StartFreshBrowser: req.StartFreshBrowser,
	}
	switch form {
	case formCreate:
		resp.BrowserSessionID = req.BrowserSessionID
		resp.BrowserProfileID = req.BrowserProfileID
		echo := *req
		echo.Title = title
		echo.CDPConnectHeaders = maskHeaders(req.CDPConnectHeaders)
		resp.RunRequest = &echo
	case formGet:
		if !req.StartFreshBrowser {
			resp.BrowserSessionID = req.BrowserSessionID
			resp.BrowserProfileID = req.BrowserProfileID
		}
		resp.MaxScreenshotScrolls = req.MaxScreenshotScrolls
		if resp.MaxScreenshotScrolls == nil {
			resp.MaxScreenshotScrolls = wf.MaxScreenshotScrolls
		}
		rebuilt.MaxScreenshotScrolls = resp.MaxScreenshotScrolls
		rebuilt.BrowserAddress = req.BrowserAddress
		rebuilt.BrowserProfileID = resp.BrowserProfileID
		rebuilt.BrowserSessionID = resp.BrowserSessionID
		rebuilt.RunMetadata = req.RunMetadata
		rebuilt.BrowserType = req.BrowserType
		rebuilt.FileIDs = req.FileIDs
		resp.RunRequest = &rebuilt
	case formWebhook, formReplay:
		// The webhook's WorkflowRunResponse leaves these at their defaults,
		// overwriting the values of the legacy half of the payload.
		resp.RunWith = "agent"
		resp.AIFallback = nil
		if form == formReplay {
			resp.StepCount = nil
		}
		rebuilt.ReuseBrowserSession = req.ReuseBrowserSession
		resp.RunRequest = &rebuilt
	}
	return resp
}

// parameters are the run's parameter values ({} when none were given).
func (r *run) parameters() pyjson.Value {
	if r.flow.Parameters == nil {
		return pyjson.NewObject()
	}
	return r.flow.Parameters
}
