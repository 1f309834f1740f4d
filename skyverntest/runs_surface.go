package skyverntest

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

const maxBulkCancel = 100

// handleBulkCancelRuns answers bulk_cancel_runs: each distinct id is
// cancelled as cancel_run would, and lands in "cancelled" or, for any
// error, in "failed".
func (s *Server) handleBulkCancelRuns(w http.ResponseWriter, r *http.Request, c *call) {
	obj, ok := requireObject(w, c.body)
	if !ok {
		return
	}
	f := newFields(obj, "body")
	switch v, present := obj.Get("run_ids"); {
	case !present:
		f.fail("run_ids", "missing", "Field required", obj)
	case isNull(v):
		f.fail("run_ids", "list_type", "Input should be a valid list", v)
	}
	ids := f.stringList("run_ids", maxBulkCancel)
	if len(f.errs) > 0 {
		writeValidation(w, f.errs)
		return
	}
	cancelled, failed := pyjson.Array{}, pyjson.Array{}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		rec := httptest.NewRecorder()
		s.handleCancelRun(rec, r, &call{route: RouteCancelRun, params: []string{id}, apiKey: c.apiKey})
		if rec.Code == http.StatusOK {
			cancelled = append(cancelled, pyjson.String(id))
		} else {
			failed = append(failed, pyjson.String(id))
		}
	}
	out := pyjson.NewObject()
	out.Set("cancelled", cancelled)
	out.Set("failed", failed)
	writeJSON(w, http.StatusOK, out)
}

