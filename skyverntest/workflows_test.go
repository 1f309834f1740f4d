package skyverntest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantWorkflowKeys is Workflow's field order, computed agent_id last.
var wantWorkflowKeys = strings.Fields(`workflow_id organization_id title workflow_permanent_id version
	is_saved_task is_template description workflow_definition proxy_location webhook_callback_url
	totp_verification_url totp_identifier persist_browser_session reuse_browser_session mask_secrets
	pin_saved_session_ip browser_profile_id browser_profile_key model browser_type status max_screenshot_scrolls
	max_elapsed_time_minutes extra_http_headers cdp_connect_headers run_with ai_fallback cache_key
	adaptive_caching enable_self_healing code_version generate_script_on_terminal run_sequentially
	sequential_key folder_id import_error created_by edited_by copilot_authored created_at modified_at
	deleted_at agent_id`)

var wantDefinitionKeys = strings.Fields(`version parameters blocks finally_block_label error_code_mapping
	workflow_system_prompt completion_contract retry_policy`)

const invoiceDefinition = `{"json_definition":{"title":"Invoice Downloader",
	"webhook_callback_url":"https://your-server.com/webhook",
	"workflow_definition":{"parameters":[],"blocks":[{"block_type":"task","label":"download_invoice",
	"url":"https://vendor-portal.example.com","prompt":"Download the latest invoice"}]}}}`

func TestCreateWorkflowShape(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithOrganizationID("o_485917350850524254"))
	for _, path := range []string{"/v1/workflows", "/v1/agents"} {
		resp := doRequest(t, s, http.MethodPost, path+"?folder_id=fld_1", invoiceDefinition)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		assertKeys(t, wantWorkflowKeys, resp.body, "Workflow")
		assertKeys(t, wantDefinitionKeys, subObject(t, resp.body, "workflow_definition"), "workflow_definition")
		m := resp.object(t)
		assert.Regexp(t, `^w_\d+$`, m["workflow_id"])
		assert.Regexp(t, `^wpid_\d+$`, m["workflow_permanent_id"])
		assert.Equal(t, m["workflow_permanent_id"], m["agent_id"])
		assert.Equal(t, "o_485917350850524254", m["organization_id"])
		assert.EqualValues(t, 1, m["version"])
		assert.Equal(t, "published", m["status"])
		assert.Equal(t, "agent", m["run_with"])
		assert.Equal(t, true, m["ai_fallback"])
		assert.Equal(t, "default", m["cache_key"])
		assert.Equal(t, false, m["mask_secrets"])
		assert.Equal(t, false, m["run_sequentially"])
		assert.Equal(t, "fld_1", m["folder_id"])
		assert.Equal(t, "https://your-server.com/webhook", m["webhook_callback_url"])
		assert.Nil(t, m["deleted_at"])
		assert.Regexp(t, naiveTimestamp, m["created_at"])
		assert.Contains(t, string(resp.body), `"blocks":[{"block_type":"task","label":"download_invoice","url":"https://vendor-portal.example.com","prompt":"Download the latest invoice"}]`)
	}
	assert.Equal(t, 2, s.WorkflowCount())
}

func TestCreateWorkflowErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name    string
		body    string
		headers []string
		status  int
		want    string
	}{
		{"no definition", `{}`, nil, 422,
			`{"detail":"Invalid workflow definition. Workflow should be provided in either yaml or json format."}`},
		{"no body", ``, nil, 422, `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{"missing title", `{"json_definition":{"workflow_definition":{"parameters":[],"blocks":[]}}}`, nil, 422,
			`{"detail":[{"type":"missing","loc":["body","json_definition","title"],"msg":"Field required","input":{"workflow_definition":{"parameters":[],"blocks":[]}}}]}`},
		{"missing blocks", `{"json_definition":{"title":"t","workflow_definition":{"parameters":[]}}}`, nil, 422,
			`{"detail":[{"type":"missing","loc":["body","json_definition","workflow_definition","blocks"],"msg":"Field required","input":{"parameters":[]}}]}`},
		{"bad block tag", `{"json_definition":{"title":"t","workflow_definition":{"parameters":[],"blocks":[{"block_type":"nope","label":"x"}]}}}`, nil, 422,
			`union_tag_invalid`},
		{"block without label", `{"json_definition":{"title":"t","workflow_definition":{"parameters":[],"blocks":[{"block_type":"task"}]}}}`, nil, 422,
			`{"detail":[{"type":"missing","loc":["body","json_definition","workflow_definition","blocks",0,"task","label"],"msg":"Field required","input":{"block_type":"task"}}]}`},
		{"empty key", invoiceDefinition, []string{"Idempotency-Key", " "}, 422,
			`{"detail":"Idempotency-Key must contain 1 to 255 visible ASCII bytes."}`},
		{"long key", invoiceDefinition, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 422,
			`{"detail":"Idempotency-Key must contain 1 to 255 visible ASCII bytes."}`},
		{"yaml without title", `{"yaml_definition":"description: x\n"}`, nil, 422,
			`{"detail":"title: Field required"}`},
	}
	for _, tt := range tests {
		resp := doRequest(t, s, http.MethodPost, "/v1/workflows", tt.body, tt.headers...)
		assert.Equal(t, tt.status, resp.status, tt.name)
		if strings.HasPrefix(tt.want, "{") {
			if diff := cmp.Diff(tt.want, string(resp.body)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		} else {
			assert.Contains(t, string(resp.body), tt.want, tt.name)
		}
	}
	assert.Zero(t, s.WorkflowCount())
}

func TestCreateWorkflowYAML(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	resp := doRequest(t, s, http.MethodPost, "/v1/workflows",
		`{"yaml_definition":"title: From YAML\nwebhook_callback_url: 'https://h.example/x'\nworkflow_definition:\n  blocks: []\n"}`)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	m := resp.object(t)
	assert.Equal(t, "From YAML", m["title"])
	assert.Equal(t, "https://h.example/x", m["webhook_callback_url"])

	// JSON is YAML, and is read in full; yaml_definition wins over json_definition.
	resp = doRequest(t, s, http.MethodPost, "/v1/workflows",
		`{"json_definition":{"title":"ignored","workflow_definition":{"parameters":[],"blocks":[]}},
		  "yaml_definition":"{\"title\":\"JSON YAML\",\"workflow_definition\":{\"parameters\":[],\"blocks\":[{\"block_type\":\"wait\",\"label\":\"w\"}]}}"}`)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	assert.Equal(t, "JSON YAML", resp.object(t)["title"])
	assert.Contains(t, string(resp.body), `"blocks":[{"block_type":"wait","label":"w"}]`)
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithOrganizationID("o_1"))
	first := doRequest(t, s, http.MethodPost, "/v1/workflows", invoiceDefinition, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	sum := sha256.Sum256([]byte("create_workflow\x00o_1\x00key-1"))
	wpid := "wpid_" + hex.EncodeToString(sum[:])
	assert.Equal(t, wpid, first.object(t)["workflow_permanent_id"])

	again := doRequest(t, s, http.MethodPost, "/v1/agents", `{"json_definition":{"title":"other","workflow_definition":{"parameters":[],"blocks":[]}}}`, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, string(first.body), string(again.body), "the same key answers with version 1")

	// After an update and a delete, the key still answers with version 1.
	require.Equal(t, http.StatusOK, doRequest(t, s, http.MethodPost, "/v1/workflows/"+wpid, invoiceDefinition).status)
	require.Equal(t, http.StatusOK, doRequest(t, s, http.MethodPost, "/v1/workflows/"+wpid+"/delete", nil).status)
	again = doRequest(t, s, http.MethodPost, "/v1/workflows", invoiceDefinition, "Idempotency-Key", "key-1")
	assert.EqualValues(t, 1, again.object(t)["version"])
	assert.Equal(t, 1, s.WorkflowCount())
	snap, ok := s.Workflow(wpid)
	require.True(t, ok)
	assert.Equal(t, "key-1", snap.IdempotencyKey)
	assert.True(t, snap.Deleted)
}

func TestIdempotentCreateConcurrent(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithCreateWorkflowDelay(200*time.Millisecond))
	const n = 8
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = doRequest(t, s, http.MethodPost, "/v1/workflows", invoiceDefinition, "Idempotency-Key", "same")
		}()
	}
	wg.Wait()
	var ok, conflict int
	var wpids = map[string]bool{}
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
			wpids[r.object(t)["workflow_permanent_id"].(string)] = true
		case http.StatusConflict:
			conflict++
			assert.Equal(t, `{"detail":"Workflow creation with this idempotency key is still in progress."}`, string(r.body))
		default:
			t.Errorf("unexpected status %d: %s", r.status, r.body)
		}
	}
	assert.Equal(t, n, ok+conflict)
	assert.GreaterOrEqual(t, ok, 1)
	assert.Len(t, wpids, 1, "every success names the same workflow")
	assert.Equal(t, 1, s.WorkflowCount())
}

func TestGetUpdateDeleteWorkflow(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	wpid := createWorkflow(t, s, nil)

	get := doRequest(t, s, http.MethodGet, "/v1/agents/"+wpid, nil)
	require.Equal(t, http.StatusOK, get.status)
	assertKeys(t, wantWorkflowKeys, get.body, "get_workflow")

	upd := doRequest(t, s, http.MethodPost, "/v1/agents/"+wpid,
		`{"json_definition":{"title":"Renamed","workflow_definition":{"parameters":[],"blocks":[]}}}`)
	require.Equal(t, http.StatusOK, upd.status, "%s", upd.body)
	u := upd.object(t)
	assert.EqualValues(t, 2, u["version"])
	assert.Equal(t, wpid, u["workflow_permanent_id"])
	assert.NotEqual(t, get.object(t)["workflow_id"], u["workflow_id"], "a new version has a new workflow_id")

	assert.Equal(t, "Renamed", doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid, nil).object(t)["title"])
	assert.Equal(t, "Invoice Downloader", doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid+"?version=1", nil).object(t)["title"])
	resp := doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid+"?version=9", nil)
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, fmt.Sprintf(`{"detail":"Workflow not found. workflow_permanent_id=%s, version=9"}`, wpid), string(resp.body))
	assert.Equal(t, http.StatusUnprocessableEntity, doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid+"?version=x", nil).status)

	del := doRequest(t, s, http.MethodPost, "/v1/agents/"+wpid+"/delete", nil)
	assert.Equal(t, http.StatusOK, del.status)
	assert.Equal(t, "null", string(del.body))
	assert.Equal(t, "null", string(doRequest(t, s, http.MethodPost, "/v1/agents/wpid_unknown/delete", nil).body))
	resp = doRequest(t, s, http.MethodGet, "/v1/workflows/"+wpid, nil)
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, `{"detail":"Workflow not found. workflow_permanent_id=`+wpid+`"}`, string(resp.body))
	assert.Equal(t, http.StatusNotFound, doRequest(t, s, http.MethodPost, "/v1/workflows/"+wpid, invoiceDefinition).status)
	assert.Equal(t, http.StatusNotFound, doRequest(t, s, http.MethodPost, "/v1/run/workflows", `{"workflow_id":"`+wpid+`"}`).status)
}

func TestListWorkflows(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, createWorkflow(t, s, map[string]any{"title": fmt.Sprintf("Flow %d", i), "folder_id": fmt.Sprintf("fld_%d", i%2)}))
	}
	createWorkflow(t, s, map[string]any{"title": "Draft", "status": "draft"})
	createWorkflow(t, s, map[string]any{"title": "Generated", "status": "auto_generated"})
	createWorkflow(t, s, map[string]any{"title": "Saved task", "is_saved_task": true})
	doRequest(t, s, http.MethodPost, "/v1/workflows/"+ids[0]+"/delete", nil)

	titles := func(path string) []string {
		t.Helper()
		resp := doRequest(t, s, http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		var out []string
		for _, w := range decodeList(t, resp.body) {
			out = append(out, w["title"].(string))
			assert.Equal(t, w["workflow_permanent_id"], w["agent_id"])
		}
		return out
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/v1/workflows?page_size=100", []string{"Saved task", "Draft", "Flow 4", "Flow 3", "Flow 2", "Flow 1"}},
		{"/v1/agents?page=1&page_size=2", []string{"Saved task", "Draft"}},
		{"/v1/agents?page=3&page_size=2", []string{"Flow 2", "Flow 1"}},
		{"/v1/agents?page=9", nil},
		{"/v1/workflows?status=auto_generated", []string{"Generated"}},
		{"/v1/workflows?status=draft&status=published&only_workflows=true", []string{"Draft", "Flow 4", "Flow 3", "Flow 2", "Flow 1"}},
		{"/v1/workflows?only_saved_tasks=true", []string{"Saved task"}},
		{"/v1/workflows?search_key=flow%203", []string{"Flow 3"}},
		{"/v1/workflows?folder_id=fld_1", []string{"Flow 3", "Flow 1"}},
		{"/v1/workflows?template=true", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, titles(tt.path)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.path, diff)
		}
	}

	errs := []struct {
		path   string
		status int
		want   string
	}{
		{"/v1/workflows?only_saved_tasks=true&only_workflows=true", 400, `{"detail":"only_saved_tasks and only_workflows cannot be used together"}`},
		{"/v1/workflows?template=true&tags=a", 400, `{"detail":"tags filter is not supported with template=true"}`},
		{"/v1/workflows?page=0", 422, `{"detail":[{"type":"greater_than_equal","loc":["query","page"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]}`},
		{"/v1/workflows?status=gone", 422, `"loc":["query","status",0]`},
	}
	for _, tt := range errs {
		resp := doRequest(t, s, http.MethodGet, tt.path, nil)
		assert.Equal(t, tt.status, resp.status, tt.path)
		assert.Contains(t, string(resp.body), tt.want, tt.path)
	}
}
