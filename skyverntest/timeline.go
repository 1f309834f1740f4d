package skyverntest

import (
	"net/http"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// timelineItemWire is WorkflowRunTimeline.
type timelineItemWire struct {
	Type       string              `json:"type"`
	Block      *runBlockWire       `json:"block"`
	Thought    *thoughtWire        `json:"thought"`
	Children   []*timelineItemWire `json:"children"`
	CreatedAt  skyvern.Time        `json:"created_at"`
	ModifiedAt skyvern.Time        `json:"modified_at"`
}

// runBlockWire is WorkflowRunBlock, in field order.
type runBlockWire struct {
	WorkflowRunBlockID                 string       `json:"workflow_run_block_id"`
	BlockWorkflowRunID                 *string      `json:"block_workflow_run_id"`
	WorkflowRunID                      string       `json:"workflow_run_id"`
	OrganizationID                     string       `json:"organization_id"`
	Description                        *string      `json:"description"`
	ParentWorkflowRunBlockID           *string      `json:"parent_workflow_run_block_id"`
	BlockType                          string       `json:"block_type"`
	Label                              *string      `json:"label"`
	Status                             *string      `json:"status"`
	Output                             pyjson.Value `json:"output"`
	ContinueOnFailure                  bool         `json:"continue_on_failure"`
	FailureReason                      *string      `json:"failure_reason"`
	ErrorCodes                         []string     `json:"error_codes"`
	Engine                             *string      `json:"engine"`
	TaskID                             *string      `json:"task_id"`
	URL                                *string      `json:"url"`
	FinalURL                           *string      `json:"final_url"`
	NavigationGoal                     *string      `json:"navigation_goal"`
	NavigationPayload                  pyjson.Value `json:"navigation_payload"`
	DataExtractionGoal                 *string      `json:"data_extraction_goal"`
	DataSchema                         pyjson.Value `json:"data_schema"`
	TerminateCriterion                 *string      `json:"terminate_criterion"`
	CompleteCriterion                  *string      `json:"complete_criterion"`
	Actions                            pyjson.Array `json:"actions"`
	CreatedAt                          skyvern.Time `json:"created_at"`
	ModifiedAt                         skyvern.Time `json:"modified_at"`
	IncludeActionHistoryInVerification *bool        `json:"include_action_history_in_verification"`
	IncludeExtractedText               bool         `json:"include_extracted_text"`
	Duration                           *float64     `json:"duration"`
	LoopValues                         pyjson.Value `json:"loop_values"`
	CurrentValue                       *string      `json:"current_value"`
	CurrentIndex                       *int         `json:"current_index"`
	Recipients                         pyjson.Value `json:"recipients"`
	Attachments                        pyjson.Value `json:"attachments"`
	Subject                            *string      `json:"subject"`
	Body                               *string      `json:"body"`
	Prompt                             *string      `json:"prompt"`
	Instructions                       *string      `json:"instructions"`
	PositiveDescriptor                 *string      `json:"positive_descriptor"`
	NegativeDescriptor                 *string      `json:"negative_descriptor"`
	ExecutedBranchID                   *string      `json:"executed_branch_id"`
	ExecutedBranchExpression           *string      `json:"executed_branch_expression"`
	ExecutedBranchResult               *bool        `json:"executed_branch_result"`
	ExecutedBranchNextBlock            *string      `json:"executed_branch_next_block"`
	ScriptRun                          pyjson.Value `json:"script_run"`
	DownloadedFileCount                *int         `json:"downloaded_file_count"`
}

// thoughtWire is Thought, in field order.
type thoughtWire struct {
	ThoughtID           string       `json:"thought_id"`
	TaskID              string       `json:"task_id"`
	OrganizationID      string       `json:"organization_id"`
	WorkflowRunID       *string      `json:"workflow_run_id"`
	WorkflowRunBlockID  *string      `json:"workflow_run_block_id"`
	WorkflowID          *string      `json:"workflow_id"`
	WorkflowPermanentID *string      `json:"workflow_permanent_id"`
	UserInput           *string      `json:"user_input"`
	Observation         *string      `json:"observation"`
	Thought             *string      `json:"thought"`
	Answer              *string      `json:"answer"`
	ThoughtType         *string      `json:"thought_type"`
	ThoughtScenario     *string      `json:"thought_scenario"`
	Output              pyjson.Value `json:"output"`
	InputTokenCount     *int         `json:"input_token_count"`
	OutputTokenCount    *int         `json:"output_token_count"`
	ReasoningTokenCount *int         `json:"reasoning_token_count"`
	CachedTokenCount    *int         `json:"cached_token_count"`
	ThoughtCost         *float64     `json:"thought_cost"`
	LastLLMModel        *string      `json:"last_llm_model"`
	CreatedAt           skyvern.Time `json:"created_at"`
	ModifiedAt          skyvern.Time `json:"modified_at"`
}

// handleGetRunTimeline answers get_run_timeline. Workflow runs list one
// block per block of the definition (a loop's inner blocks as its
// children); a task v2 run lists its planning block with the agent's thought
// inside; other run types have no timeline (400). Nothing is listed before
// the run starts.
func (s *Server) handleGetRunTimeline(w http.ResponseWriter, _ *http.Request, c *call) {
	id := c.params[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRunLocked(id)
	switch {
	case r == nil:
		writeDetail(w, http.StatusNotFound, "Run not found "+id)
		return
	case r.runType != skyvern.RunTypeWorkflowRun && r.runType != skyvern.RunTypeTaskV2:
		writeDetail(w, http.StatusBadRequest, "Timeline not available for run type "+string(r.runType))
		return
	}
	items := []*timelineItemWire{}
	if !r.startedAt.IsZero() {
		if r.runType == skyvern.RunTypeTaskV2 {
			items = append(items, s.taskV2TimelineLocked(r))
		} else if blocks, ok := r.workflow.WorkflowDefinition.Blocks.(pyjson.Array); ok {
			items = s.blockItemsLocked(r, r.id, blocks, nil)
		}
	}
	writeJSON(w, http.StatusOK, mustJSONValue(items))
}

// timelineIDLocked gives an entry a stable id, so the same run lists the
// same ids on every call.
func (s *Server) timelineIDLocked(runID, label, prefix string) string {
	if s.surface.timelineIDs == nil {
		s.surface.timelineIDs = map[string]string{}
	}
	key := runID + "/" + prefix + "/" + label
	if id, ok := s.surface.timelineIDs[key]; ok {
		return id
	}
	id := s.ids.next(prefix)
	s.surface.timelineIDs[key] = id
	return id
}

// blockStatus is what a block of the run reports: the run's status once it
// ended, running before.
func blockStatus(r *run) *string {
	if r.status.IsTerminal() {
		return stringPtr(string(r.status))
	}
	return stringPtr(string(skyvern.RunStatusRunning))
}

func (s *Server) blockItemsLocked(r *run, workflowRunID string, blocks pyjson.Array, parent *string) []*timelineItemWire {
	items := []*timelineItemWire{}
	for _, b := range blocks {
		obj, ok := b.(*pyjson.Object)
		if !ok {
			continue
		}
		label := objString(obj, "label")
		blk := s.runBlockLocked(r, workflowRunID, objString(obj, "block_type"), label)
		blk.ParentWorkflowRunBlockID = parent
		if v := objString(obj, "url"); v != "" {
			blk.URL = stringPtr(v)
		}
		if v := objString(obj, "navigation_goal"); v != "" {
			blk.NavigationGoal = stringPtr(v)
		}
		item := &timelineItemWire{Type: "block", Block: blk, Children: []*timelineItemWire{}, CreatedAt: blk.CreatedAt, ModifiedAt: blk.ModifiedAt}
		if inner, ok := obj.Get("loop_blocks"); ok {
			if list, ok := inner.(pyjson.Array); ok {
				item.Children = s.blockItemsLocked(r, workflowRunID, list, &blk.WorkflowRunBlockID)
			}
		}
		items = append(items, item)
	}
	return items
}

func (s *Server) runBlockLocked(r *run, workflowRunID, blockType, label string) *runBlockWire {
	created := skyvern.NewTime(r.startedAt)
	modified := skyvern.NewTime(r.modifiedAt)
	blk := &runBlockWire{
		WorkflowRunBlockID: s.timelineIDLocked(r.id, label, "wrb"),
		WorkflowRunID:      workflowRunID, OrganizationID: s.orgID,
		BlockType: blockType, Label: optionalString(label), Status: blockStatus(r),
		ErrorCodes: []string{}, Actions: pyjson.Array{},
		CreatedAt: created, ModifiedAt: modified,
		IncludeActionHistoryInVerification: skyvern.Ptr(false), IncludeExtractedText: true,
	}
	if r.status == skyvern.RunStatusCompleted {
		blk.Output = r.output
	}
	if r.status == skyvern.RunStatusFailed {
		blk.FailureReason = r.failureReason
	}
	return blk
}

// taskV2TimelineLocked is the planning block of a task v2 run, with the
// agent's first thought nested inside.
func (s *Server) taskV2TimelineLocked(r *run) *timelineItemWire {
	blk := s.runBlockLocked(r, r.v2.workflowRunID, "task_v2", "task_v2")
	blk.Prompt = stringPtr(r.task.Prompt)
	blk.URL = r.task.URL
	th := &thoughtWire{
		ThoughtID: s.timelineIDLocked(r.id, "plan", "ot"), TaskID: r.id, OrganizationID: s.orgID,
		WorkflowRunID: stringPtr(r.v2.workflowRunID), WorkflowRunBlockID: stringPtr(blk.WorkflowRunBlockID),
		WorkflowID: stringPtr(r.v2.workflowID), WorkflowPermanentID: stringPtr(r.v2.workflowPermanentID),
		UserInput: stringPtr(r.task.Prompt), Thought: stringPtr("Plan the steps that answer the user's request."),
		ThoughtType: stringPtr("plan"), ThoughtScenario: stringPtr("generate_plan"),
		CreatedAt: blk.CreatedAt, ModifiedAt: blk.CreatedAt,
	}
	child := &timelineItemWire{Type: "thought", Thought: th, Children: []*timelineItemWire{}, CreatedAt: th.CreatedAt, ModifiedAt: th.ModifiedAt}
	return &timelineItemWire{Type: "block", Block: blk, Children: []*timelineItemWire{child}, CreatedAt: blk.CreatedAt, ModifiedAt: blk.ModifiedAt}
}

func objString(o *pyjson.Object, key string) string {
	if v, ok := o.Get(key); ok {
		if s, ok := v.(pyjson.String); ok {
			return string(s)
		}
	}
	return ""
}
