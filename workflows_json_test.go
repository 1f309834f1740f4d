package skyvern_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// diffJSON compares a document with the expected one (JSON bytes or a
// decoded value), ignoring key order and spacing.
func diffJSON(t *testing.T, want any, got []byte) {
	t.Helper()
	if b, ok := want.([]byte); ok {
		want = decodeAny(t, b)
	}
	if diff := cmp.Diff(want, decodeAny(t, got)); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
}

// TestWorkflowRoundTrip sends a workflow with every block kind, unknown
// kinds and server-side extras through Workflow and back.
func TestWorkflowRoundTrip(t *testing.T) {
	t.Parallel()
	fixture := readFixture(t, "workflow_full.json")
	var wf skyvern.Workflow
	require.NoError(t, json.Unmarshal(fixture, &wf))
	assert.True(t, bytes.Equal(bytes.TrimSpace(fixture), wf.Raw), "Raw holds the bytes as received")

	got, err := json.Marshal(wf)
	require.NoError(t, err)
	diffJSON(t, fixture, got)
	// Unedited, it is the server's document byte for byte (key order
	// included), only compacted as encoding/json compacts every Marshaler.
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, fixture))
	assert.True(t, bytes.Equal(compact.Bytes(), got), "re-encoded workflow differs from the compacted fixture")

	// Through a pointer and inside a list, as GetWorkflows returns them.
	got, err = json.Marshal([]*skyvern.Workflow{&wf})
	require.NoError(t, err)
	diffJSON(t, append(append([]byte("["), fixture...), ']'), got)
}

