package skyverntest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// run is the server's record of one task or workflow run.
type run struct {
	id         string
	runType    skyvern.RunType
	status     skyvern.RunStatus
	createdAt  time.Time
	modifiedAt time.Time
	queuedAt   time.Time
	startedAt  time.Time
	finishedAt time.Time

	output          pyjson.Value
	failureReason   *string
	stepCount       *int
	errors          pyjson.Value
	downloadedFiles pyjson.Value
	recordingURL    *string
	screenshotURLs  []string

	webhookURL           string // effective delivery URL; "" for none
	webhookFailureReason *string
	signingKey           string

	task     *taskRunRequest     // task runs: the validated request
	flow     *workflowRunRequest // workflow runs: the validated request
	workflow *workflowWire       // workflow runs: the version that ran
	v2       *v2Backing          // task v2 runs: the workflow run behind them

	maxStepsOverride *int
	retriedFrom      string // retry_workflow_run: the run this one retries
	rawRequest       []byte
	manual           bool // a test moved it; auto-advance leaves it alone

	// Workflow runs with a retry policy: the current attempt (from 1),
	// every attempt so far, and whether another one is due.
	attempt       int
	attempts      []*attemptRecord
	retryPending  bool
	nextAttemptAt time.Time
}

// v2Backing holds the ids of the workflow run Skyvern creates for every task
// v2 run.
type v2Backing struct {
	workflowRunID       string
	workflowID          string
	workflowPermanentID string
}

// engineRunTypes maps each engine to the run type of the runs it makes.
func engineRunType(engine string) skyvern.RunType {
	switch skyvern.RunEngine(engine) {
	case skyvern.RunEngineSkyvernV2:
		return skyvern.RunTypeTaskV2
	case skyvern.RunEngineSkyvernV3:
		return skyvern.RunTypeTaskV3
	case skyvern.RunEngineOpenAICUA:
		return skyvern.RunTypeOpenAICUA
	case skyvern.RunEngineAnthropicCUA:
		return skyvern.RunTypeAnthropicCUA
	case skyvern.RunEngineUITars:
		return skyvern.RunTypeUITars
	case skyvern.RunEngineYutoriNavigator:
		return skyvern.RunTypeYutoriNavigator
	}
	return skyvern.RunTypeTaskV1
}

// runTypeEngine is the engine get_run reports for a task run type.
func runTypeEngine(t skyvern.RunType) string {
	switch t {
	case skyvern.RunTypeTaskV2:
		return string(skyvern.RunEngineSkyvernV2)
	case skyvern.RunTypeTaskV3:
		return string(skyvern.RunEngineSkyvernV3)
	case skyvern.RunTypeOpenAICUA:
		return string(skyvern.RunEngineOpenAICUA)
	case skyvern.RunTypeAnthropicCUA:
		return string(skyvern.RunEngineAnthropicCUA)
	case skyvern.RunTypeUITars:
		return string(skyvern.RunEngineUITars)
	case skyvern.RunTypeYutoriNavigator:
		return string(skyvern.RunEngineYutoriNavigator)
	}
	return string(skyvern.RunEngineSkyvernV1)
}

// legacyTaskEngine reports whether a run type is one of the engines that
// reject browser profiles and fresh browsers (skyvern-1.0 and the CUAs).
func legacyTaskEngine(t skyvern.RunType) bool {
	switch t {
	case skyvern.RunTypeTaskV1, skyvern.RunTypeOpenAICUA, skyvern.RunTypeAnthropicCUA,
		skyvern.RunTypeUITars, skyvern.RunTypeYutoriNavigator:
		return true
	}
	return false
}

