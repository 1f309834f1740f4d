package skyverntest

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// parseWorkflowRequest validates a WorkflowRequest body (create and update).
// errs are FastAPI's body-validation items (answered before anything else);
// routeErr is what the route itself rejects afterwards: no definition at
// all, or a yaml_definition it cannot read.
func parseWorkflowRequest(body pyjson.Value) (spec *workflowWire, errs []validationError, routeErr *httpError) {
	if body == nil {
		return nil, missingBody(), nil
	}
	obj, ok := body.(*pyjson.Object)
	if !ok {
		return nil, []validationError{{
			Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: body,
		}}, nil
	}
	f := newFields(obj, "body")
	jsonDef := f.object("json_definition")
	yamlDef := f.str("yaml_definition")
	if jsonDef != nil {
		spec, errs = parseWorkflowDefinition(jsonDef, "body", "json_definition")
	}
	errs = append(f.errs, errs...)
	if len(errs) > 0 {
		return nil, errs, nil
	}
	switch {
	case yamlDef != nil:
		spec, routeErr = parseYAMLDefinition(*yamlDef)
		return spec, nil, routeErr
	case jsonDef != nil:
		return spec, nil, nil
	}
	return nil, nil, &httpError{http.StatusUnprocessableEntity,
		"Invalid workflow definition. Workflow should be provided in either yaml or json format."}
}

// parseWorkflowDefinition validates a WorkflowCreateYAMLRequest object in
// its field order, returning the workflow it describes (ids, version and
// timestamps left empty).
func parseWorkflowDefinition(obj *pyjson.Object, loc ...any) (*workflowWire, []validationError) {
	f := newFields(obj, loc...)
	wf := &workflowWire{}
	wf.Title = f.requiredString("title")
	wf.Description = f.str("description")
	wf.ProxyLocation = f.proxy("proxy_location", nil)
	wf.WebhookCallbackURL = f.str("webhook_callback_url")
	wf.TOTPVerificationURL = f.str("totp_verification_url")
	wf.TOTPIdentifier = f.str("totp_identifier")
	wf.PersistBrowserSession = f.flag("persist_browser_session", false)
	wf.ReuseBrowserSession = f.flag("reuse_browser_session", false)
	wf.MaskSecrets = f.flag("mask_secrets", false)
	wf.PinSavedSessionIP = f.flag("pin_saved_session_ip", false)
	wf.BrowserProfileID = f.str("browser_profile_id")
	wf.BrowserProfileKey = f.str("browser_profile_key")
	wf.Model = optionalObject(f.object("model"))
	wf.BrowserType = f.enum("browser_type", browserTypes())
	wf.WorkflowDefinition = f.definition("workflow_definition")
	wf.IsSavedTask = f.flag("is_saved_task", false)
	wf.MaxScreenshotScrolls = f.integer("max_screenshot_scrolls")
	wf.MaxElapsedTimeMinutes = f.boundedInt("max_elapsed_time_minutes", 1, 480)
	wf.ExtraHTTPHeaders = optionalObject(f.stringMap("extra_http_headers"))
	wf.CDPConnectHeaders = maskHeaders(optionalObject(f.stringMap("cdp_connect_headers")))
	wf.Status = "published"
	if st := f.enum("status", workflowStatuses()); st != nil {
		wf.Status = *st
	}
	wf.RunWith = "agent"
	if rw := normalizeRunWith(f.str("run_with")); rw != nil {
		wf.RunWith = *rw
	}
	wf.AIFallback = f.flag("ai_fallback", true)
	wf.CacheKey = stringPtr("default")
	if v, present := obj.Get("cache_key"); present {
		wf.CacheKey = f.str("cache_key")
		if _, isStr := v.(pyjson.String); !isStr && !isNull(v) {
			wf.CacheKey = nil
		}
	}
	wf.AdaptiveCaching = f.flag("adaptive_caching", false)
	wf.EnableSelfHealing = f.flag("enable_self_healing", false)
	wf.CodeVersion = f.boundedInt("code_version", 1, 2)
	wf.GenerateScriptOnTerminal = f.flag("generate_script_on_terminal", false)
	wf.RunSequentially = boolPtr(f.flag("run_sequentially", false))
	wf.SequentialKey = f.str("sequential_key")
	wf.FolderID = f.str("folder_id")
	return wf, f.errs
}

func boolPtr(b bool) *bool { return &b }

// definition validates a WorkflowDefinitionYAML. Parameters and blocks are
// kept as sent; only their discriminators and required keys are checked.
func (f *fields) definition(key string) workflowDefinition {
	def := workflowDefinition{Version: 1, Parameters: pyjson.Array{}, Blocks: pyjson.Array{}}
	v, ok := f.lookup(key)
	if !ok {
		f.errs = append(f.errs, validationError{Type: "missing", Loc: f.at(key), Msg: "Field required", Input: f.obj})
		return def
	}
	obj, isObj := v.(*pyjson.Object)
	if !isObj {
		f.fail(key, "model_attributes_type", "Input should be a valid dictionary or object to extract fields from", v)
		return def
	}
	d := newFields(obj, f.at(key)...)
	if n := d.integer("version"); n != nil {
		def.Version = *n
	}
	def.Parameters = d.taggedList("parameters", "parameter_type", "key", parameterTypes())
	def.Blocks = d.taggedList("blocks", "block_type", "label", blockTypes())
	def.FinallyBlockLabel = d.str("finally_block_label")
	def.ErrorCodeMapping = optionalObject(d.stringMap("error_code_mapping"))
	def.WorkflowSystemPrompt = d.str("workflow_system_prompt")
	def.CompletionContract = optionalObject(d.object("completion_contract"))
	def.RetryPolicy = d.retryPolicy("retry_policy")
	f.errs = append(f.errs, d.errs...)
	return def
}