func TestWorkflowDecodesTypedKinds(t *testing.T) {
	t.Parallel()
	var wf skyvern.Workflow
	require.NoError(t, json.Unmarshal(readFixture(t, "workflow_full.json"), &wf))

	assert.Equal(t, "wpid_490440779503357998", wf.WorkflowPermanentID)
	assert.Equal(t, wf.WorkflowPermanentID, wf.AgentID)
	assert.Equal(t, "https://your-server.com/webhook", wf.WebhookCallbackURL)
	assert.Equal(t, 3, wf.Version)
	assert.True(t, wf.MaskSecrets)
	assert.Equal(t, map[string]string{"Authorization": "***"}, wf.CDPConnectHeaders)
	require.NotNil(t, wf.ProxyLocation)
	require.NotNil(t, wf.ProxyLocation.Geo)
	assert.Equal(t, "CA", *wf.ProxyLocation.Geo.Subdivision)
	assert.Nil(t, wf.DeletedAt)
	def := wf.WorkflowDefinition
	assert.Equal(t, 2, def.Version)
	assert.Equal(t, "cool_down", def.FinallyBlockLabel)
	assert.JSONEq(t, `{"must_produce":["invoice.pdf"],"graded":true}`, string(def.CompletionContract))

	kinds := func(bs skyvern.Blocks) map[string]int {
		out := map[string]int{}
		for _, b := range bs {
			name := "raw"
			switch b.(type) {
			case *skyvern.TaskBlock, *skyvern.NavigationBlock, *skyvern.ExtractionBlock, *skyvern.TextPromptBlock,
				*skyvern.CodeBlock, *skyvern.ForLoopBlock, *skyvern.TaskV2Block, *skyvern.GotoURLBlock, *skyvern.WaitBlock:
				name = "typed"
			}
			out[name+":"+string(b.BlockType())]++
		}
		return out
	}
	assert.Equal(t, map[string]int{
		"typed:task": 1, "typed:navigation": 1, "typed:extraction": 1, "typed:text_prompt": 1, "typed:code": 1,
		"typed:for_loop": 1, "typed:task_v2": 1, "typed:goto_url": 1, "typed:wait": 1,
		"raw:login": 1, "raw:action": 1, "raw:validation": 1, "raw:while_loop": 1, "raw:conditional": 1,
		"raw:download_to_s3": 1, "raw:upload_to_s3": 1, "raw:file_upload": 1, "raw:send_email": 1,
		"raw:file_url_parser": 1, "raw:pdf_parser": 1, "raw:human_interaction": 1, "raw:http_request": 1,
		"raw:print_page": 1, "raw:pdf_fill": 1, "raw:split_pdf": 1, "raw:workflow_trigger": 1,
		"raw:google_sheets_read": 1, "raw:email_inbox": 1, "raw:google_sheets_write": 1, "raw:future_block_kind": 1,
	}, kinds(def.Blocks))

	task, ok := def.Blocks[1].(*skyvern.TaskBlock)
	require.True(t, ok, "%T", def.Blocks[1])
	assert.Equal(t, "download_invoice", task.Label)
	assert.Equal(t, "https://vendor-portal.example.com", task.URL)
	assert.Equal(t, skyvern.RunEngineSkyvernV1, task.Engine)
	assert.Equal(t, "Log in and download the invoice for {{ invoice_month }}", task.NavigationGoal)
	assert.Equal(t, map[string]string{"NO_INVOICE": "No invoice exists for the month"}, task.ErrorCodeMapping)
	assert.True(t, task.CompleteOnDownload)
	require.NotNil(t, task.CompleteVerification)
	assert.True(t, *task.CompleteVerification)
	assert.Nil(t, task.MaxStepsPerRun)

	extraction := def.Blocks[3].(*skyvern.ExtractionBlock)
	assert.Equal(t, map[string]any{"type": "object", "properties": map[string]any{
		"total": map[string]any{"type": "number"}, "currency": map[string]any{"type": "string"}}}, extraction.DataSchema)

	loop, ok := def.Blocks[6].(*skyvern.ForLoopBlock)
	require.True(t, ok, "%T", def.Blocks[6])
	assert.True(t, loop.CompleteIfEmpty)
	assert.Equal(t, "{{ invoice_urls }}", loop.LoopVariableReference)
	assert.Equal(t, map[string]int{"typed:goto_url": 1, "typed:wait": 1, "raw:file_download": 1, "raw:future_block_kind": 1}, kinds(loop.LoopBlocks))
	assert.Equal(t, 2, loop.LoopBlocks[1].(*skyvern.WaitBlock).WaitSec)

	future := def.Blocks[len(def.Blocks)-1].(*skyvern.RawBlock)
	assert.Equal(t, skyvern.BlockType("future_block_kind"), future.BlockType())
	assert.Equal(t, "partial", decodeAny(t, future.Raw).(map[string]any)["hologram_mode"])

	var paramKinds []string
	for _, p := range def.Parameters {
		_, raw := p.(*skyvern.RawParameter)
		paramKinds = append(paramKinds, map[bool]string{true: "raw:", false: "typed:"}[raw]+string(p.ParameterType()))
	}
	assert.Equal(t, []string{
		"typed:workflow", "typed:workflow", "typed:workflow", "typed:workflow", "typed:workflow",
		"typed:context", "typed:output", "typed:credential",
		"raw:aws_secret", "raw:bitwarden_login_credential", "raw:onepassword", "raw:azure_vault_credential", "raw:vault_v2_secret",
	}, paramKinds)
	wp := def.Parameters[2].(*skyvern.WorkflowParameter)
	assert.Equal(t, skyvern.WorkflowParameterJSON, wp.WorkflowParameterType)
	assert.Equal(t, map[string]any{"status": "open", "limit": float64(25), "ratio": 0.5, "nested": map[string]any{"ok": true}}, wp.DefaultValue)
	assert.Equal(t, "cred_490440779503359011", def.Parameters[7].(*skyvern.CredentialParameter).CredentialID)
}

