package skyverntest

import (
	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// webhookPayloadLocked builds the object Skyvern signs and posts for a run:
// a legacy object, updated with the run response with dict.update semantics
// (keys already present keep their position and take the new value; new
// keys are appended). A replay (retry_webhook) builds it from less: task
// v2 replays carry only the run response, and workflow replays drop the
// webhook and TOTP settings, extra headers and run_request.
func (s *Server) webhookPayloadLocked(r *run, replay bool) *pyjson.Object {
	switch r.runType {
	case skyvern.RunTypeWorkflowRun:
		base := mustObject(s.legacyWorkflowRunLocked(r))
		if replay {
			base = base.Without("webhook_callback_url", "totp_verification_url", "totp_identifier", "extra_http_headers")
			base.Update(mustObject(s.workflowResponse(r, formReplay)).Without("run_request"))
			return base
		}
		base.Update(mustObject(s.workflowResponse(r, formWebhook)))
		return base
	case skyvern.RunTypeTaskV2:
		resp := mustObject(s.taskResponse(r, formGet)).Without("run_request")
		if replay {
			return resp
		}
		base := mustObject(s.legacyTaskV2Locked(r))
		base.Update(resp)
		return base
	default:
		base := mustObject(s.legacyTaskLocked(r))
		base.Update(mustObject(s.taskResponse(r, formGet)).Without("run_request"))
		return base
	}
}

func (s *Server) legacyTaskLocked(r *run) *legacyTaskResponse {
	req := r.task
	var fileURLs pyjson.Value
	if r.downloadedFiles != nil {
		fileURLs = pyjson.Array{}
	}
	errs := r.errors
	if errs == nil {
		errs = pyjson.Array{}
	}
	return &legacyTaskResponse{
		TaskID:               r.id,
		Status:               string(r.status),
		CreatedAt:            skyvern.NewTime(r.createdAt),
		ModifiedAt:           skyvern.NewTime(r.modifiedAt),
		ExtractedInformation: r.output,
		ActionScreenshotURLs: r.screenshotURLs,
		RecordingURL:         r.recordingURL,
		DownloadedFiles:      r.downloadedFiles,
		DownloadedFileURLs:   fileURLs,
		FailureReason:        r.failureReason,
		WebhookFailureReason: r.webhookFailureReason,
		Errors:               errs,
		MaxStepsPerRun:       req.MaxSteps,
		QueuedAt:             optionalTime(r.queuedAt),
		StartedAt:            optionalTime(r.startedAt),
		FinishedAt:           optionalTime(r.finishedAt),
		MaxScreenshotScrolls: req.MaxScreenshotScrolls,
		StepCount:            r.stepCount,
		BrowserSessionID:     req.BrowserSessionID,
	}
}

func (s *Server) legacyTaskV2Locked(r *run) *legacyTaskV2 {
	req := r.task
	return &legacyTaskV2{
		TaskID:                      r.id,
		Status:                      string(r.status),
		OrganizationID:              s.orgID,
		WorkflowRunID:               r.v2.workflowRunID,
		WorkflowID:                  r.v2.workflowID,
		WorkflowPermanentID:         r.v2.workflowPermanentID,
		Prompt:                      req.Prompt,
		URL:                         req.URL,
		Output:                      r.output,
		TOTPVerificationURL:         req.TOTPURL,
		TOTPIdentifier:              req.TOTPIdentifier,
		ProxyLocation:               req.ProxyLocation,
		WebhookCallbackURL:          optionalString(r.webhookURL),
		WebhookFailureReason:        r.webhookFailureReason,
		ExtractedInformationSchema:  req.DataExtractionSchema,
		ErrorCodeMapping:            req.ErrorCodeMapping,
		Model:                       req.Model,
		QueuedAt:                    optionalTime(r.queuedAt),
		StartedAt:                   optionalTime(r.startedAt),
		FinishedAt:                  optionalTime(r.finishedAt),
		MaxScreenshotScrollingTimes: req.MaxScreenshotScrolls,
		ExtraHTTPHeaders:            req.ExtraHTTPHeaders,
		CDPConnectHeaders:           maskHeaders(req.CDPConnectHeaders),
		BrowserAddress:              req.BrowserAddress,
		RunWith:                     req.RunWith,
		CreatedAt:                   skyvern.NewTime(r.createdAt),
		ModifiedAt:                  skyvern.NewTime(r.modifiedAt),
	}
}

func (s *Server) legacyWorkflowRunLocked(r *run) *legacyWorkflowRun {
	req, wf := r.flow, r.workflow
	var fileURLs pyjson.Value
	if r.downloadedFiles != nil {
		fileURLs = pyjson.Array{}
	}
	totpURL, totpID := req.TOTPURL, req.TOTPIdentifier
	if totpURL == nil {
		totpURL = wf.TOTPVerificationURL
	}
	if totpID == nil {
		totpID = wf.TOTPIdentifier
	}
	headers := req.ExtraHTTPHeaders
	if headers == nil {
		headers = wf.ExtraHTTPHeaders
	}
	cdp := req.CDPConnectHeaders
	if cdp == nil {
		cdp = wf.CDPConnectHeaders
	}
	scrolls := req.MaxScreenshotScrolls
	if scrolls == nil {
		scrolls = wf.MaxScreenshotScrolls
	}
	return &legacyWorkflowRun{
		WorkflowID:           wf.WorkflowPermanentID,
		WorkflowRunID:        r.id,
		Status:               string(r.status),
		FailureReason:        r.failureReason,
		ProxyLocation:        req.ProxyLocation,
		WebhookCallbackURL:   optionalString(r.webhookURL),
		WebhookFailureReason: r.webhookFailureReason,
		TOTPVerificationURL:  totpURL,
		TOTPIdentifier:       totpID,
		ExtraHTTPHeaders:     headers,
		CDPConnectHeaders:    maskHeaders(cdp),
		QueuedAt:             optionalTime(r.queuedAt),
		StartedAt:            optionalTime(r.startedAt),
		FinishedAt:           optionalTime(r.finishedAt),
		CreatedAt:            skyvern.NewTime(r.createdAt),
		ModifiedAt:           skyvern.NewTime(r.modifiedAt),
		Parameters:           r.parameters(),
		ScreenshotURLs:       r.screenshotURLs,
		RecordingURL:         r.recordingURL,
		DownloadedFiles:      r.downloadedFiles,
		DownloadedFileURLs:   fileURLs,
		Outputs:              r.output,
		TotalSteps:           r.stepCount,
		WorkflowTitle:        stringPtr(wf.Title),
		BrowserSessionID:     req.BrowserSessionID,
		BrowserProfileID:     req.BrowserProfileID,
		MaxScreenshotScrolls: scrolls,
		BrowserAddress:       req.BrowserAddress,
		RunWith:              workflowRunWith(r),
		Errors:               r.errors,
		AgentID:              wf.WorkflowPermanentID,
		AgentRunID:           r.id,
	}
}
