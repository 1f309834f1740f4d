package skyvern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// timelineJSON is a workflow run's timeline as the server writes it: a loop
// block whose children are its iterations' task blocks, one of which holds
// a thought, and an item of a kind this SDK does not know.
const timelineJSON = `[{"type":"block","block":{"workflow_run_block_id":"wrb_1","block_workflow_run_id":null,"workflow_run_id":"wr_501","organization_id":"o_1","description":null,"parent_workflow_run_block_id":null,"block_type":"for_loop","label":"each_invoice","status":"completed","output":[{"total":"12.50"},{"total":"7.00"}],"continue_on_failure":false,"failure_reason":null,"error_codes":[],"engine":null,"task_id":null,"url":null,"final_url":null,"navigation_goal":null,"navigation_payload":null,"data_extraction_goal":null,"data_schema":null,"terminate_criterion":null,"complete_criterion":null,"actions":[],"created_at":"2026-01-31T15:20:44","modified_at":"2026-01-31T15:23:30.120000","include_action_history_in_verification":false,"include_extracted_text":true,"duration":166.12,"loop_values":["jan","feb"],"current_value":null,"current_index":null,"recipients":null,"attachments":null,"subject":null,"body":null,"prompt":null,"instructions":null,"positive_descriptor":null,"negative_descriptor":null,"executed_branch_id":null,"executed_branch_expression":null,"executed_branch_result":null,"executed_branch_next_block":null,"script_run":null,"downloaded_file_count":null},"thought":null,"children":[{"type":"block","block":{"workflow_run_block_id":"wrb_2","block_workflow_run_id":null,"workflow_run_id":"wr_501","organization_id":"o_1","description":null,"parent_workflow_run_block_id":"wrb_1","block_type":"task","label":"open_invoice","status":"completed","output":{"total":"12.50"},"continue_on_failure":false,"failure_reason":null,"error_codes":[],"engine":"skyvern-1.0","task_id":"tsk_9","url":"https://portal.example.com/invoices/jan","final_url":"https://portal.example.com/invoices/jan?view=pdf","navigation_goal":"Open the invoice","navigation_payload":null,"data_extraction_goal":"Read the total","data_schema":null,"terminate_criterion":null,"complete_criterion":null,"actions":[{"action_type":"click","element_id":"AAB1","status":"completed"}],"created_at":"2026-01-31T15:20:45","modified_at":"2026-01-31T15:21:45","include_action_history_in_verification":false,"include_extracted_text":true,"duration":60.0,"loop_values":null,"current_value":"jan","current_index":0,"recipients":null,"attachments":null,"subject":null,"body":null,"prompt":null,"instructions":null,"positive_descriptor":null,"negative_descriptor":null,"executed_branch_id":null,"executed_branch_expression":null,"executed_branch_result":null,"executed_branch_next_block":null,"script_run":null,"downloaded_file_count":1},"thought":null,"children":[{"type":"thought","block":null,"thought":{"thought_id":"ot_1","task_id":"tsk_v2_3","organization_id":"o_1","workflow_run_id":"wr_501","workflow_run_block_id":"wrb_2","workflow_id":"w_1","workflow_permanent_id":"wpid_9","user_input":"Open the invoice","observation":"The invoice list is visible","thought":"Click the January row","answer":null,"thought_type":"plan","thought_scenario":"generate_plan","output":null,"input_token_count":1812,"output_token_count":96,"reasoning_token_count":null,"cached_token_count":0,"thought_cost":0.0021,"last_llm_model":"gpt-5","created_at":"2026-01-31T15:20:46","modified_at":"2026-01-31T15:20:46"},"children":[],"created_at":"2026-01-31T15:20:46","modified_at":"2026-01-31T15:20:46"}],"created_at":"2026-01-31T15:20:45","modified_at":"2026-01-31T15:21:45"}],"created_at":"2026-01-31T15:20:44","modified_at":"2026-01-31T15:23:30.120000"},{"type":"checkpoint","block":null,"thought":null,"children":[],"created_at":"2026-01-31T15:23:31","modified_at":"2026-01-31T15:23:31","checkpoint":{"name":"after_loop"}}]`

func TestGetRunTimelineDecodesNesting(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/wr_501/timeline", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, timelineJSON)
	})
	items, err := c.GetRunTimeline(context.Background(), "wr_501")
	require.NoError(t, err)
	require.Len(t, items, 2)

	loop := items[0]
	assert.Equal(t, skyvern.TimelineItemBlock, loop.Type)
	require.NotNil(t, loop.Block)
	assert.Equal(t, skyvern.BlockTypeForLoop, loop.Block.BlockType)
	assert.Equal(t, skyvern.RunStatusCompleted, loop.Block.Status)
	assert.Len(t, loop.Block.LoopValues, 2)
	require.Len(t, loop.Children, 1)

	task := loop.Children[0]
	require.NotNil(t, task.Block)
	assert.Equal(t, "wrb_1", task.Block.ParentWorkflowRunBlockID)
	assert.Equal(t, "tsk_9", task.Block.TaskID)
	assert.Equal(t, skyvern.RunEngineSkyvernV1, task.Block.Engine)
	assert.Equal(t, 0, *task.Block.CurrentIndex)
	assert.JSONEq(t, `{"total":"12.50"}`, string(task.Block.Output))
	require.Len(t, task.Block.Actions, 1)
	require.Len(t, task.Children, 1)

	th := task.Children[0]
	assert.Equal(t, skyvern.TimelineItemThought, th.Type)
	require.NotNil(t, th.Thought)
	assert.Equal(t, "Click the January row", th.Thought.Thought)
	assert.EqualValues(t, 1812, *th.Thought.InputTokenCount)
	assert.Equal(t, 2026, th.CreatedAt.Year())

	unknown := items[1]
	assert.Equal(t, skyvern.TimelineItemType("checkpoint"), unknown.Type)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(unknown.Raw, &raw))
	assert.JSONEq(t, `{"name":"after_loop"}`, string(raw["checkpoint"]), "unknown kinds keep their JSON")

	var walked []string
	skyvern.WalkTimeline(items, func(it *skyvern.TimelineItem, depth int) bool {
		label := string(it.Type)
		if it.Block != nil {
			label = it.Block.Label
		}
		walked = append(walked, fmt.Sprintf("%s%s", strings.Repeat("-", depth), label))
		return true
	})
	assert.Equal(t, []string{"each_invoice", "-open_invoice", "--thought", "checkpoint"}, walked)

	var top []string
	skyvern.WalkTimeline(items, func(it *skyvern.TimelineItem, depth int) bool {
		top = append(top, string(it.Type))
		return false // do not descend
	})
	assert.Equal(t, []string{"block", "checkpoint"}, top)
}

func TestGetRunTimelineErrors(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_1/timeline", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, `{"detail":"Timeline not available for run type task_v1"}`)
	})
	mux.HandleFunc("/v1/runs/wr_x/timeline", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, `{"detail":"Run not found wr_x"}`)
	})
	_, err := c.GetRunTimeline(context.Background(), "tsk_1")
	assert.ErrorIs(t, err, skyvern.ErrValidation)
	_, err = c.GetRunTimeline(context.Background(), "wr_x")
	assert.ErrorIs(t, err, skyvern.ErrNotFound)
}