// TestWorkflowEditKeepsWhatWasNotEdited changes a few typed fields of a
// decoded workflow and checks that exactly those keys change on the wire.
func TestWorkflowEditKeepsWhatWasNotEdited(t *testing.T) {
	t.Parallel()
	fixture := readFixture(t, "workflow_full.json")
	var wf skyvern.Workflow
	require.NoError(t, json.Unmarshal(fixture, &wf))

	def := &wf.WorkflowDefinition
	wf.Title = "Invoice Downloader v2"
	task := def.Blocks[1].(*skyvern.TaskBlock)
	task.NavigationGoal = "Download every open invoice"
	task.DownloadSuffix = ""             // cleared: the key goes away
	task.MaxStepsPerRun = skyvern.Ptr(8) // was null
	loop := def.Blocks[6].(*skyvern.ForLoopBlock)
	loop.LoopBlocks[1].(*skyvern.WaitBlock).WaitSec = 7
	def.Parameters[0].(*skyvern.WorkflowParameter).DefaultValue = "2026-02"
	def.Blocks = append(def.Blocks, &skyvern.GotoURLBlock{Label: "done", URL: "https://example.com/done"})

	got, err := json.Marshal(wf)
	require.NoError(t, err)

	want := decodeAny(t, fixture).(map[string]any)
	want["title"] = "Invoice Downloader v2"
	wdef := want["workflow_definition"].(map[string]any)
	blocks := wdef["blocks"].([]any)
	wtask := blocks[1].(map[string]any)
	wtask["navigation_goal"] = "Download every open invoice"
	delete(wtask, "download_suffix")
	wtask["max_steps_per_run"] = float64(8)
	blocks[6].(map[string]any)["loop_blocks"].([]any)[1].(map[string]any)["wait_sec"] = float64(7)
	wdef["parameters"].([]any)[0].(map[string]any)["default_value"] = "2026-02"
	wdef["blocks"] = append(blocks, map[string]any{"block_type": "goto_url", "label": "done", "url": "https://example.com/done"})

	diffJSON(t, want, got)
}

func TestWorkflowIDAliases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		json string
	}{
		{"only workflow_permanent_id (older servers)", `{"workflow_permanent_id":"wpid_1","title":"t"}`},
		{"only agent_id", `{"agent_id":"wpid_1","title":"t"}`},
		{"both", `{"workflow_permanent_id":"wpid_1","title":"t","agent_id":"wpid_1"}`},
	}
	for _, tc := range cases {
		var wf skyvern.Workflow
		require.NoError(t, json.Unmarshal([]byte(tc.json), &wf), tc.name)
		assert.Equal(t, "wpid_1", wf.WorkflowPermanentID, tc.name)
		assert.Equal(t, "wpid_1", wf.AgentID, tc.name)
		got, err := json.Marshal(wf)
		require.NoError(t, err)
		assert.JSONEq(t, tc.json, string(got), "%s: an unedited workflow encodes as received", tc.name)
	}

	built, err := json.Marshal(skyvern.Workflow{WorkflowPermanentID: "wpid_2", Title: "t"})
	require.NoError(t, err)
	got := decodeAny(t, built).(map[string]any)
	assert.Equal(t, "wpid_2", got["agent_id"], "a workflow built in Go fills agent_id like the server")
}