// handleRetryWorkflowRun answers retry_workflow_run: a new run of the same
// workflow version with the original request, once the original is final.
func (s *Server) handleRetryWorkflowRun(w http.ResponseWriter, r *http.Request, c *call) {
	maxSteps, errs := maxStepsHeader(r)
	if len(errs) > 0 {
		writeValidation(w, errs)
		return
	}
	id := c.params[0]
	s.mu.Lock()
	orig := s.runs[id]
	switch {
	case orig == nil || orig.runType != skyvern.RunTypeWorkflowRun:
		s.mu.Unlock()
		writeDetail(w, http.StatusNotFound, "Workflow run not found "+id)
		return
	case !orig.status.IsTerminal():
		s.mu.Unlock()
		writeDetail(w, http.StatusBadRequest, "Only terminal workflow runs can be retried")
		return
	}
	now := s.now()
	wr := &run{
		id: s.ids.next("wr"), runType: skyvern.RunTypeWorkflowRun, status: skyvern.RunStatusCreated,
		createdAt: now, modifiedAt: now, flow: orig.flow, workflow: orig.workflow,
		webhookURL: orig.webhookURL, signingKey: c.apiKey, rawRequest: orig.rawRequest, maxStepsOverride: maxSteps,
		retriedFrom: orig.id,
	}
	s.addRunLocked(wr)
	resp := mustJSONValue(s.workflowResponse(wr, formCreate))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// maxStepsHeader reads x-max-steps-override as FastAPI would.
func maxStepsHeader(r *http.Request) (*int, []validationError) {
	raw := r.Header.Values("x-max-steps-override")
	if len(raw) == 0 {
		return nil, nil
	}
	n, typ, msg := laxInt(pyjson.String(raw[0]))
	if typ != "" {
		return nil, []validationError{{Type: typ, Loc: []any{"header", "x-max-steps-override"}, Msg: msg, Input: pyjson.String(raw[0])}}
	}
	return &n, nil
}

// blockRun is what the single-block run routes (login, download_files)
// share: they build a one-block workflow on the fly and run it.
type blockRun struct {
	req       *workflowRunRequest
	url       *string // the block's starting URL, not a run parameter
	blockType string
	title     string
	block     *pyjson.Object
	params    pyjson.Array // the workflow's parameters (a login's credential)
}

// parseBlockRunSettings reads the fields of Skyvern's RunBlockRequest base
// class into a workflow run request, and returns the URL, which goes into
// the block: the run, as the server records it, has no parameters.
func parseBlockRunSettings(f *fields) (*workflowRunRequest, *string) {
	req := &workflowRunRequest{}
	url := f.url("url")
	req.WebhookURL = f.webhookURL("webhook_url")
	req.ProxyLocation = f.proxy("proxy_location", pyjson.String(skyvern.ProxyResidential))
	req.TOTPIdentifier = f.str("totp_identifier")
	req.TOTPURL = f.url("totp_url")
	req.BrowserSessionID = f.str("browser_session_id")
	req.BrowserProfileID = f.str("browser_profile_id")
	req.StartFreshBrowser = f.flag("start_fresh_browser", false)
	req.BrowserAddress = f.str("browser_address")
	req.ExtraHTTPHeaders = optionalObject(f.stringMap("extra_http_headers"))
	req.CDPConnectHeaders = optionalObject(f.stringMap("cdp_connect_headers"))
	req.MaxScreenshotScrolls = clampScrolls(f.integer("max_screenshot_scrolling_times"))
	return req, url
}

// endBlockRequest finishes validating a block-run body and writes the
// error answer, if any; it reports whether the request may go on.
func endBlockRequest(w http.ResponseWriter, f *fields, obj *pyjson.Object, req *workflowRunRequest) bool {
	if err := f.endRequest(obj, req.StartFreshBrowser, req.BrowserSessionID, req.BrowserProfileID, req.BrowserAddress); err != nil {
		err.write(w)
		return false
	}
	if len(f.errs) > 0 {
		writeValidation(w, f.errs)
		return false
	}
	// The server validates start_fresh_browser but does not pass it on to
	// the run, which therefore records and echoes false.
	req.StartFreshBrowser = false
	return true
}

func (s *Server) handleRunLogin(w http.ResponseWriter, _ *http.Request, c *call) {
	obj, ok := requireObject(w, c.body)
	if !ok {
		return
	}
	f := newFields(obj, "body")
	req, url := parseBlockRunSettings(f)
	credType := f.enum("credential_type", []string{"skyvern", "bitwarden", "1password", "azure_vault"})
	if _, present := obj.Get("credential_type"); !present {
		f.fail("credential_type", "missing", "Field required", obj)
	}
	prompt := f.str("prompt")
	credentialID := f.str("credential_id")
	vaultID, itemID := f.str("onepassword_vault_id"), f.str("onepassword_item_id")
	for _, k := range []string{"bitwarden_collection_id", "bitwarden_item_id", "azure_vault_name",
		"azure_vault_username_key", "azure_vault_password_key", "azure_vault_totp_secret_key"} {
		f.str(k)
	}
	if !endBlockRequest(w, f, obj, req) {
		return
	}
	// The fake keeps no credential store: any credential id is accepted.
	switch *credType {
	case "skyvern":
		if credentialID == nil || *credentialID == "" {
			writeDetail(w, http.StatusBadRequest, "credential_id is required to login with Skyvern credential")
			return
		}
	case "1password":
		if vaultID == nil || *vaultID == "" {
			writeDetail(w, http.StatusBadRequest, "onepassword_vault_id is required to login with 1Password credential")
			return
		}
		if itemID == nil || *itemID == "" {
			writeDetail(w, http.StatusBadRequest, "onepassword_item_id is required to login with 1Password credential")
			return
		}
	}
	block := pyjson.NewObject()
	block.Set("block_type", pyjson.String("login"))
	block.Set("label", pyjson.String("login"))
	if prompt != nil {
		block.Set("navigation_goal", pyjson.String(*prompt))
	}
	params := pyjson.Array{}
	if *credType == "skyvern" {
		// A Skyvern credential becomes a workflow parameter defaulting to
		// its id.
		p := pyjson.NewObject()
		p.Set("parameter_type", pyjson.String("workflow"))
		p.Set("key", pyjson.String("credential"))
		p.Set("workflow_parameter_type", pyjson.String("credential_id"))
		p.Set("default_value", pyjson.String(*credentialID))
		params = append(params, p)
	}
	s.startBlockRun(w, c, blockRun{req: req, url: url, blockType: "login", title: "Login", block: block, params: params})
}

func (s *Server) handleRunDownloadFiles(w http.ResponseWriter, _ *http.Request, c *call) {
	obj, ok := requireObject(w, c.body)
	if !ok {
		return
	}
	f := newFields(obj, "body")
	req, url := parseBlockRunSettings(f)
	goal := f.requiredString("navigation_goal")
	suffix := f.str("download_suffix")
	f.anyValue("download_timeout")
	f.integer("max_steps_per_run")
	if !endBlockRequest(w, f, obj, req) {
		return
	}
	block := pyjson.NewObject()
	block.Set("block_type", pyjson.String("file_download"))
	block.Set("label", pyjson.String("file_download"))
	block.Set("navigation_goal", pyjson.String(goal))
	if suffix != nil {
		block.Set("download_suffix", pyjson.String(*suffix))
	}
	s.startBlockRun(w, c, blockRun{req: req, url: url, blockType: "file_download", title: "File Download", block: block})
}

// startBlockRun creates the one-block workflow and its run, and answers
// with the WorkflowRunResponse. The workflow is stored as the server
// stores it, with status auto_generated: GetWorkflow reads it, and the
// workflow list leaves it out unless asked for that status.
func (s *Server) startBlockRun(w http.ResponseWriter, c *call, br blockRun) {
	s.mu.Lock()
	now := s.now()
	wpid := s.ids.next("wpid")
	if br.url != nil {
		br.block.Set("url", pyjson.String(*br.url))
	}
	wf := &workflowWire{
		WorkflowID: s.ids.next("w"), OrganizationID: s.orgID, Title: br.title, WorkflowPermanentID: wpid, Version: 1,
		WorkflowDefinition: workflowDefinition{Version: 1, Parameters: br.params, Blocks: pyjson.Array{br.block}},
		Status:             "auto_generated", RunWith: "agent", AIFallback: true,
		CreatedAt: skyvern.NewTime(now), ModifiedAt: skyvern.NewTime(now), AgentID: wpid,
	}
	if wf.WorkflowDefinition.Parameters == nil {
		wf.WorkflowDefinition.Parameters = pyjson.Array{}
	}
	rec := &workflowRecord{wpid: wpid, versions: []*workflowWire{wf}}
	s.workflows[wpid] = rec
	s.workflowOrder = append(s.workflowOrder, rec)
	br.req.WorkflowID = wpid
	wr := &run{
		id: s.ids.next("wr"), runType: skyvern.RunTypeWorkflowRun, status: skyvern.RunStatusCreated,
		createdAt: now, modifiedAt: now, flow: br.req, workflow: wf, signingKey: c.apiKey, rawRequest: c.raw,
	}
	if br.req.WebhookURL != nil {
		wr.webhookURL = strings.TrimSpace(*br.req.WebhookURL)
	}
	s.addRunLocked(wr)
	created := s.workflowResponse(wr, formCreate)
	created.RunRequest = blockRunCreateEcho(c, wf, br.req)
	resp := mustJSONValue(created)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// blockRunCreateEcho is the run_request a block run's create answer
// carries: the settings the block request passed on, the proxy as sent
// (null when not), under the id of the generated workflow's version (w_…,
// not its permanent id); the rest keeps its defaults. get_run rebuilds the
// usual echo instead.
func blockRunCreateEcho(c *call, wf *workflowWire, req *workflowRunRequest) *workflowRunRequest {
	echo := &workflowRunRequest{
		WorkflowID: wf.WorkflowID, Title: stringPtr(wf.Title),
		WebhookURL: req.WebhookURL, TOTPURL: req.TOTPURL, TOTPIdentifier: req.TOTPIdentifier,
		BrowserSessionID: req.BrowserSessionID, BrowserProfileID: req.BrowserProfileID,
		MaxScreenshotScrolls: req.MaxScreenshotScrolls,
	}
	if obj, ok := c.body.(*pyjson.Object); ok {
		if _, sent := obj.Get("proxy_location"); sent {
			echo.ProxyLocation = req.ProxyLocation
		}
	}
	return echo
}
