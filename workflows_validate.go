package skyvern

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits the server enforces on workflow requests.
const (
	maxElapsedTimeMinutes  = 480
	maxRunMetadataKeys     = 20
	maxRunMetadataKeyLen   = 64
	maxRunMetadataValueLen = 256
)

// validate checks a create or update body before anything is sent: the
// server answers some of these mistakes with a 422 after the whole
// definition went over the wire, and silently ignores others.
func (r *WorkflowRequest) validate() error {
	if r == nil {
		return &InvalidRequestError{Field: "request", Reason: "must not be nil"}
	}
	hasYAML := r.YAMLDefinition != ""
	switch {
	case r.JSONDefinition == nil && !hasYAML:
		return &InvalidRequestError{Field: "json_definition", Reason: "or yaml_definition must be set"}
	case r.JSONDefinition != nil && hasYAML:
		return &InvalidRequestError{Field: "yaml_definition", Reason: "and json_definition are both set; the server would ignore json_definition"}
	case hasYAML:
		return validateYAMLDefinition(r.YAMLDefinition)
	}
	return r.JSONDefinition.validate("json_definition")
}

func (d *WorkflowDefinition) validate(path string) error {
	if isBlank(d.Title) {
		return &InvalidRequestError{Field: path + ".title", Reason: "is required"}
	}
	if err := validateCallbackURL(path+".webhook_callback_url", d.WebhookCallbackURL); err != nil {
		return err
	}
	if err := validateCallbackURL(path+".totp_verification_url", d.TOTPVerificationURL); err != nil {
		return err
	}
	if err := validateElapsedMinutes(path+".max_elapsed_time_minutes", d.MaxElapsedTimeMinutes); err != nil {
		return err
	}
	if d.CodeVersion != nil && (*d.CodeVersion < 1 || *d.CodeVersion > 2) {
		return &InvalidRequestError{Field: path + ".code_version", Reason: fmt.Sprintf("must be 1 or 2, got %d", *d.CodeVersion)}
	}
	return d.WorkflowDefinition.validate(path + ".workflow_definition")
}

func (d *WorkflowDefinitionBody) validate(path string) error {
	for i, p := range d.Parameters {
		at := fmt.Sprintf("%s.parameters[%d]", path, i)
		if isNilPointer(p) {
			return &InvalidRequestError{Field: at, Reason: "is nil"}
		}
		if raw, ok := p.(*RawParameter); ok {
			if err := validateRawObject(at, raw.Raw, parameterTypeKey, string(raw.ParameterType())); err != nil {
				return err
			}
		}
		if isBlank(p.key()) {
			return &InvalidRequestError{Field: at + ".key", Reason: "is required"}
		}
		if wp, ok := p.(*WorkflowParameter); ok && wp.WorkflowParameterType == "" {
			return &InvalidRequestError{Field: at + ".workflow_parameter_type", Reason: "is required"}
		}
	}
	if d.RetryPolicy != nil {
		if err := d.RetryPolicy.validate(path + ".retry_policy"); err != nil {
			return err
		}
	}
	return validateBlocks(path+".blocks", d.Blocks)
}

// validate applies the server's schema to a retry policy, which it would
// refuse with a 422 only after the whole definition was sent.
func (p *RetryPolicy) validate(path string) error {
	switch {
	case p.MaxRetries < 0:
		return &InvalidRequestError{Field: path + ".max_retries", Reason: fmt.Sprintf("must not be negative, got %d", p.MaxRetries)}
	case p.DelaySeconds < 0:
		return &InvalidRequestError{Field: path + ".delay_seconds", Reason: fmt.Sprintf("must not be negative, got %d", p.DelaySeconds)}
	case p.WebhookOnRetry != "" && !p.WebhookOnRetry.known():
		return &InvalidRequestError{Field: path + ".webhook_on_retry", Reason: fmt.Sprintf("must be %q or %q, got %q", WebhookOnRetryFinalOnly, WebhookOnRetryEveryAttempt, p.WebhookOnRetry)}
	case len(p.RetryOn) == 0:
		return &InvalidRequestError{Field: path + ".retry_on", Reason: "needs at least one rule"}
	}
	for i, rule := range p.RetryOn {
		if isBlank(string(rule.Status)) {
			return &InvalidRequestError{Field: fmt.Sprintf("%s.retry_on[%d].status", path, i), Reason: "is required"}
		}
	}
	return nil
}