// taggedList validates a required list of a discriminated union: each item
// must be an object whose tag is one of tags and which has the required key.
func (f *fields) taggedList(key, tagKey, required string, tags []string) pyjson.Value {
	v, ok := f.lookup(key)
	if !ok {
		f.errs = append(f.errs, validationError{Type: "missing", Loc: f.at(key), Msg: "Field required", Input: f.obj})
		return pyjson.Array{}
	}
	list, isList := v.(pyjson.Array)
	if !isList {
		f.fail(key, "list_type", "Input should be a valid list", v)
		return pyjson.Array{}
	}
	quoted := "'" + strings.Join(tags, "', '") + "'"
	for i, item := range list {
		loc := append(f.at(key), i)
		obj, isObj := item.(*pyjson.Object)
		if !isObj {
			f.errs = append(f.errs, validationError{Type: "model_attributes_type", Loc: loc,
				Msg: "Input should be a valid dictionary or object to extract fields from", Input: item})
			continue
		}
		tagVal, hasTag := obj.Get(tagKey)
		tag, isStr := tagVal.(pyjson.String)
		if !hasTag || !isStr {
			ctx := pyjson.NewObject()
			ctx.Set("discriminator", pyjson.String("'"+tagKey+"'"))
			f.errs = append(f.errs, validationError{Type: "union_tag_not_found", Loc: loc,
				Msg: "Unable to extract tag using discriminator '" + tagKey + "'", Input: item, Ctx: ctx})
			continue
		}
		if !containsString(tags, string(tag)) {
			ctx := pyjson.NewObject()
			ctx.Set("discriminator", pyjson.String("'"+tagKey+"'"))
			ctx.Set("tag", tag)
			ctx.Set("expected_tags", pyjson.String(quoted))
			f.errs = append(f.errs, validationError{Type: "union_tag_invalid", Loc: loc,
				Msg: "Input tag '" + string(tag) + "' found using '" + tagKey +
					"' does not match any of the expected tags: " + quoted,
				Input: item, Ctx: ctx})
			continue
		}
		item := newFields(obj, append(loc, string(tag))...)
		item.requiredString(required)
		f.errs = append(f.errs, item.errs...)
	}
	return list
}

func parameterTypes() []string {
	return []string{"workflow", "context", "output", "credential", "aws_secret", "bitwarden_login_credential",
		"bitwarden_sensitive_information", "bitwarden_credit_card_data", "onepassword", "azure_vault_credential"}
}

func blockTypes() []string {
	return []string{"task", "for_loop", "while_loop", "code", "text_prompt", "download_to_s3", "upload_to_s3",
		"file_upload", "send_email", "file_url_parser", "validation", "action", "navigation", "extraction", "login",
		"wait", "human_interaction", "file_download", "goto_url", "pdf_parser", "task_v2", "http_request",
		"conditional", "print_page", "pdf_fill", "split_pdf", "workflow_trigger", "google_sheets_read",
		"email_inbox", "google_sheets_write"}
}

// parseYAMLDefinition reads a yaml_definition. Without a YAML parser (the
// module takes no such dependency) it accepts JSON, which is valid YAML, in
// full; for other YAML it reads the top-level scalars title, description and
// webhook_callback_url and stores an empty definition. Problems are a 422
// with a string detail, like Skyvern's route-level ValidationError handler.
func parseYAMLDefinition(text string) (*workflowWire, *httpError) {
	if v, err := pyjson.Parse([]byte(text)); err == nil {
		obj, ok := v.(*pyjson.Object)
		if !ok {
			return nil, &httpError{http.StatusUnprocessableEntity, "Input should be a valid dictionary"}
		}
		spec, errs := parseWorkflowDefinition(obj)
		if len(errs) > 0 {
			return nil, &httpError{http.StatusUnprocessableEntity, formatValidationString(errs)}
		}
		return spec, nil
	}
	scalars := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		scalars[strings.TrimSpace(k)] = v
	}
	obj := pyjson.NewObject()
	for _, k := range []string{"title", "description", "webhook_callback_url"} {
		if v, ok := scalars[k]; ok && v != "" {
			obj.Set(k, pyjson.String(v))
		}
	}
	def := pyjson.NewObject()
	def.Set("parameters", pyjson.Array{})
	def.Set("blocks", pyjson.Array{})
	obj.Set("workflow_definition", def)
	spec, errs := parseWorkflowDefinition(obj)
	if len(errs) > 0 {
		return nil, &httpError{http.StatusUnprocessableEntity, formatValidationString(errs)}
	}
	return spec, nil
}

// formatValidationString renders validation items as "loc -> path: msg; ...".
func formatValidationString(errs []validationError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		locs := make([]string, len(e.Loc))
		for j, l := range e.Loc {
			locs[j] = fmt.Sprint(l)
		}
		parts[i] = strings.Join(locs, " -> ") + ": " + e.Msg
	}
	return strings.Join(parts, "; ")
}