func (s *Server) handleRunTask(w http.ResponseWriter, _ *http.Request, c *call) {
	obj, ok := requireObject(w, c.body)
	if !ok {
		return
	}
	req, errs, fatal := parseTaskRunRequest(obj)
	if fatal != nil {
		fatal.write(w)
		return
	}
	if len(errs) > 0 {
		writeValidation(w, errs)
		return
	}
	engine := req.Engine
	if req.PublishWorkflow {
		engine = string(skyvern.RunEngineSkyvernV2)
	}
	runType := engineRunType(engine)
	if legacyTaskEngine(runType) {
		for _, unsupported := range []struct {
			set  bool
			name string
		}{{req.BrowserProfileID != nil, "browser_profile_id"}, {req.StartFreshBrowser, "start_fresh_browser"}} {
			if unsupported.set {
				writeDetail(w, http.StatusBadRequest, unsupported.name+
					" is not supported for the skyvern_v1 or CUA task engines; use engine=skyvern_v2.")
				return
			}
		}
	}

	s.mu.Lock()
	now := s.now()
	r := &run{
		runType: runType, status: skyvern.RunStatusCreated,
		createdAt: now, modifiedAt: now,
		task: req, signingKey: c.apiKey, rawRequest: c.raw,
	}
	if req.WebhookURL != nil {
		r.webhookURL = strings.TrimSpace(*req.WebhookURL)
	}
	if runType == skyvern.RunTypeTaskV2 {
		r.id = s.ids.next("tsk_v2")
		r.v2 = &v2Backing{
			workflowRunID:       s.ids.next("wr"),
			workflowID:          s.ids.next("w"),
			workflowPermanentID: s.ids.next("wpid"),
		}
		s.v2ByWorkflow[r.v2.workflowRunID] = r
	} else {
		r.id = s.ids.next("tsk")
	}
	s.addRunLocked(r)
	resp := mustJSONValue(s.taskResponse(r, formCreate))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleRunWorkflow(w http.ResponseWriter, r *http.Request, c *call) {
	var errs []validationError
	if raw, ok := r.URL.Query()["template"]; ok && len(raw) > 0 {
		if _, typ, msg := parseBoolString(raw[0]); typ != "" {
			errs = append(errs, validationError{Type: typ, Loc: []any{"query", "template"}, Msg: msg, Input: pyjson.String(raw[0])})
		}
	}
	maxSteps, headerErrs := maxStepsHeader(r)
	errs = append(errs, headerErrs...)
	var req *workflowRunRequest
	switch obj := c.body.(type) {
	case nil:
		errs = append(errs, missingBody()...)
	case *pyjson.Object:
		var bodyErrs []validationError
		var fatal *httpError
		req, bodyErrs, fatal = parseWorkflowRunRequest(obj)
		if fatal != nil {
			fatal.write(w)
			return
		}
		errs = append(errs, bodyErrs...)
	default:
		errs = append(errs, validationError{
			Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: c.body,
		})
	}
	if len(errs) > 0 {
		writeValidation(w, errs)
		return
	}

	s.mu.Lock()
	wf := s.liveWorkflowLocked(req.WorkflowID, 0)
	if wf == nil {
		s.mu.Unlock()
		writeDetail(w, http.StatusNotFound, "Workflow not found. workflow_permanent_id="+req.WorkflowID)
		return
	}
	now := s.now()
	wr := &run{
		id: s.ids.next("wr"), runType: skyvern.RunTypeWorkflowRun, status: skyvern.RunStatusCreated,
		createdAt: now, modifiedAt: now,
		flow: req, workflow: wf, signingKey: c.apiKey, rawRequest: c.raw, maxStepsOverride: maxSteps,
	}
	switch {
	case req.WebhookURL != nil:
		wr.webhookURL = strings.TrimSpace(*req.WebhookURL)
	case wf.WebhookCallbackURL != nil:
		wr.webhookURL = strings.TrimSpace(*wf.WebhookCallbackURL)
	}
	wr.currentAttempt() // a run with a retry policy lists its first attempt at once
	s.addRunLocked(wr)
	resp := mustJSONValue(s.workflowResponse(wr, formCreate))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// addRunLocked stores a new run and starts its auto-advance, if configured.
func (s *Server) addRunLocked(r *run) {
	s.runs[r.id] = r
	s.runOrder = append(s.runOrder, r)
	if s.cfg.autoStep > 0 {
		id := r.id
		s.goLocked(func() { s.autoAdvance(id, skyvern.RunStatusCreated) })
	}
	s.notifyLocked()
}

// findRunLocked finds a run by its id, or a task v2 run by the id of its
// backing workflow run, as get_run does.
func (s *Server) findRunLocked(id string) *run {
	if r, ok := s.runs[id]; ok {
		return r
	}
	return s.v2ByWorkflow[id]
}

func (s *Server) handleGetRun(w http.ResponseWriter, _ *http.Request, c *call) {
	id := c.params[0]
	s.mu.Lock()
	r := s.findRunLocked(id)
	if r == nil {
		s.mu.Unlock()
		writeDetail(w, http.StatusNotFound, "Task run not found "+id)
		return
	}
	resp := s.runResponseLocked(r, formGet)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) runResponseLocked(r *run, form responseForm) pyjson.Value {
	if r.runType == skyvern.RunTypeWorkflowRun {
		return mustJSONValue(s.workflowResponse(r, form))
	}
	return mustJSONValue(s.taskResponse(r, form))
}

// handleCancelRun cancels a run the way run_service.cancel_run does. The
// webhook is sent inside the request, so the call waits for it; for task v1
// (and v3/CUA) runs a failed delivery makes the cancel a 500, although the
// run stays canceled.
func (s *Server) handleCancelRun(w http.ResponseWriter, _ *http.Request, c *call) {
	id := c.params[0]
	s.mu.Lock()
	r := s.runs[id]
	if r == nil {
		s.mu.Unlock()
		writeDetail(w, http.StatusNotFound, "Run not found "+id)
		return
	}
	taskV1 := r.runType != skyvern.RunTypeWorkflowRun && r.runType != skyvern.RunTypeTaskV2
	var d *pendingDelivery
	switch {
	case taskV1 && r.status == skyvern.RunStatusCanceled:
		s.mu.Unlock()
		writeDetail(w, http.StatusBadRequest, fmt.Sprintf(
			"Invalid task status transition to canceled for %s because task is already canceled", id))
		return
	case taskV1 && r.status == skyvern.RunStatusTimedOut:
		s.mu.Unlock()
		writeUnexpected(w, "TaskAlreadyTimeout")
		return
	case taskV1 && r.status.IsTerminal():
		s.mu.Unlock()
		writeDetail(w, http.StatusBadRequest, fmt.Sprintf(
			"Invalid task status transition from %s to canceled for %s", r.status, id))
		return
	case r.retryPending:
		// Cancelling between attempts revokes the retry: the run ends as
		// canceled, with its final webhook.
		r.manual = true
		d = s.revokeRetryLocked(r)
	case r.status.IsTerminal():
		// A workflow (or task v2) run that already finished is left as it
		// is, but its webhook goes out again with the current status.
		d = s.pendingDeliveryLocked(r)
	default:
		r.manual = true
		d = s.finishLocked(r, finish{status: skyvern.RunStatusCanceled})
	}
	s.notifyLocked()
	s.mu.Unlock()

	if d != nil {
		result, ok := s.deliver(d)
		if ok && taskV1 && result.FailureReason != "" {
			writeUnexpected(w, "FailedToSendWebhook")
			return
		}
	}
	writeJSON(w, http.StatusOK, pyjson.Null{})
}

// parseTaskRunRequest validates a run_task body in TaskRunRequest's field
// order.
func parseTaskRunRequest(obj *pyjson.Object) (*taskRunRequest, []validationError, *httpError) {
	f := newFields(obj, "body")
	req := &taskRunRequest{}
	req.Prompt = f.requiredString("prompt")
	req.URL = f.url("url")
	req.Engine = string(skyvern.RunEngineSkyvernV1)
	if e := f.enum("engine", runEngines()); e != nil {
		req.Engine = *e
	}
	req.Title = f.str("title")
	req.ProxyLocation = f.proxy("proxy_location", pyjson.String(skyvern.ProxyResidential))
	req.DataExtractionSchema = f.anyValue("data_extraction_schema")
	req.ErrorCodeMapping = optionalObject(f.stringMap("error_code_mapping"))
	req.MaxSteps = f.integer("max_steps")
	req.WebhookURL = f.webhookURL("webhook_url")
	req.TOTPIdentifier = f.str("totp_identifier")
	req.TOTPURL = f.url("totp_url")
	req.BrowserSessionID = f.str("browser_session_id")
	req.BrowserProfileID = f.str("browser_profile_id")
	req.StartFreshBrowser = f.flag("start_fresh_browser", false)
	req.Model = optionalObject(f.object("model"))
	req.ExtraHTTPHeaders = optionalObject(f.stringMap("extra_http_headers"))
	req.CDPConnectHeaders = optionalObject(f.stringMap("cdp_connect_headers"))
	req.PublishWorkflow = f.flag("publish_workflow", false)
	req.IncludeActionHistoryInVerification = f.boolean("include_action_history_in_verification")
	if req.IncludeActionHistoryInVerification == nil {
		if v, present := obj.Get("include_action_history_in_verification"); !present || !isNull(v) {
			req.IncludeActionHistoryInVerification = skyvern.Ptr(false)
		}
	}
	req.MaxScreenshotScrolls = clampScrolls(f.integer("max_screenshot_scrolls"))
	req.BrowserAddress = f.str("browser_address")
	req.RunWith = normalizeRunWith(f.str("run_with"))
	req.FileIDs = f.stringList("file_ids", maxFileIDs)
	if err := f.endRequest(obj, req.StartFreshBrowser, req.BrowserSessionID, req.BrowserProfileID, req.BrowserAddress); err != nil {
		return nil, nil, err
	}
	return req, f.errs, nil
}

// maxFileIDs is the server's limit on file_ids.
const maxFileIDs = 50

// parseWorkflowRunRequest validates a run_workflow body in
// WorkflowRunRequest's field order; agent_id and workflow_id are aliases.
func parseWorkflowRunRequest(obj *pyjson.Object) (*workflowRunRequest, []validationError, *httpError) {
	f := newFields(obj, "body")
	req := &workflowRunRequest{}
	if _, ok := obj.Get("agent_id"); ok {
		req.WorkflowID = f.requiredString("agent_id")
	} else if _, ok := obj.Get("workflow_id"); ok {
		req.WorkflowID = f.requiredString("workflow_id")
	} else {
		f.requiredString("agent_id")
	}
	req.Parameters = optionalObject(f.object("parameters"))
	req.Title = f.str("title")
	req.ProxyLocation = f.proxy("proxy_location", pyjson.String(skyvern.ProxyResidential))
	req.WebhookURL = f.webhookURL("webhook_url")
	req.TOTPURL = f.url("totp_url")
	req.TOTPIdentifier = f.str("totp_identifier")
	req.BrowserSessionID = f.str("browser_session_id")
	req.ReuseBrowserSession = f.boolean("reuse_browser_session")
	req.BrowserProfileID = f.str("browser_profile_id")
	req.StartFreshBrowser = f.flag("start_fresh_browser", false)
	req.MaxScreenshotScrolls = clampScrolls(f.integer("max_screenshot_scrolls"))
	req.MaxElapsedTimeMinutes = f.boundedInt("max_elapsed_time_minutes", 1, 480)
	req.ExtraHTTPHeaders = optionalObject(f.stringMap("extra_http_headers"))
	req.CDPConnectHeaders = optionalObject(f.stringMap("cdp_connect_headers"))
	req.BrowserAddress = f.str("browser_address")
	req.AIFallback = f.boolean("ai_fallback")
	req.RunWith = normalizeRunWith(f.str("run_with"))
	req.BrowserType = f.enum("browser_type", browserTypes())
	req.RunMetadata = dropReservedMetadata(optionalObject(f.stringMap("run_metadata")))
	req.FileIDs = f.stringList("file_ids", maxFileIDs)
	if err := f.endRequest(obj, req.StartFreshBrowser, req.BrowserSessionID, req.BrowserProfileID, req.BrowserAddress); err != nil {
		return nil, nil, err
	}
	if req.BrowserType != nil && len(f.errs) == 0 && (req.BrowserSessionID != nil || req.BrowserAddress != nil) {
		f.modelError(obj, "browser_type cannot be combined with browser_session_id or browser_address")
	}
	return req, f.errs, nil
}

// endRequest finishes validating a run request: a URL error raised while
// reading the fields wins; otherwise, on a body with no other errors, the
// model validator that forbids a fresh browser together with an existing
// session, profile or address runs.
func (f *fields) endRequest(obj *pyjson.Object, fresh bool, existing ...*string) *httpError {
	if f.fatal != nil {
		return f.fatal
	}
	if !fresh || len(f.errs) > 0 {
		return nil
	}
	for _, e := range existing {
		if e != nil {
			f.modelError(obj, "start_fresh_browser cannot be combined with browser_session_id, browser_profile_id or browser_address")
			return nil
		}
	}
	return nil
}

// modelError records the value_error a model validator raises for the
// whole body.
func (f *fields) modelError(obj *pyjson.Object, msg string) {
	ctx := pyjson.NewObject()
	ctx.Set("error", pyjson.String(msg))
	f.errs = append(f.errs, validationError{Type: "value_error", Loc: []any{"body"}, Msg: "Value error, " + msg, Input: obj, Ctx: ctx})
}

// optionalObject turns a nil *pyjson.Object into a nil pyjson.Value, so that it
// is written as null.
func optionalObject(o *pyjson.Object) pyjson.Value {
	if o == nil {
		return nil
	}
	return o
}

func clampScrolls(n *int) *int {
	if n == nil {
		return nil
	}
	v := min(max(*n, 0), 1000)
	return &v
}

// normalizeRunWith maps legacy and unknown run_with values the way the
// server's validator does; null stays null (inherit).
func normalizeRunWith(s *string) *string {
	if s == nil {
		return nil
	}
	v := "agent"
	if *s == "code" || *s == "code_v2" {
		v = "code"
	}
	return &v
}

// maskHeaders replaces every header value with "***", as Skyvern does when
// it echoes cdp_connect_headers.
func maskHeaders(v pyjson.Value) pyjson.Value {
	obj, ok := v.(*pyjson.Object)
	if !ok {
		return v
	}
	out := pyjson.NewObject()
	for _, m := range obj.Members() {
		out.Set(m.Key, pyjson.String("***"))
	}
	return out
}

// runEngines lists the engines run_task accepts.
func runEngines() []string {
	return []string{
		string(skyvern.RunEngineSkyvernV1), string(skyvern.RunEngineSkyvernV2), string(skyvern.RunEngineSkyvernV3),
		string(skyvern.RunEngineOpenAICUA), string(skyvern.RunEngineAnthropicCUA), string(skyvern.RunEngineUITars),
		string(skyvern.RunEngineYutoriNavigator),
	}
}