func validateBlocks(path string, blocks Blocks) error {
	for i, b := range blocks {
		at := fmt.Sprintf("%s[%d]", path, i)
		if isNilPointer(b) {
			return &InvalidRequestError{Field: at, Reason: "is nil"}
		}
		if raw, ok := b.(*RawBlock); ok {
			if err := validateRawObject(at, raw.Raw, blockTypeKey, string(raw.BlockType())); err != nil {
				return err
			}
		}
		if isBlank(b.label()) {
			return &InvalidRequestError{Field: at + ".label", Reason: "is required"}
		}
		if loop, ok := b.(*ForLoopBlock); ok {
			if err := validateBlocks(at+".loop_blocks", loop.LoopBlocks); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateRawObject checks a RawBlock or RawParameter built by hand.
func validateRawObject(path string, raw json.RawMessage, key, kind string) error {
	if _, err := probeKind(raw); err != nil || !strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
		return &InvalidRequestError{Field: path, Reason: "must be a JSON object"}
	}
	if kind == "" {
		return &InvalidRequestError{Field: path + "." + key, Reason: "is required"}
	}
	return nil
}

// isNilPointer reports a nil interface or one holding a nil pointer, which
// would be sent as null.
func isNilPointer(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// validateYAMLDefinition catches, in YAML text, the mistake the Go types
// make impossible: a top-level webhook_url, which the server drops.
func validateYAMLDefinition(doc string) error {
	if isBlank(doc) {
		return &InvalidRequestError{Field: "yaml_definition", Reason: "must not be blank"}
	}
	if yamlSetsTopLevelKey(doc, "webhook_url") {
		return &InvalidRequestError{Field: "yaml_definition", Reason: "sets webhook_url, which the server ignores when creating or updating a workflow; use webhook_callback_url (webhook_url is the per-run override of RunWorkflow)"}
	}
	return nil
}

// yamlSetsTopLevelKey reports whether a YAML document (or a JSON one, which
// is also YAML) has key at its top level: a line starting with the key,
// quoted or not, followed by a colon.
func yamlSetsTopLevelKey(doc, key string) bool {
	if trimmed := strings.TrimSpace(doc); strings.HasPrefix(trimmed, "{") {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(trimmed), &obj) == nil {
			_, ok := obj[key]
			return ok
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		for _, quote := range []string{"", `"`, `'`} {
			quoted := quote + key + quote
			if rest, ok := strings.CutPrefix(line, quoted); ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), ":") {
				return true
			}
		}
	}
	return false
}

func validateElapsedMinutes(field string, minutes *int) error {
	if minutes != nil && (*minutes < 1 || *minutes > maxElapsedTimeMinutes) {
		return &InvalidRequestError{Field: field, Reason: fmt.Sprintf("must be between 1 and %d, got %d", maxElapsedTimeMinutes, *minutes)}
	}
	return nil
}

// validateRunMetadata applies the server's limits on run_metadata; lengths
// are counted in characters, as the server counts them.
func validateRunMetadata(md map[string]string) error {
	if len(md) > maxRunMetadataKeys {
		return &InvalidRequestError{Field: "run_metadata", Reason: fmt.Sprintf("has %d keys; at most %d are allowed", len(md), maxRunMetadataKeys)}
	}
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if n := utf8.RuneCountInString(k); n > maxRunMetadataKeyLen {
			return &InvalidRequestError{Field: "run_metadata", Reason: fmt.Sprintf("key %q… is %d characters long; at most %d are allowed", prefixRunes(k, 16), n, maxRunMetadataKeyLen)}
		}
		if n := utf8.RuneCountInString(md[k]); n > maxRunMetadataValueLen {
			return &InvalidRequestError{Field: "run_metadata", Reason: fmt.Sprintf("value of key %q is %d characters long; at most %d are allowed", k, n, maxRunMetadataValueLen)}
		}
	}
	return nil
}

func prefixRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
