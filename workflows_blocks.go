package skyvern

import (
	"encoding/json"
	"errors"

	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// BlockType names a kind of workflow block (the block_type discriminator).
// Unknown values decode without error.
type BlockType string

// Block types the server knows. The SDK has typed structs for some (see
// Block); every other kind travels as a *RawBlock.
const (
	BlockTypeTask              BlockType = "task"
	BlockTypeForLoop           BlockType = "for_loop"
	BlockTypeWhileLoop         BlockType = "while_loop"
	BlockTypeCode              BlockType = "code"
	BlockTypeTextPrompt        BlockType = "text_prompt"
	BlockTypeDownloadToS3      BlockType = "download_to_s3"
	BlockTypeUploadToS3        BlockType = "upload_to_s3"
	BlockTypeFileUpload        BlockType = "file_upload"
	BlockTypeSendEmail         BlockType = "send_email"
	BlockTypeFileURLParser     BlockType = "file_url_parser"
	BlockTypeValidation        BlockType = "validation"
	BlockTypeAction            BlockType = "action"
	BlockTypeNavigation        BlockType = "navigation"
	BlockTypeExtraction        BlockType = "extraction"
	BlockTypeLogin             BlockType = "login"
	BlockTypeWait              BlockType = "wait"
	BlockTypeHumanInteraction  BlockType = "human_interaction"
	BlockTypeFileDownload      BlockType = "file_download"
	BlockTypeGotoURL           BlockType = "goto_url"
	BlockTypePDFParser         BlockType = "pdf_parser"
	BlockTypeTaskV2            BlockType = "task_v2"
	BlockTypeHTTPRequest       BlockType = "http_request"
	BlockTypeConditional       BlockType = "conditional"
	BlockTypePrintPage         BlockType = "print_page"
	BlockTypePDFFill           BlockType = "pdf_fill"
	BlockTypeSplitPDF          BlockType = "split_pdf"
	BlockTypeWorkflowTrigger   BlockType = "workflow_trigger"
	BlockTypeGoogleSheetsRead  BlockType = "google_sheets_read"
	BlockTypeEmailInbox        BlockType = "email_inbox"
	BlockTypeGoogleSheetsWrite BlockType = "google_sheets_write"
)

const blockTypeKey = "block_type"

// Block is one step of a workflow definition. It is implemented by the typed
// blocks of this package (*TaskBlock, *NavigationBlock, *ExtractionBlock,
// *TextPromptBlock, *CodeBlock, *ForLoopBlock, *TaskV2Block, *GotoURLBlock,
// *WaitBlock) and by *RawBlock, which carries any other kind as JSON. Use a
// type switch to read one.
//
// A typed block decoded from JSON keeps the object it came from: encoding it
// again reproduces that object exactly (explicit nulls, server extras such as
// output_parameter, keys newer than this SDK) unless its Go fields were
// changed, in which case only the changed keys are replaced. So a workflow
// can be read, stored, compared or passed on without losing what the SDK
// does not model (but see Workflow about sending the server's form back).
// The block_type key is written from the Go type; there is no field for it.
type Block interface {
	// BlockType returns the block's kind.
	BlockType() BlockType
	// label returns the block's label; it also keeps other packages from
	// implementing Block, whose encoding rules live here.
	label() string
}

// Blocks is a list of blocks. It decodes each element into the typed struct
// of its block_type, or a *RawBlock for kinds without one (or whose JSON does
// not fit the typed struct). A nil Blocks encodes as [], since the server
// requires the list.
type Blocks []Block

// MarshalJSON implements json.Marshaler.
func (bs Blocks) MarshalJSON() ([]byte, error) { return encodeList(bs) }

// UnmarshalJSON implements json.Unmarshaler.
func (bs *Blocks) UnmarshalJSON(data []byte) error {
	list, err := decodeList(data, decodeBlock)
	*bs = list
	return err
}

func decodeBlock(data json.RawMessage) (Block, error) {
	p, err := probeKind(data)
	if err != nil {
		return nil, err
	}
	var b Block
	switch BlockType(p.BlockType) {
	case BlockTypeTask:
		b = &TaskBlock{}
	case BlockTypeNavigation:
		b = &NavigationBlock{}
	case BlockTypeExtraction:
		b = &ExtractionBlock{}
	case BlockTypeTextPrompt:
		b = &TextPromptBlock{}
	case BlockTypeCode:
		b = &CodeBlock{}
	case BlockTypeForLoop:
		b = &ForLoopBlock{}
	case BlockTypeTaskV2:
		b = &TaskV2Block{}
	case BlockTypeGotoURL:
		b = &GotoURLBlock{}
	case BlockTypeWait:
		b = &WaitBlock{}
	default:
		return newRawBlock(data), nil
	}
	if err := json.Unmarshal(data, b); err != nil {
		// A server that changed a field's type must not make the whole
		// workflow unreadable; the raw form still carries it losslessly.
		return newRawBlock(data), nil
	}
	return b, nil
}

// BlockOptions holds the settings that every kind of block accepts besides
// its label. The typed blocks embed it.
type BlockOptions struct {
	// NextBlockLabel routes to another block instead of the next in the
	// list (requires definition version 2).
	NextBlockLabel string `json:"next_block_label,omitempty"`
	// ContinueOnFailure lets the workflow go on when this block fails.
	ContinueOnFailure bool `json:"continue_on_failure,omitempty"`
	// NextLoopOnFailure, inside a for_loop, moves to the next iteration
	// when this block fails.
	NextLoopOnFailure bool `json:"next_loop_on_failure,omitempty"`
	// Model selects and configures the LLM for this block.
	Model map[string]any `json:"model,omitempty"`
	// IgnoreWorkflowSystemPrompt opts this block out of the definition's
	// workflow_system_prompt.
	IgnoreWorkflowSystemPrompt bool `json:"ignore_workflow_system_prompt,omitempty"`
}

// TaskBlock (block_type "task") navigates a page towards a goal and can
// extract data on the way.
type TaskBlock struct {
	// Label identifies the block (a Python identifier, unique in the
	// workflow); {label}_output names its output in later blocks.
	Label string `json:"label"`
	BlockOptions
	URL    string    `json:"url,omitempty"`
	Title  string    `json:"title,omitempty"`
	Engine RunEngine `json:"engine,omitempty"`
	// NavigationGoal says what to do on the page. A "prompt" key, as in
	// some documentation samples, is not a task block field and is ignored
	// by the server.
	NavigationGoal     string `json:"navigation_goal,omitempty"`
	DataExtractionGoal string `json:"data_extraction_goal,omitempty"`
	// DataSchema describes the extracted data: a JSON Schema object, an
	// array or a string.
	DataSchema       any               `json:"data_schema,omitempty"`
	ErrorCodeMapping map[string]string `json:"error_code_mapping,omitempty"`
	MaxRetries       int               `json:"max_retries,omitempty"`
	MaxStepsPerRun   *int              `json:"max_steps_per_run,omitempty"`
	// ParameterKeys lists the workflow parameters the block can use.
	ParameterKeys      []string `json:"parameter_keys,omitempty"`
	CompleteOnDownload bool     `json:"complete_on_download,omitempty"`
	// DownloadSuffix sets the downloaded file's complete name (the server
	// kept the old name of the field).
	DownloadSuffix      string `json:"download_suffix,omitempty"`
	TOTPVerificationURL string `json:"totp_verification_url,omitempty"`
	TOTPIdentifier      string `json:"totp_identifier,omitempty"`
	DisableCache        bool   `json:"disable_cache,omitempty"`
	CompleteCriterion   string `json:"complete_criterion,omitempty"`
	TerminateCriterion  string `json:"terminate_criterion,omitempty"`
	// CompleteVerification defaults to true on the server.
	CompleteVerification               *bool `json:"complete_verification,omitempty"`
	IncludeActionHistoryInVerification bool  `json:"include_action_history_in_verification,omitempty"`

	kept keptjson.Kept
}

// NavigationBlock (block_type "navigation") performs actions on a page until
// NavigationGoal is reached.
type NavigationBlock struct {
	Label string `json:"label"`
	BlockOptions
	// NavigationGoal is required.
	NavigationGoal                     string            `json:"navigation_goal"`
	URL                                string            `json:"url,omitempty"`
	Title                              string            `json:"title,omitempty"`
	Engine                             RunEngine         `json:"engine,omitempty"`
	ErrorCodeMapping                   map[string]string `json:"error_code_mapping,omitempty"`
	MaxRetries                         int               `json:"max_retries,omitempty"`
	MaxStepsPerRun                     *int              `json:"max_steps_per_run,omitempty"`
	ParameterKeys                      []string          `json:"parameter_keys,omitempty"`
	CompleteOnDownload                 bool              `json:"complete_on_download,omitempty"`
	DownloadSuffix                     string            `json:"download_suffix,omitempty"`
	TOTPVerificationURL                string            `json:"totp_verification_url,omitempty"`
	TOTPIdentifier                     string            `json:"totp_identifier,omitempty"`
	DisableCache                       bool              `json:"disable_cache,omitempty"`
	CompleteCriterion                  string            `json:"complete_criterion,omitempty"`
	TerminateCriterion                 string            `json:"terminate_criterion,omitempty"`
	CompleteVerification               *bool             `json:"complete_verification,omitempty"`
	IncludeActionHistoryInVerification bool              `json:"include_action_history_in_verification,omitempty"`

	kept keptjson.Kept
}

// ExtractionBlock (block_type "extraction") extracts data from the current
// page.
type ExtractionBlock struct {
	Label string `json:"label"`
	BlockOptions
	// DataExtractionGoal is required.
	DataExtractionGoal string    `json:"data_extraction_goal"`
	URL                string    `json:"url,omitempty"`
	Title              string    `json:"title,omitempty"`
	Engine             RunEngine `json:"engine,omitempty"`
	DataSchema         any       `json:"data_schema,omitempty"`
	MaxRetries         int       `json:"max_retries,omitempty"`
	MaxStepsPerRun     *int      `json:"max_steps_per_run,omitempty"`
	ParameterKeys      []string  `json:"parameter_keys,omitempty"`
	DisableCache       bool      `json:"disable_cache,omitempty"`

	kept keptjson.Kept
}

// TextPromptBlock (block_type "text_prompt") asks an LLM a question without
// a browser.
type TextPromptBlock struct {
	Label string `json:"label"`
	BlockOptions
	// Prompt is required.
	Prompt        string   `json:"prompt"`
	LLMKey        string   `json:"llm_key,omitempty"`
	ParameterKeys []string `json:"parameter_keys,omitempty"`
	// JSONSchema describes the answer's shape.
	JSONSchema any `json:"json_schema,omitempty"`

	kept keptjson.Kept
}

// CodeBlock (block_type "code") runs Python code.
type CodeBlock struct {
	Label string `json:"label"`
	BlockOptions
	// Code is required.
	Code          string   `json:"code"`
	ParameterKeys []string `json:"parameter_keys,omitempty"`

	kept keptjson.Kept
}

// ForLoopBlock (block_type "for_loop") runs LoopBlocks once per item of a
// list parameter.
type ForLoopBlock struct {
	Label string `json:"label"`
	BlockOptions
	// LoopBlocks are the blocks of one iteration; required.
	LoopBlocks            Blocks `json:"loop_blocks"`
	LoopOverParameterKey  string `json:"loop_over_parameter_key,omitempty"`
	LoopVariableReference string `json:"loop_variable_reference,omitempty"`
	CompleteIfEmpty       bool   `json:"complete_if_empty,omitempty"`
	DataSchema            any    `json:"data_schema,omitempty"`

	kept keptjson.Kept
}

// TaskV2Block (block_type "task_v2") runs a skyvern-2.0 task from a prompt.
type TaskV2Block struct {
	Label string `json:"label"`
	BlockOptions
	// Prompt is required.
	Prompt              string `json:"prompt"`
	URL                 string `json:"url,omitempty"`
	TOTPVerificationURL string `json:"totp_verification_url,omitempty"`
	TOTPIdentifier      string `json:"totp_identifier,omitempty"`
	MaxIterations       *int   `json:"max_iterations,omitempty"`
	MaxSteps            *int   `json:"max_steps,omitempty"`
	DisableCache        bool   `json:"disable_cache,omitempty"`

	kept keptjson.Kept
}

// GotoURLBlock (block_type "goto_url") opens a URL.
type GotoURLBlock struct {
	Label string `json:"label"`
	BlockOptions
	// URL is required.
	URL string `json:"url"`

	kept keptjson.Kept
}

// WaitBlock (block_type "wait") pauses the workflow.
type WaitBlock struct {
	Label string `json:"label"`
	BlockOptions
	WaitSec int `json:"wait_sec,omitempty"`

	kept keptjson.Kept
}

// RawBlock is a block of a kind this SDK has no typed struct for, kept as its
// complete JSON object (block_type included). Build one to send a kind the
// SDK does not model yet:
//
//	&skyvern.RawBlock{Raw: json.RawMessage(`{"block_type":"send_email","label":"notify",...}`)}
type RawBlock struct {
	Raw json.RawMessage
}

func newRawBlock(data []byte) *RawBlock {
	return &RawBlock{Raw: append(json.RawMessage(nil), data...)}
}

// BlockType returns the block_type of the JSON object ("" if it has none).
func (b *RawBlock) BlockType() BlockType {
	p, _ := probeKind(b.Raw)
	return BlockType(p.BlockType)
}

func (b *RawBlock) label() string {
	p, _ := probeKind(b.Raw)
	return p.Label
}

// MarshalJSON implements json.Marshaler.
func (b RawBlock) MarshalJSON() ([]byte, error) {
	if len(b.Raw) == 0 {
		return nil, errors.New("skyvern: RawBlock has no JSON")
	}
	return b.Raw, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *RawBlock) UnmarshalJSON(data []byte) error {
	b.Raw = append(b.Raw[:0:0], data...)
	return nil
}

// BlockType implements Block.
func (*TaskBlock) BlockType() BlockType { return BlockTypeTask }

// BlockType implements Block.
func (*NavigationBlock) BlockType() BlockType { return BlockTypeNavigation }

// BlockType implements Block.
func (*ExtractionBlock) BlockType() BlockType { return BlockTypeExtraction }

// BlockType implements Block.
func (*TextPromptBlock) BlockType() BlockType { return BlockTypeTextPrompt }

// BlockType implements Block.
func (*CodeBlock) BlockType() BlockType { return BlockTypeCode }

// BlockType implements Block.
func (*ForLoopBlock) BlockType() BlockType { return BlockTypeForLoop }

// BlockType implements Block.
func (*TaskV2Block) BlockType() BlockType { return BlockTypeTaskV2 }

// BlockType implements Block.
func (*GotoURLBlock) BlockType() BlockType { return BlockTypeGotoURL }

// BlockType implements Block.
func (*WaitBlock) BlockType() BlockType { return BlockTypeWait }

func (b *TaskBlock) label() string       { return b.Label }
func (b *NavigationBlock) label() string { return b.Label }
func (b *ExtractionBlock) label() string { return b.Label }
func (b *TextPromptBlock) label() string { return b.Label }
func (b *CodeBlock) label() string       { return b.Label }
func (b *ForLoopBlock) label() string    { return b.Label }
func (b *TaskV2Block) label() string     { return b.Label }
func (b *GotoURLBlock) label() string    { return b.Label }
func (b *WaitBlock) label() string       { return b.Label }

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b TaskBlock) MarshalJSON() ([]byte, error) {
	type plain TaskBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeTask), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *TaskBlock) UnmarshalJSON(data []byte) error {
	type plain TaskBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeTask), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b NavigationBlock) MarshalJSON() ([]byte, error) {
	type plain NavigationBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeNavigation), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *NavigationBlock) UnmarshalJSON(data []byte) error {
	type plain NavigationBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeNavigation), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b ExtractionBlock) MarshalJSON() ([]byte, error) {
	type plain ExtractionBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeExtraction), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *ExtractionBlock) UnmarshalJSON(data []byte) error {
	type plain ExtractionBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeExtraction), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b TextPromptBlock) MarshalJSON() ([]byte, error) {
	type plain TextPromptBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeTextPrompt), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *TextPromptBlock) UnmarshalJSON(data []byte) error {
	type plain TextPromptBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeTextPrompt), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b CodeBlock) MarshalJSON() ([]byte, error) {
	type plain CodeBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeCode), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *CodeBlock) UnmarshalJSON(data []byte) error {
	type plain CodeBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeCode), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b ForLoopBlock) MarshalJSON() ([]byte, error) {
	type plain ForLoopBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeForLoop), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *ForLoopBlock) UnmarshalJSON(data []byte) error {
	type plain ForLoopBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeForLoop), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b TaskV2Block) MarshalJSON() ([]byte, error) {
	type plain TaskV2Block
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeTaskV2), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *TaskV2Block) UnmarshalJSON(data []byte) error {
	type plain TaskV2Block
	return decodeTagged(data, blockTypeKey, string(BlockTypeTaskV2), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b GotoURLBlock) MarshalJSON() ([]byte, error) {
	type plain GotoURLBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeGotoURL), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *GotoURLBlock) UnmarshalJSON(data []byte) error {
	type plain GotoURLBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeGotoURL), (*plain)(b), &b.kept)
}

// MarshalJSON implements json.Marshaler; see Block for what is kept.
func (b WaitBlock) MarshalJSON() ([]byte, error) {
	type plain WaitBlock
	return b.kept.Encode(encodeTagged(blockTypeKey, string(BlockTypeWait), plain(b)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *WaitBlock) UnmarshalJSON(data []byte) error {
	type plain WaitBlock
	return decodeTagged(data, blockTypeKey, string(BlockTypeWait), (*plain)(b), &b.kept)
}

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b TaskBlock) Equal(o TaskBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b NavigationBlock) Equal(o NavigationBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b ExtractionBlock) Equal(o ExtractionBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b TextPromptBlock) Equal(o TextPromptBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b CodeBlock) Equal(o CodeBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b ForLoopBlock) Equal(o ForLoopBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b TaskV2Block) Equal(o TaskV2Block) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b GotoURLBlock) Equal(o GotoURLBlock) bool { return keptjson.Equal(b, o) }

// Equal reports whether b and o encode to the same JSON value (key order
// and spacing aside), the keys kept from decoding included (see [Block]).
// go-cmp calls it, so tests can compare blocks with cmp.Diff.
func (b WaitBlock) Equal(o WaitBlock) bool { return keptjson.Equal(b, o) }
