package skyvern

import (
	"encoding/json"
	"errors"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// WorkflowDefinitionBody is the inner definition of a workflow (the server's
// WorkflowDefinitionYAML, under the key workflow_definition): its parameters
// and blocks. Parameters and Blocks are required by the server; nil ones are
// sent as empty lists.
//
// Decoded from JSON, it keeps its object like a Block does, so keys this SDK
// does not model survive re-encoding.
type WorkflowDefinitionBody struct {
	// Version is 1 or 2; the server picks 2 when blocks route with
	// next_block_label or conditional blocks. 0 leaves it to the server.
	Version    int        `json:"version,omitempty"`
	Parameters Parameters `json:"parameters"`
	Blocks     Blocks     `json:"blocks"`
	// FinallyBlockLabel names a block that runs however the workflow ends.
	FinallyBlockLabel string `json:"finally_block_label,omitempty"`
	// ErrorCodeMapping maps your error codes to conditions in prose; a
	// failed run then carries output.error with the matching code.
	ErrorCodeMapping map[string]string `json:"error_code_mapping,omitempty"`
	// WorkflowSystemPrompt is added to the prompts of every LLM block.
	WorkflowSystemPrompt string `json:"workflow_system_prompt,omitempty"`
	// CompletionContract is managed by Skyvern's copilot; keep it as read.
	CompletionContract json.RawMessage `json:"completion_contract,omitempty"`
	// RetryPolicy makes the server run the workflow again, under the same
	// run id, when an attempt ends in a status it lists. nil runs once.
	RetryPolicy *RetryPolicy `json:"retry_policy,omitempty"`

	kept keptjson.Kept
}

// RetryPolicy says when and how often a workflow run is attempted again
// (workflow_definition.retry_policy). Each retry restarts the workflow from
// its first block under the same wr_ id, and is billed like a run. A
// canceled run is never retried.
//
// While a retry is pending the run reports a terminal status with
// Run.RetryPending set; Run.IsFinal and WaitForRun take care of it, and the
// webhook Handler passes only final outcomes to its function (see
// WithInterimHook for the others).
type RetryPolicy struct {
	// MaxRetries is how many attempts may follow the first (the server's
	// UI offers 1 to 5). It is always sent: 0 means no retry.
	MaxRetries int `json:"max_retries"`
	// DelaySeconds is the pause before each retry (the UI offers 0 to
	// 3600). It is always sent.
	DelaySeconds int `json:"delay_seconds"`
	// WebhookOnRetry chooses which attempts send a webhook; "" leaves the
	// server's default, WebhookOnRetryFinalOnly.
	WebhookOnRetry WebhookOnRetry `json:"webhook_on_retry,omitempty"`
	// RetryOn lists the rules an attempt's outcome must match, any of
	// them, to be retried; at least one is required.
	RetryOn []RetryRule `json:"retry_on"`

	kept keptjson.Kept
}

// RetryRule matches an attempt's outcome: Status must equal the attempt's
// status and, when ErrorCodes is not empty, one of the attempt's error codes
// must be listed.
type RetryRule struct {
	Status     RunStatus `json:"status"`
	ErrorCodes []string  `json:"error_codes,omitempty"`

	kept keptjson.Kept
}

// MarshalJSON implements json.Marshaler.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	type plain RetryPolicy
	return p.kept.Encode(keptjson.Marshal(plain(p)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *RetryPolicy) UnmarshalJSON(data []byte) error {
	type plain RetryPolicy
	return keptjson.Decode(data, (*plain)(p), &p.kept)
}

// MarshalJSON implements json.Marshaler.
func (r RetryRule) MarshalJSON() ([]byte, error) {
	type plain RetryRule
	return r.kept.Encode(keptjson.Marshal(plain(r)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *RetryRule) UnmarshalJSON(data []byte) error {
	type plain RetryRule
	return keptjson.Decode(data, (*plain)(r), &r.kept)
}

// MarshalJSON implements json.Marshaler.
func (d WorkflowDefinitionBody) MarshalJSON() ([]byte, error) {
	type plain WorkflowDefinitionBody
	return d.kept.Encode(keptjson.Marshal(plain(d)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *WorkflowDefinitionBody) UnmarshalJSON(data []byte) error {
	type plain WorkflowDefinitionBody
	return keptjson.Decode(data, (*plain)(d), &d.kept)
}

// ParameterType names a kind of workflow parameter (the parameter_type
// discriminator). Unknown values decode without error.
type ParameterType string

// Parameter types the server knows. The SDK has typed structs for some (see
// Parameter); every other kind travels as a *RawParameter.
const (
	ParameterTypeWorkflow                      ParameterType = "workflow"
	ParameterTypeContext                       ParameterType = "context"
	ParameterTypeOutput                        ParameterType = "output"
	ParameterTypeCredential                    ParameterType = "credential"
	ParameterTypeAWSSecret                     ParameterType = "aws_secret"
	ParameterTypeBitwardenLoginCredential      ParameterType = "bitwarden_login_credential"
	ParameterTypeBitwardenSensitiveInformation ParameterType = "bitwarden_sensitive_information"
	ParameterTypeBitwardenCreditCardData       ParameterType = "bitwarden_credit_card_data"
	ParameterTypeOnePassword                   ParameterType = "onepassword"
	ParameterTypeAzureVaultCredential          ParameterType = "azure_vault_credential"
)

const parameterTypeKey = "parameter_type"

// WorkflowParameterType is the value type of a workflow parameter.
type WorkflowParameterType string

// Workflow parameter value types.
const (
	WorkflowParameterString       WorkflowParameterType = "string"
	WorkflowParameterInteger      WorkflowParameterType = "integer"
	WorkflowParameterFloat        WorkflowParameterType = "float"
	WorkflowParameterBoolean      WorkflowParameterType = "boolean"
	WorkflowParameterJSON         WorkflowParameterType = "json"
	WorkflowParameterFileURL      WorkflowParameterType = "file_url"
	WorkflowParameterCredentialID WorkflowParameterType = "credential_id"
)

// Parameter is one parameter of a workflow definition. It is implemented by
// *WorkflowParameter, *ContextParameter, *OutputParameter,
// *CredentialParameter and by *RawParameter, which carries any other kind as
// JSON. Decoded parameters keep their JSON object the way blocks do (see
// Block); the parameter_type key is written from the Go type.
type Parameter interface {
	// ParameterType returns the parameter's kind.
	ParameterType() ParameterType
	// key returns the parameter's key; it also keeps other packages from
	// implementing Parameter.
	key() string
}

// Parameters is a list of parameters, decoded like Blocks. A nil Parameters
// encodes as [], since the server requires the list.
type Parameters []Parameter

// MarshalJSON implements json.Marshaler.
func (ps Parameters) MarshalJSON() ([]byte, error) { return encodeList(ps) }

// UnmarshalJSON implements json.Unmarshaler.
func (ps *Parameters) UnmarshalJSON(data []byte) error {
	list, err := decodeList(data, decodeParameter)
	*ps = list
	return err
}

func decodeParameter(data json.RawMessage) (Parameter, error) {
	probe, err := probeKind(data)
	if err != nil {
		return nil, err
	}
	var p Parameter
	switch ParameterType(probe.ParameterType) {
	case ParameterTypeWorkflow:
		p = &WorkflowParameter{}
	case ParameterTypeContext:
		p = &ContextParameter{}
	case ParameterTypeOutput:
		p = &OutputParameter{}
	case ParameterTypeCredential:
		p = &CredentialParameter{}
	default:
		return newRawParameter(data), nil
	}
	if err := json.Unmarshal(data, p); err != nil {
		return newRawParameter(data), nil
	}
	return p, nil
}

// WorkflowParameter (parameter_type "workflow") is an input of the workflow,
// given a value per run in WorkflowRunRequest.Parameters under its Key.
type WorkflowParameter struct {
	// Key is the parameter's name (a Python identifier); blocks refer to
	// it as {{ key }} and list it in their ParameterKeys.
	Key         string `json:"key"`
	Description string `json:"description,omitempty"`
	// WorkflowParameterType is required.
	WorkflowParameterType WorkflowParameterType `json:"workflow_parameter_type"`
	// DefaultValue is a string, number, bool, map or slice matching the type.
	DefaultValue any `json:"default_value,omitempty"`

	kept keptjson.Kept
}

// ContextParameter (parameter_type "context") takes its value from another
// parameter, typically a block's output.
type ContextParameter struct {
	Key         string `json:"key"`
	Description string `json:"description,omitempty"`
	// SourceParameterKey is required.
	SourceParameterKey string `json:"source_parameter_key"`

	kept keptjson.Kept
}

// OutputParameter (parameter_type "output") names a block's output.
type OutputParameter struct {
	Key         string `json:"key"`
	Description string `json:"description,omitempty"`

	kept keptjson.Kept
}

// CredentialParameter (parameter_type "credential") makes a stored Skyvern
// credential available to the blocks.
type CredentialParameter struct {
	Key         string `json:"key"`
	Description string `json:"description,omitempty"`
	// CredentialID is required (cred_…).
	CredentialID string `json:"credential_id"`

	kept keptjson.Kept
}

// RawParameter is a parameter of a kind this SDK has no typed struct for,
// kept as its complete JSON object (parameter_type included).
type RawParameter struct {
	Raw json.RawMessage
}

func newRawParameter(data []byte) *RawParameter {
	return &RawParameter{Raw: append(json.RawMessage(nil), data...)}
}

// ParameterType returns the parameter_type of the JSON object ("" if it has
// none).
func (p *RawParameter) ParameterType() ParameterType {
	probe, _ := probeKind(p.Raw)
	return ParameterType(probe.ParameterType)
}

func (p *RawParameter) key() string {
	probe, _ := probeKind(p.Raw)
	return probe.Key
}

// MarshalJSON implements json.Marshaler.
func (p RawParameter) MarshalJSON() ([]byte, error) {
	if len(p.Raw) == 0 {
		return nil, errors.New("skyvern: RawParameter has no JSON")
	}
	return p.Raw, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *RawParameter) UnmarshalJSON(data []byte) error {
	p.Raw = append(p.Raw[:0:0], data...)
	return nil
}

// ParameterType implements Parameter.
func (*WorkflowParameter) ParameterType() ParameterType { return ParameterTypeWorkflow }

// ParameterType implements Parameter.
func (*ContextParameter) ParameterType() ParameterType { return ParameterTypeContext }

// ParameterType implements Parameter.
func (*OutputParameter) ParameterType() ParameterType { return ParameterTypeOutput }

// ParameterType implements Parameter.
func (*CredentialParameter) ParameterType() ParameterType { return ParameterTypeCredential }

func (p *WorkflowParameter) key() string   { return p.Key }
func (p *ContextParameter) key() string    { return p.Key }
func (p *OutputParameter) key() string     { return p.Key }
func (p *CredentialParameter) key() string { return p.Key }

// MarshalJSON implements json.Marshaler.
func (p WorkflowParameter) MarshalJSON() ([]byte, error) {
	type plain WorkflowParameter
	return p.kept.Encode(encodeTagged(parameterTypeKey, string(ParameterTypeWorkflow), plain(p)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *WorkflowParameter) UnmarshalJSON(data []byte) error {
	type plain WorkflowParameter
	return decodeTagged(data, parameterTypeKey, string(ParameterTypeWorkflow), (*plain)(p), &p.kept)
}

// MarshalJSON implements json.Marshaler.
func (p ContextParameter) MarshalJSON() ([]byte, error) {
	type plain ContextParameter
	return p.kept.Encode(encodeTagged(parameterTypeKey, string(ParameterTypeContext), plain(p)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *ContextParameter) UnmarshalJSON(data []byte) error {
	type plain ContextParameter
	return decodeTagged(data, parameterTypeKey, string(ParameterTypeContext), (*plain)(p), &p.kept)
}

// MarshalJSON implements json.Marshaler.
func (p OutputParameter) MarshalJSON() ([]byte, error) {
	type plain OutputParameter
	return p.kept.Encode(encodeTagged(parameterTypeKey, string(ParameterTypeOutput), plain(p)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *OutputParameter) UnmarshalJSON(data []byte) error {
	type plain OutputParameter
	return decodeTagged(data, parameterTypeKey, string(ParameterTypeOutput), (*plain)(p), &p.kept)
}

// MarshalJSON implements json.Marshaler.
func (p CredentialParameter) MarshalJSON() ([]byte, error) {
	type plain CredentialParameter
	return p.kept.Encode(encodeTagged(parameterTypeKey, string(ParameterTypeCredential), plain(p)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *CredentialParameter) UnmarshalJSON(data []byte) error {
	type plain CredentialParameter
	return decodeTagged(data, parameterTypeKey, string(ParameterTypeCredential), (*plain)(p), &p.kept)
}

// Equal reports whether p and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included. go-cmp calls it.
func (p WorkflowParameter) Equal(o WorkflowParameter) bool { return keptjson.Equal(p, o) }

// Equal reports whether p and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included. go-cmp calls it.
func (p ContextParameter) Equal(o ContextParameter) bool { return keptjson.Equal(p, o) }

// Equal reports whether p and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included. go-cmp calls it.
func (p OutputParameter) Equal(o OutputParameter) bool { return keptjson.Equal(p, o) }

// Equal reports whether p and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included. go-cmp calls it.
func (p CredentialParameter) Equal(o CredentialParameter) bool { return keptjson.Equal(p, o) }

// Equal reports whether d and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included. go-cmp calls it.
func (d WorkflowDefinitionBody) Equal(o WorkflowDefinitionBody) bool { return keptjson.Equal(d, o) }
