package skyvern

import (
	"context"
	"encoding/json"
	"net/http"
)

// TimelineItemType says what a TimelineItem holds.
type TimelineItemType string

// Kinds of timeline items. Other values may appear on newer servers; such
// items keep their JSON in Raw.
const (
	TimelineItemBlock   TimelineItemType = "block"
	TimelineItemThought TimelineItemType = "thought"
)

// TimelineItem is one entry of a run's timeline (Skyvern's
// WorkflowRunTimeline): a block that ran, or a thought of the planning
// agent, with the items nested inside it (a loop's iterations, a task v2
// block's thoughts) in Children. Raw keeps the item's JSON, so kinds this SDK
// does not know are not lost.
type TimelineItem struct {
	Type TimelineItemType `json:"type"`
	// Block is set for TimelineItemBlock items.
	Block *WorkflowRunBlock `json:"block,omitempty"`
	// Thought is set for TimelineItemThought items.
	Thought    *Thought        `json:"thought,omitempty"`
	Children   []*TimelineItem `json:"children"`
	CreatedAt  Time            `json:"created_at"`
	ModifiedAt Time            `json:"modified_at"`

	// Raw is the item's JSON object as received, children included.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler and keeps the raw JSON in Raw.
func (it *TimelineItem) UnmarshalJSON(data []byte) error {
	type plain TimelineItem
	if err := json.Unmarshal(data, (*plain)(it)); err != nil {
		return err
	}
	it.Raw = append(it.Raw[:0], data...)
	return nil
}

// WorkflowRunBlock is the record of one block's execution in a run. Fields
// that do not apply to the block's type stay zero; Raw has the rest (e.g.
// the email or branch fields of rarer block types).
type WorkflowRunBlock struct {
	WorkflowRunBlockID string `json:"workflow_run_block_id"`
	// BlockWorkflowRunID is the child run a workflow-calling block started.
	BlockWorkflowRunID       string    `json:"block_workflow_run_id,omitempty"`
	WorkflowRunID            string    `json:"workflow_run_id"`
	OrganizationID           string    `json:"organization_id"`
	Description              string    `json:"description,omitempty"`
	ParentWorkflowRunBlockID string    `json:"parent_workflow_run_block_id,omitempty"`
	BlockType                BlockType `json:"block_type"`
	Label                    string    `json:"label,omitempty"`
	// Status is the block's status (the run statuses, as a plain string on
	// the wire).
	Status            RunStatus       `json:"status,omitempty"`
	Output            json.RawMessage `json:"output,omitempty"`
	ContinueOnFailure bool            `json:"continue_on_failure,omitempty"`
	FailureReason     string          `json:"failure_reason,omitempty"`
	ErrorCodes        []string        `json:"error_codes,omitempty"`
	Engine            RunEngine       `json:"engine,omitempty"`
	// TaskID is the task the block ran, for task-like blocks.
	TaskID             string `json:"task_id,omitempty"`
	URL                string `json:"url,omitempty"`
	FinalURL           string `json:"final_url,omitempty"`
	NavigationGoal     string `json:"navigation_goal,omitempty"`
	DataExtractionGoal string `json:"data_extraction_goal,omitempty"`
	// Actions are the browser actions the block took, as sent.
	Actions []json.RawMessage `json:"actions,omitempty"`
	// Duration is the block's run time in seconds.
	Duration *float64 `json:"duration,omitempty"`
	// LoopValues, CurrentValue and CurrentIndex describe a loop block's
	// iteration.
	LoopValues          []json.RawMessage `json:"loop_values,omitempty"`
	CurrentValue        string            `json:"current_value,omitempty"`
	CurrentIndex        *int              `json:"current_index,omitempty"`
	Prompt              string            `json:"prompt,omitempty"`
	ExecutedBranchID    string            `json:"executed_branch_id,omitempty"`
	DownloadedFileCount *int              `json:"downloaded_file_count,omitempty"`
	CreatedAt           Time              `json:"created_at"`
	ModifiedAt          Time              `json:"modified_at"`
}

// ThoughtType is the kind of a planning agent's Thought.
type ThoughtType string

// Thought is one reasoning step of Skyvern's planning agent (task v2 and
// the blocks that plan), with the tokens and cost it took.
type Thought struct {
	ThoughtID           string          `json:"thought_id"`
	TaskID              string          `json:"task_id"`
	OrganizationID      string          `json:"organization_id"`
	WorkflowRunID       string          `json:"workflow_run_id,omitempty"`
	WorkflowRunBlockID  string          `json:"workflow_run_block_id,omitempty"`
	WorkflowID          string          `json:"workflow_id,omitempty"`
	WorkflowPermanentID string          `json:"workflow_permanent_id,omitempty"`
	UserInput           string          `json:"user_input,omitempty"`
	Observation         string          `json:"observation,omitempty"`
	Thought             string          `json:"thought,omitempty"`
	Answer              string          `json:"answer,omitempty"`
	ThoughtType         ThoughtType     `json:"thought_type,omitempty"`
	ThoughtScenario     string          `json:"thought_scenario,omitempty"`
	Output              json.RawMessage `json:"output,omitempty"`
	InputTokenCount     *int64          `json:"input_token_count,omitempty"`
	OutputTokenCount    *int64          `json:"output_token_count,omitempty"`
	ReasoningTokenCount *int64          `json:"reasoning_token_count,omitempty"`
	CachedTokenCount    *int64          `json:"cached_token_count,omitempty"`
	ThoughtCost         *float64        `json:"thought_cost,omitempty"`
	LastLLMModel        string          `json:"last_llm_model,omitempty"`
	CreatedAt           Time            `json:"created_at"`
	ModifiedAt          Time            `json:"modified_at"`
}

// GetRunTimeline returns what a workflow run or task v2 run did, block by
// block, with nested blocks and thoughts as children
// (GET /v1/runs/{id}/timeline). Other run types have no timeline: the server
// answers 400 (ErrValidation); an unknown id gives ErrNotFound. Walk the
// tree with WalkTimeline.
func (c *Client) GetRunTimeline(ctx context.Context, runID string, opts ...RequestOption) ([]*TimelineItem, error) {
	if err := requireID("run_id", runID); err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "runs", runID, "timeline"), class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var items []*TimelineItem
	if err := decodeJSON(call, resp.body, &items); err != nil {
		return nil, err
	}
	return items, nil
}

// WalkTimeline calls fn for every item of a timeline, depth first, parents
// before their children; depth is 0 for the top level. fn returns false to
// skip an item's children.
func WalkTimeline(items []*TimelineItem, fn func(item *TimelineItem, depth int) bool) {
	walkTimeline(items, 0, fn)
}

func walkTimeline(items []*TimelineItem, depth int, fn func(*TimelineItem, int) bool) {
	for _, it := range items {
		if it == nil {
			continue
		}
		if fn(it, depth) {
			walkTimeline(it.Children, depth+1, fn)
		}
	}
}
