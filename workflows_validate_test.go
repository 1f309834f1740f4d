package skyvern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

func definitionWith(edit func(*skyvern.WorkflowDefinition)) *skyvern.WorkflowRequest {
	d := &skyvern.WorkflowDefinition{Title: "t"}
	edit(d)
	return &skyvern.WorkflowRequest{JSONDefinition: d}
}

func blocksDefinition(blocks ...skyvern.Block) *skyvern.WorkflowRequest {
	return definitionWith(func(d *skyvern.WorkflowDefinition) { d.WorkflowDefinition.Blocks = blocks })
}

func paramsDefinition(params ...skyvern.Parameter) *skyvern.WorkflowRequest {
	return definitionWith(func(d *skyvern.WorkflowDefinition) { d.WorkflowDefinition.Parameters = params })
}

func runMetadata(n int, keyLen, valueLen int) map[string]string {
	md := make(map[string]string, n)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k%d", i)
		md[key+strings.Repeat("x", max(keyLen-len(key), 0))] = strings.Repeat("é", valueLen)
	}
	return md
}

func TestWorkflowClientSideValidation(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })

	create := func(req *skyvern.WorkflowRequest) func() error {
		return func() error { _, err := c.CreateWorkflow(context.Background(), req); return err }
	}
	update := func(id string, req *skyvern.WorkflowRequest) func() error {
		return func() error { _, err := c.UpdateWorkflow(context.Background(), id, req); return err }
	}
	run := func(req *skyvern.WorkflowRunRequest, opts ...skyvern.RequestOption) func() error {
		return func() error { _, err := c.RunWorkflow(context.Background(), req, opts...); return err }
	}
	list := func(p *skyvern.GetWorkflowsParams) func() error {
		return func() error { _, err := c.GetWorkflows(context.Background(), p); return err }
	}
	const def = "json_definition.workflow_definition"
	var nilTask *skyvern.TaskBlock
	var nilParam *skyvern.WorkflowParameter

	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"create nil", create(nil), "request"},
		{"create without definition", create(&skyvern.WorkflowRequest{}), "json_definition"},
		{"create with both definitions", create(&skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{Title: "t"}, YAMLDefinition: "title: t"}), "yaml_definition"},
		{"create without title", create(&skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{}}), "json_definition.title"},
		{"create blank title", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.Title = "  " })), "json_definition.title"},
		{"relative webhook_callback_url", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.WebhookCallbackURL = "/hook" })), "json_definition.webhook_callback_url"},
		{"schemeless webhook_callback_url", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.WebhookCallbackURL = "your-server.com/webhook" })), "json_definition.webhook_callback_url"},
		{"ftp totp_verification_url", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.TOTPVerificationURL = "ftp://example.com/totp" })), "json_definition.totp_verification_url"},
		{"max_elapsed_time_minutes 0", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.MaxElapsedTimeMinutes = skyvern.Ptr(0) })), "json_definition.max_elapsed_time_minutes"},
		{"max_elapsed_time_minutes 481", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.MaxElapsedTimeMinutes = skyvern.Ptr(481) })), "json_definition.max_elapsed_time_minutes"},
		{"code_version 3", create(definitionWith(func(d *skyvern.WorkflowDefinition) { d.CodeVersion = skyvern.Ptr(3) })), "json_definition.code_version"},
		{"nil block", create(blocksDefinition(nil)), def + ".blocks[0]"},
		{"typed nil block", create(blocksDefinition(&skyvern.WaitBlock{Label: "w"}, nilTask)), def + ".blocks[1]"},
		{"block without label", create(blocksDefinition(&skyvern.TaskBlock{NavigationGoal: "g"})), def + ".blocks[0].label"},
		{"nested block without label", create(blocksDefinition(&skyvern.ForLoopBlock{Label: "loop", LoopBlocks: skyvern.Blocks{
			&skyvern.WaitBlock{Label: "w"}, &skyvern.GotoURLBlock{URL: "https://example.com"}}})), def + ".blocks[0].loop_blocks[1].label"},
		{"raw block not an object", create(blocksDefinition(&skyvern.RawBlock{Raw: json.RawMessage(`[1]`)})), def + ".blocks[0]"},
		{"raw block without block_type", create(blocksDefinition(&skyvern.RawBlock{Raw: json.RawMessage(`{"label":"x"}`)})), def + ".blocks[0].block_type"},
		{"raw block without label", create(blocksDefinition(&skyvern.RawBlock{Raw: json.RawMessage(`{"block_type":"wait"}`)})), def + ".blocks[0].label"},
		{"nil parameter", create(paramsDefinition(nilParam)), def + ".parameters[0]"},
		{"parameter without key", create(paramsDefinition(&skyvern.OutputParameter{})), def + ".parameters[0].key"},
		{"workflow parameter without type", create(paramsDefinition(&skyvern.WorkflowParameter{Key: "k"})), def + ".parameters[0].workflow_parameter_type"},
		{"raw parameter without parameter_type", create(paramsDefinition(&skyvern.RawParameter{Raw: json.RawMessage(`{"key":"k"}`)})), def + ".parameters[0].parameter_type"},
		{"blank yaml", create(&skyvern.WorkflowRequest{YAMLDefinition: " \n"}), "yaml_definition"},
		{"yaml with top-level webhook_url", create(&skyvern.WorkflowRequest{YAMLDefinition: "title: t\nwebhook_url: https://your-server.com/webhook\n"}), "yaml_definition"},
		{"yaml with quoted webhook_url", create(&skyvern.WorkflowRequest{YAMLDefinition: "title: t\r\n\"webhook_url\" : https://your-server.com/webhook\r\n"}), "yaml_definition"},
		{"json-as-yaml with webhook_url", create(&skyvern.WorkflowRequest{YAMLDefinition: `{"title":"t","webhook_url":"https://your-server.com/webhook"}`}), "yaml_definition"},
		{"update empty id", update("", minimalWorkflowRequest()), "workflow_id"},
		{"update with folder query", update("wpid_1", &skyvern.WorkflowRequest{FolderID: "fld_1", JSONDefinition: &skyvern.WorkflowDefinition{Title: "t"}}), "folder_id"},
		{"update without title", update("wpid_1", &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{}}), "json_definition.title"},
		{"run nil", run(nil), "request"},
		{"run without workflow_id", run(&skyvern.WorkflowRunRequest{WebhookURL: "https://h.example.com"}), "workflow_id"},
		{"run relative webhook_url", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", WebhookURL: "webhook"}), "webhook_url"},
		{"run javascript totp_url", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", TOTPURL: "javascript:alert(1)"}), "totp_url"},
		{"run max_elapsed_time_minutes 481", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", MaxElapsedTimeMinutes: skyvern.Ptr(481)}), "max_elapsed_time_minutes"},
		{"run max_elapsed_time_minutes -1", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", MaxElapsedTimeMinutes: skyvern.Ptr(-1)}), "max_elapsed_time_minutes"},
		{"run_metadata 21 keys", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", RunMetadata: runMetadata(21, 3, 1)}), "run_metadata"},
		{"run_metadata 65-character key", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", RunMetadata: runMetadata(1, 65, 1)}), "run_metadata"},
		{"run_metadata 257-character value", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", RunMetadata: runMetadata(1, 3, 257)}), "run_metadata"},
		{"max steps 0", run(&skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", MaxStepsOverride: skyvern.Ptr(0)}), "x-max-steps-override"},
		{"list negative page", list(&skyvern.GetWorkflowsParams{Page: -1}), "page"},
		{"list negative page size", list(&skyvern.GetWorkflowsParams{PageSize: -1}), "page_size"},
		{"list saved tasks and workflows", list(&skyvern.GetWorkflowsParams{OnlySavedTasks: true, OnlyWorkflows: true}), "only_saved_tasks"},
		{"list 21 tags", list(&skyvern.GetWorkflowsParams{Tags: make([]string, 21)}), "tags"},
		{"list tags with template", list(&skyvern.GetWorkflowsParams{Tags: []string{"a"}, Template: true}), "tags"},
		{"get empty id", func() error { _, err := c.GetWorkflow(context.Background(), " ", nil); return err }, "workflow_id"},
		{"get negative version", func() error {
			_, err := c.GetWorkflow(context.Background(), "wpid_1", &skyvern.GetWorkflowParams{Version: -1})
			return err
		}, "version"},
		{"delete empty id", func() error { return c.DeleteWorkflow(context.Background(), "") }, "workflow_id"},
	}
	for _, tc := range cases {
		err := tc.call()
		var invalid *skyvern.InvalidRequestError
		if !assert.ErrorAs(t, err, &invalid, tc.name) {
			continue
		}
		assert.Equal(t, tc.field, invalid.Field, "%s: %v", tc.name, err)
		assert.ErrorIs(t, err, skyvern.ErrValidation, tc.name)
		assert.True(t, strings.HasPrefix(err.Error(), "skyvern: invalid request: "+tc.field), "%s: %v", tc.name, err)
	}
	assert.Zero(t, hits.Load(), "nothing may be sent for an invalid request")
}

func TestWorkflowValidationAcceptsLimits(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/v1/workflows", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); writeJSON(w, 200, workflowJSON) })
	mux.HandleFunc("/v1/run/workflows", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); writeJSON(w, 200, okWorkflowRun) })

	for name, req := range map[string]*skyvern.WorkflowRequest{
		"nested webhook_url key in yaml": {YAMLDefinition: "title: t\nworkflow_definition:\n  blocks:\n  - block_type: http_request\n    label: post\n    body:\n      webhook_url: https://example.com\n"},
		"webhook_url_note key in yaml":   {YAMLDefinition: "title: t\nwebhook_url_note: x\n"},
		"limits": definitionWith(func(d *skyvern.WorkflowDefinition) {
			d.MaxElapsedTimeMinutes = skyvern.Ptr(1)
			d.CodeVersion = skyvern.Ptr(1)
		}),
		"raw block": blocksDefinition(&skyvern.RawBlock{Raw: json.RawMessage(`{"block_type":"send_email","label":"notify"}`)}),
	} {
		_, err := c.CreateWorkflow(context.Background(), req)
		require.NoError(t, err, name)
	}
	for name, md := range map[string]map[string]string{
		"20 keys":                      runMetadata(20, 3, 1),
		"64-character key":             runMetadata(1, 64, 1),
		"256-character (2-byte) value": runMetadata(1, 3, 256),
	} {
		_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", RunMetadata: md, MaxElapsedTimeMinutes: skyvern.Ptr(480)})
		require.NoError(t, err, name)
	}
	assert.EqualValues(t, 7, hits.Load())
}