// TestDefinitionFromTypedStructs builds a definition in Go and checks the
// JSON the server receives.
func TestDefinitionFromTypedStructs(t *testing.T) {
	t.Parallel()
	def := skyvern.WorkflowDefinition{
		Title:              "Invoice Downloader",
		WebhookCallbackURL: "https://your-server.com/webhook",
		WorkflowDefinition: skyvern.WorkflowDefinitionBody{
			Parameters: skyvern.Parameters{
				&skyvern.WorkflowParameter{Key: "invoice_urls", WorkflowParameterType: skyvern.WorkflowParameterJSON, DefaultValue: []string{}},
				&skyvern.WorkflowParameter{Key: "note", Description: "Free text", WorkflowParameterType: skyvern.WorkflowParameterString, DefaultValue: ""},
				&skyvern.ContextParameter{Key: "total", SourceParameterKey: "extract_total_output"},
				&skyvern.OutputParameter{Key: "extract_total_output"},
				&skyvern.CredentialParameter{Key: "login", CredentialID: "cred_1"},
				&skyvern.RawParameter{Raw: json.RawMessage(`{"parameter_type":"aws_secret","key":"smtp","aws_key":"a/b"}`)},
			},
			Blocks: skyvern.Blocks{
				&skyvern.TaskBlock{Label: "download_invoice", URL: "https://vendor-portal.example.com", NavigationGoal: "Download the latest invoice",
					Engine: skyvern.RunEngineSkyvernV2, MaxStepsPerRun: skyvern.Ptr(10), CompleteVerification: skyvern.Ptr(false),
					BlockOptions: skyvern.BlockOptions{ContinueOnFailure: true, Model: map[string]any{"model_name": "gpt-4.1"}}},
				&skyvern.NavigationBlock{Label: "open_billing", NavigationGoal: "Open billing"},
				&skyvern.ExtractionBlock{Label: "extract_total", DataExtractionGoal: "Extract the total", DataSchema: map[string]any{"type": "object"}},
				&skyvern.TextPromptBlock{Label: "summarize", Prompt: "Summarize {{ total }}", ParameterKeys: []string{"total"}},
				&skyvern.CodeBlock{Label: "round", Code: "result = 1"},
				&skyvern.ForLoopBlock{Label: "each", LoopOverParameterKey: "invoice_urls", LoopBlocks: skyvern.Blocks{
					&skyvern.GotoURLBlock{Label: "open", URL: "{{ current_value }}", BlockOptions: skyvern.BlockOptions{NextLoopOnFailure: true}},
					&skyvern.WaitBlock{Label: "settle", WaitSec: 2},
				}},
				&skyvern.ForLoopBlock{Label: "empty_loop"},
				&skyvern.TaskV2Block{Label: "find", Prompt: "Find the receipt", MaxSteps: skyvern.Ptr(5)},
				&skyvern.RawBlock{Raw: json.RawMessage(`{"block_type":"send_email","label":"notify","sender":"a@example.com","recipients":["b@example.com"],"subject":"s","body":"b"}`)},
			},
		},
	}
	got, err := json.Marshal(def)
	require.NoError(t, err)
	diffJSON(t, []byte(`{
		"title": "Invoice Downloader",
		"webhook_callback_url": "https://your-server.com/webhook",
		"workflow_definition": {
			"parameters": [
				{"parameter_type": "workflow", "key": "invoice_urls", "workflow_parameter_type": "json", "default_value": []},
				{"parameter_type": "workflow", "key": "note", "description": "Free text", "workflow_parameter_type": "string", "default_value": ""},
				{"parameter_type": "context", "key": "total", "source_parameter_key": "extract_total_output"},
				{"parameter_type": "output", "key": "extract_total_output"},
				{"parameter_type": "credential", "key": "login", "credential_id": "cred_1"},
				{"parameter_type": "aws_secret", "key": "smtp", "aws_key": "a/b"}
			],
			"blocks": [
				{"block_type": "task", "label": "download_invoice", "url": "https://vendor-portal.example.com",
				 "navigation_goal": "Download the latest invoice", "engine": "skyvern-2.0", "max_steps_per_run": 10,
				 "complete_verification": false, "continue_on_failure": true, "model": {"model_name": "gpt-4.1"}},
				{"block_type": "navigation", "label": "open_billing", "navigation_goal": "Open billing"},
				{"block_type": "extraction", "label": "extract_total", "data_extraction_goal": "Extract the total", "data_schema": {"type": "object"}},
				{"block_type": "text_prompt", "label": "summarize", "prompt": "Summarize {{ total }}", "parameter_keys": ["total"]},
				{"block_type": "code", "label": "round", "code": "result = 1"},
				{"block_type": "for_loop", "label": "each", "loop_over_parameter_key": "invoice_urls", "loop_blocks": [
					{"block_type": "goto_url", "label": "open", "url": "{{ current_value }}", "next_loop_on_failure": true},
					{"block_type": "wait", "label": "settle", "wait_sec": 2}
				]},
				{"block_type": "for_loop", "label": "empty_loop", "loop_blocks": []},
				{"block_type": "task_v2", "label": "find", "prompt": "Find the receipt", "max_steps": 5},
				{"block_type": "send_email", "label": "notify", "sender": "a@example.com", "recipients": ["b@example.com"], "subject": "s", "body": "b"}
			]
		}
	}`), got)

	// The discriminator comes first, as in the server's own documents.
	b, err := json.Marshal(&skyvern.WaitBlock{Label: "w"})
	require.NoError(t, err)
	assert.Equal(t, `{"block_type":"wait","label":"w"}`, string(b))

	// An empty definition still sends the lists the server requires.
	b, err = json.Marshal(skyvern.WorkflowDefinitionBody{})
	require.NoError(t, err)
	assert.Equal(t, `{"parameters":[],"blocks":[]}`, string(b))
}

func TestBlockDecodingEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("known kind with unexpected field types stays lossless", func(t *testing.T) {
		t.Parallel()
		const doc = `[{"block_type":"wait","label":"w","wait_sec":"soon"},{"block_type":"task","label":"t","max_retries":[1]}]`
		var bs skyvern.Blocks
		require.NoError(t, json.Unmarshal([]byte(doc), &bs))
		require.Len(t, bs, 2)
		for _, b := range bs {
			assert.IsType(t, &skyvern.RawBlock{}, b)
		}
		assert.Equal(t, skyvern.BlockTypeWait, bs[0].BlockType())
		got, err := json.Marshal(bs)
		require.NoError(t, err)
		assert.JSONEq(t, doc, string(got))
	})
	t.Run("null list and null elements", func(t *testing.T) {
		t.Parallel()
		var body skyvern.WorkflowDefinitionBody
		require.NoError(t, json.Unmarshal([]byte(`{"parameters":null,"blocks":[null,{"label":"no kind"}]}`), &body))
		assert.Nil(t, body.Parameters)
		require.Len(t, body.Blocks, 2)
		assert.Equal(t, skyvern.BlockType(""), body.Blocks[1].BlockType())
		got, err := json.Marshal(body)
		require.NoError(t, err)
		assert.JSONEq(t, `{"parameters":null,"blocks":[null,{"label":"no kind"}]}`, string(got))
	})
	t.Run("a block decoded into the wrong typed struct is refused", func(t *testing.T) {
		t.Parallel()
		var task skyvern.TaskBlock
		assert.Error(t, json.Unmarshal([]byte(`{"block_type":"navigation","label":"n","navigation_goal":"g"}`), &task))
		var param skyvern.WorkflowParameter
		assert.Error(t, json.Unmarshal([]byte(`{"parameter_type":"output","key":"k"}`), &param))
	})
	t.Run("malformed input is an error, not a panic", func(t *testing.T) {
		t.Parallel()
		for _, doc := range []string{`{"workflow_definition":{"blocks":[1]}}`, `{"workflow_definition":{"blocks":{}}}`,
			`{"workflow_definition":{"parameters":["x"]}}`, `{"workflow_definition":[]}`, `{"version":"3"}`} {
			var wf skyvern.Workflow
			assert.Error(t, json.Unmarshal([]byte(doc), &wf), doc)
		}
		_, err := json.Marshal(skyvern.Blocks{&skyvern.RawBlock{}})
		assert.Error(t, err)
		_, err = json.Marshal(skyvern.Parameters{&skyvern.RawParameter{Raw: json.RawMessage(`{oops`)}})
		assert.Error(t, err)
	})
}

func BenchmarkWorkflowDecode(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "workflow_full.json"))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var wf skyvern.Workflow
		if err := json.Unmarshal(data, &wf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorkflowEncode(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "workflow_full.json"))
	require.NoError(b, err)
	for _, edited := range []bool{false, true} {
		b.Run(map[bool]string{false: "unedited", true: "one block edited"}[edited], func(b *testing.B) {
			var wf skyvern.Workflow
			require.NoError(b, json.Unmarshal(data, &wf))
			if edited {
				wf.WorkflowDefinition.Blocks[1].(*skyvern.TaskBlock).NavigationGoal = "changed"
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := json.Marshal(wf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
