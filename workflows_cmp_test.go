package skyvern_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func TestDecodedWorkflowsComparableWithCmp(t *testing.T) {
	t.Parallel()
	fixture := readFixture(t, "workflow_full.json")
	decode := func() *skyvern.Workflow {
		var wf skyvern.Workflow
		require.NoError(t, json.Unmarshal(fixture, &wf))
		return &wf
	}
	a, b := decode(), decode()
	require.NotEmpty(t, a.WorkflowDefinition.Blocks)
	require.NotEmpty(t, a.WorkflowDefinition.Parameters)

	// Whole workflows, their definitions, block and parameter lists, one
	// block through the interface: none of these may panic, and equal
	// decodings compare equal.
	assert.Empty(t, cmp.Diff(a, b))
	assert.Empty(t, cmp.Diff(*a, *b))
	assert.Empty(t, cmp.Diff([]*skyvern.Workflow{a}, []*skyvern.Workflow{b}))
	assert.Empty(t, cmp.Diff(a.WorkflowDefinition, b.WorkflowDefinition))
	assert.Empty(t, cmp.Diff(a.WorkflowDefinition.Blocks, b.WorkflowDefinition.Blocks))
	assert.Empty(t, cmp.Diff(a.WorkflowDefinition.Parameters, b.WorkflowDefinition.Parameters))
	for i := range a.WorkflowDefinition.Blocks {
		assert.Empty(t, cmp.Diff(a.WorkflowDefinition.Blocks[i], b.WorkflowDefinition.Blocks[i]))
	}

	// A changed block is a difference. (Equal decides for the workflow as a
	// whole, so the report shows both workflows.)
	var edited bool
	for _, blk := range b.WorkflowDefinition.Blocks {
		if tb, ok := blk.(*skyvern.TaskBlock); ok {
			tb.NavigationGoal += " and log out"
			edited = true
			break
		}
	}
	require.True(t, edited, "the fixture has a task block")
	diff := cmp.Diff(a, b)
	assert.Contains(t, diff, "WorkflowDefinition")
	assert.Contains(t, diff, "log out")
	assert.False(t, a.Equal(*b))

	// A value built in Go is not the one the server sent: the server's
	// extras (ids, output parameters, nulls) are part of what a decoded
	// block would send.
	for _, blk := range a.WorkflowDefinition.Blocks {
		if tb, ok := blk.(*skyvern.TaskBlock); ok {
			fresh := &skyvern.TaskBlock{Label: tb.Label, NavigationGoal: tb.NavigationGoal}
			assert.NotEmpty(t, cmp.Diff(blk, skyvern.Block(fresh)))
		}
	}
	// Built in Go on both sides, equality is field by field.
	assert.Empty(t, cmp.Diff(&skyvern.WaitBlock{Label: "w", WaitSec: 5}, &skyvern.WaitBlock{Label: "w", WaitSec: 5}))
	assert.NotEmpty(t, cmp.Diff(&skyvern.WaitBlock{Label: "w", WaitSec: 5}, &skyvern.WaitBlock{Label: "w", WaitSec: 6}))
}

// Decoded workflows keep JSON the SDK does not model in unexported state,
// which go-cmp cannot read; their Equal methods (and those of blocks,
// parameters and runs) let cmp.Diff and cmp.Equal compare them by what they
// encode to.
func ExampleWorkflow_Equal() {
	const body = `{"workflow_id":"w_1","workflow_permanent_id":"wpid_1","title":"Invoices","version":1,` +
		`"workflow_definition":{"parameters":[],"blocks":[{"block_type":"wait","label":"pause","wait_sec":5,` +
		`"output_parameter":{"key":"pause_output"}}]},"status":"published"}`
	var stored, fetched skyvern.Workflow
	if err := json.Unmarshal([]byte(body), &stored); err != nil {
		panic(err)
	}
	if err := json.Unmarshal([]byte(body), &fetched); err != nil {
		panic(err)
	}
	fmt.Println(cmp.Diff(stored, fetched) == "")

	fetched.WorkflowDefinition.Blocks[0].(*skyvern.WaitBlock).WaitSec = 10
	fmt.Println(cmp.Equal(stored, fetched))
	// Output:
	// true
	// false
}
