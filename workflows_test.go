package skyvern_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// workflowJSON is a workflow as the server returns it from create, update
// and get: compact, nulls included, agent_id last.
const workflowJSON = `{"workflow_id":"w_1","organization_id":"o_1","title":"Invoice Downloader","workflow_permanent_id":"wpid_490440779503357998","version":1,"is_saved_task":false,"is_template":false,"description":null,"workflow_definition":{"version":1,"parameters":[],"blocks":[],"finally_block_label":null,"error_code_mapping":null,"workflow_system_prompt":null,"completion_contract":null},"proxy_location":null,"webhook_callback_url":"https://your-server.com/webhook","totp_verification_url":null,"totp_identifier":null,"persist_browser_session":false,"reuse_browser_session":false,"mask_secrets":false,"pin_saved_session_ip":false,"browser_profile_id":null,"browser_profile_key":null,"model":null,"status":"published","max_screenshot_scrolls":null,"max_elapsed_time_minutes":null,"extra_http_headers":null,"cdp_connect_headers":null,"run_with":"agent","ai_fallback":true,"cache_key":"default","adaptive_caching":false,"enable_self_healing":false,"code_version":null,"generate_script_on_terminal":false,"run_sequentially":null,"sequential_key":null,"folder_id":null,"import_error":null,"created_by":null,"edited_by":null,"copilot_authored":false,"created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:20:42.160725","deleted_at":null,"agent_id":"wpid_490440779503357998"}`

const okWorkflowRun = `{"run_id":"wr_1","status":"created","run_type":"workflow_run","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00"}`

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}

// webhookFields lists, as "path = value", every key of a JSON document whose
// name mentions a webhook, sorted: where a request put its webhook.
func webhookFields(body []byte) []string {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return []string{"invalid JSON: " + err.Error()}
	}
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if strings.Contains(k, "webhook") {
					out = append(out, fmt.Sprintf("%s = %v", p, child))
				}
				walk(p, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("", doc)
	sort.Strings(out)
	return out
}

// recorder keeps what a handler received, for assertions after the call.
type recorder struct {
	mu       sync.Mutex
	bodies   [][]byte
	requests []*http.Request
}

func (rec *recorder) handler(answer func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, body)
		rec.requests = append(rec.requests, r.Clone(context.Background()))
		rec.mu.Unlock()
		answer(w, r)
	}
}

func (rec *recorder) headers(name string) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, r := range rec.requests {
		out = append(out, r.Header.Get(name))
	}
	return out
}

// TestWebhookLocation is the webhooks guide's quick reference as a table:
// each call puts the webhook in exactly one place, and that place is the
// one its endpoint reads.
func TestWebhookLocation(t *testing.T) {
	t.Parallel()
	const hook = "https://your-server.com/webhook"
	cases := []struct {
		context string
		route   string
		answer  string
		call    func(context.Context, *skyvern.Client) error
		want    string
	}{
		{"task run", "/v1/run/tasks", okRun, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", WebhookURL: hook})
			return err
		}, "webhook_url"},
		{"workflow creation", "/v1/workflows", workflowJSON, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
				Title: "Invoice Downloader", WebhookCallbackURL: hook,
			}})
			return err
		}, "json_definition.webhook_callback_url"},
		{"workflow update", "/v1/workflows/wpid_1", workflowJSON, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.UpdateWorkflow(ctx, "wpid_1", &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
				Title: "Invoice Downloader", WebhookCallbackURL: hook,
			}})
			return err
		}, "json_definition.webhook_callback_url"},
		{"workflow run (override)", "/v1/run/workflows", okWorkflowRun, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1", WebhookURL: hook})
			return err
		}, "webhook_url"},
	}
	for _, tc := range cases {
		t.Run(tc.context, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			rec := &recorder{}
			mux.HandleFunc(tc.route, rec.handler(status(200, tc.answer)))
			require.NoError(t, tc.call(context.Background(), c))
			require.Len(t, rec.bodies, 1)
			if diff := cmp.Diff([]string{tc.want + " = " + hook}, webhookFields(rec.bodies[0])); diff != "" {
				t.Errorf("webhook location (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWebhookFieldNames pins the design that makes the guide's mistake
// impossible to compile: no request type has the other context's field.
func TestWebhookFieldNames(t *testing.T) {
	t.Parallel()
	jsonKeys := func(v any) map[string]bool {
		keys := map[string]bool{}
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			keys[name] = true
		}
		return keys
	}
	cases := []struct {
		typ     any
		has     string
		hasNot  string
		goField string
	}{
		{skyvern.WorkflowDefinition{}, "webhook_callback_url", "webhook_url", "WebhookCallbackURL"},
		{skyvern.WorkflowRunRequest{}, "webhook_url", "webhook_callback_url", "WebhookURL"},
		{skyvern.TaskRunRequest{}, "webhook_url", "webhook_callback_url", "WebhookURL"},
	}
	for _, tc := range cases {
		keys := jsonKeys(tc.typ)
		name := reflect.TypeOf(tc.typ).Name()
		assert.True(t, keys[tc.has], "%s must have %s", name, tc.has)
		assert.False(t, keys[tc.hasNot], "%s must not have %s", name, tc.hasNot)
		_, ok := reflect.TypeOf(tc.typ).FieldByName(tc.goField)
		assert.True(t, ok, "%s.%s", name, tc.goField)
	}
	for key := range jsonKeys(skyvern.WorkflowRequest{}) {
		assert.NotContains(t, key, "webhook", "WorkflowRequest's webhook belongs inside json_definition")
	}
}

func TestCreateWorkflowRequestShape(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/workflows", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testHeader(t, r, "Content-Type", "application/json")
		testHeader(t, r, "x-api-key", testAPIKey)
		assert.Equal(t, "fld_override", r.URL.Query().Get("folder_id"))
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r.Header.Get("Idempotency-Key"))
		testJSONBody(t, r, `{"json_definition": {
			"title": "Invoice Downloader",
			"description": "Monthly invoices <b>",
			"proxy_location": {"country": "US", "subdivision": "CA"},
			"webhook_callback_url": "https://your-server.com/webhook",
			"totp_verification_url": "https://your-server.com/totp",
			"totp_identifier": "billing@example.com",
			"persist_browser_session": true,
			"reuse_browser_session": true,
			"mask_secrets": false,
			"pin_saved_session_ip": true,
			"browser_profile_id": "bp_1",
			"browser_profile_key": "vendor",
			"model": {"model_name": "gpt-4.1"},
			"workflow_definition": {"parameters": [], "blocks": [
				{"block_type": "task", "label": "download_invoice", "url": "https://vendor-portal.example.com", "navigation_goal": "Download the latest invoice"}
			]},
			"is_saved_task": true,
			"max_screenshot_scrolls": 0,
			"max_elapsed_time_minutes": 480,
			"extra_http_headers": {"Accept-Language": "en"},
			"cdp_connect_headers": {"Authorization": "Bearer x"},
			"status": "draft",
			"run_with": "code",
			"ai_fallback": false,
			"cache_key": "v2",
			"adaptive_caching": true,
			"enable_self_healing": true,
			"code_version": 2,
			"generate_script_on_terminal": true,
			"run_sequentially": true,
			"sequential_key": "vendor",
			"folder_id": "fld_1"
		}}`)
		writeJSON(w, 200, workflowJSON)
	})
	wf, err := c.CreateWorkflow(context.Background(), &skyvern.WorkflowRequest{
		FolderID: "fld_override",
		JSONDefinition: &skyvern.WorkflowDefinition{
			Title:                 "Invoice Downloader",
			Description:           "Monthly invoices <b>",
			ProxyLocation:         skyvern.NewGeoProxy(skyvern.GeoTarget{Country: "US", Subdivision: skyvern.Ptr("CA")}),
			WebhookCallbackURL:    "https://your-server.com/webhook",
			TOTPVerificationURL:   "https://your-server.com/totp",
			TOTPIdentifier:        "billing@example.com",
			PersistBrowserSession: true,
			ReuseBrowserSession:   true,
			MaskSecrets:           skyvern.Ptr(false),
			PinSavedSessionIP:     true,
			BrowserProfileID:      "bp_1",
			BrowserProfileKey:     "vendor",
			Model:                 map[string]any{"model_name": "gpt-4.1"},
			WorkflowDefinition: skyvern.WorkflowDefinitionBody{Blocks: skyvern.Blocks{&skyvern.TaskBlock{
				Label:          "download_invoice",
				URL:            "https://vendor-portal.example.com",
				NavigationGoal: "Download the latest invoice",
			}}},
			IsSavedTask:              true,
			MaxScreenshotScrolls:     skyvern.Ptr(0),
			MaxElapsedTimeMinutes:    skyvern.Ptr(480),
			ExtraHTTPHeaders:         map[string]string{"Accept-Language": "en"},
			CDPConnectHeaders:        map[string]string{"Authorization": "Bearer x"},
			Status:                   skyvern.WorkflowStatusDraft,
			RunWith:                  "code",
			AIFallback:               skyvern.Ptr(false),
			CacheKey:                 "v2",
			AdaptiveCaching:          true,
			EnableSelfHealing:        skyvern.Ptr(true),
			CodeVersion:              skyvern.Ptr(2),
			GenerateScriptOnTerminal: true,
			RunSequentially:          true,
			SequentialKey:            "vendor",
			FolderID:                 "fld_1",
		},
	})
	require.NoError(t, err)
	assert.Equal(t, "wpid_490440779503357998", wf.WorkflowPermanentID)
	assert.Equal(t, "https://your-server.com/webhook", wf.WebhookCallbackURL)
	assert.JSONEq(t, workflowJSON, string(wf.Raw))
}

func TestCreateWorkflowYAML(t *testing.T) {
	t.Parallel()
	const doc = "title: Invoice Downloader\nwebhook_callback_url: https://your-server.com/webhook\nworkflow_definition:\n  parameters: []\n  blocks: []\n"
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/workflows", func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.URL.RawQuery)
		testJSONBody(t, r, `{"yaml_definition": `+mustJSON(t, doc)+`}`)
		writeJSON(w, 200, workflowJSON)
	})
	_, err := c.CreateWorkflow(context.Background(), &skyvern.WorkflowRequest{YAMLDefinition: doc})
	require.NoError(t, err)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func minimalWorkflowRequest() *skyvern.WorkflowRequest {
	return &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{Title: "Invoice Downloader"}}
}

// keyed returns req with its IdempotencyKey set.
func keyed(req *skyvern.WorkflowRequest, key string) *skyvern.WorkflowRequest {
	req.IdempotencyKey = key
	return req
}

func TestCreateWorkflowIdempotencyKey(t *testing.T) {
	t.Parallel()
	t.Run("generated once per call and reused on retry", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		var attempts atomic.Int32
		rec := &recorder{}
		mux.HandleFunc("/v1/workflows", rec.handler(sequence(&attempts,
			status(503, ``), status(200, workflowJSON), // first call
			status(200, workflowJSON), // second call
		)))
		_, err := c.CreateWorkflow(context.Background(), minimalWorkflowRequest())
		require.NoError(t, err)
		_, err = c.CreateWorkflow(context.Background(), minimalWorkflowRequest())
		require.NoError(t, err)

		keys := rec.headers("Idempotency-Key")
		require.Len(t, keys, 3)
		assert.NotEmpty(t, keys[0])
		assert.Equal(t, keys[0], keys[1], "a retry must reuse the call's key")
		assert.NotEqual(t, keys[1], keys[2], "each call needs its own key")
	})
	t.Run("caller's key used verbatim", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		var attempts atomic.Int32
		rec := &recorder{}
		mux.HandleFunc("/v1/workflows", rec.handler(sequence(&attempts, status(502, ``), status(200, workflowJSON))))
		const key = "invoice-downloader/2026-01:v1~!"
		_, err := c.CreateWorkflow(context.Background(), keyed(minimalWorkflowRequest(), key))
		require.NoError(t, err)
		assert.Equal(t, []string{key, key}, rec.headers("Idempotency-Key"))
	})
	t.Run("boundary keys accepted", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		rec := &recorder{}
		mux.HandleFunc("/v1/workflows", rec.handler(status(200, workflowJSON)))
		keys := []string{"!", "~", strings.Repeat("k", 255)}
		for _, key := range keys {
			_, err := c.CreateWorkflow(context.Background(), keyed(minimalWorkflowRequest(), key))
			require.NoError(t, err, "%q", key)
		}
		assert.Equal(t, keys, rec.headers("Idempotency-Key"))
	})
	t.Run("invalid keys rejected before sending", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		var hits atomic.Int32
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
		for _, key := range []string{strings.Repeat("k", 256), "two words", "tab\tkey", "ключ", "del\x7f", "nul\x00"} {
			_, err := c.CreateWorkflow(context.Background(), keyed(minimalWorkflowRequest(), key))
			var invalid *skyvern.InvalidRequestError
			require.ErrorAs(t, err, &invalid, "%q", key)
			assert.Equal(t, "Idempotency-Key", invalid.Field)
			assert.ErrorIs(t, err, skyvern.ErrValidation)
		}
		assert.Zero(t, hits.Load())
	})
}

func TestCreateWorkflowRetriesConflictInProgress(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	rec := &recorder{}
	mux.HandleFunc("/v1/workflows", rec.handler(sequence(&attempts,
		status(409, `{"detail":"Workflow creation with this idempotency key is still in progress."}`),
		status(200, workflowJSON))))
	wf, err := c.CreateWorkflow(context.Background(), minimalWorkflowRequest())
	require.NoError(t, err)
	assert.Equal(t, "wpid_490440779503357998", wf.WorkflowPermanentID)
	assert.EqualValues(t, 2, attempts.Load())
	keys := rec.headers("Idempotency-Key")
	assert.Equal(t, keys[0], keys[1])
}

func TestCreateWorkflowOutcomeUnknownCarriesKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		step         behaviour
		wantAttempts int32
		wantStatus   int
	}{
		{"5xx until the budget ends", status(503, `{"detail":"busy"}`), 3, 503},
		{"connection dropped after the request", dropConnection, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			var attempts atomic.Int32
			rec := &recorder{}
			mux.HandleFunc("/v1/workflows", rec.handler(sequence(&attempts, tc.step)))

			_, err := c.CreateWorkflow(context.Background(), minimalWorkflowRequest())
			require.Error(t, err)
			assert.Equal(t, tc.wantAttempts, attempts.Load(), "an idempotent create is retried like a read")
			assert.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
			var unknown *skyvern.OutcomeUnknownError
			require.ErrorAs(t, err, &unknown)
			keys := rec.headers("Idempotency-Key")
			assert.Equal(t, keys[0], unknown.IdempotencyKey)
			var apiErr *skyvern.APIError
			if tc.wantStatus != 0 {
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, tc.wantStatus, apiErr.StatusCode)
			}

			// Sending again with the reported key is the documented recovery.
			c2, mux2, _ := setup(t)
			rec2 := &recorder{}
			mux2.HandleFunc("/v1/workflows", rec2.handler(status(200, workflowJSON)))
			_, err = c2.CreateWorkflow(context.Background(), keyed(minimalWorkflowRequest(), unknown.IdempotencyKey))
			require.NoError(t, err)
			assert.Equal(t, []string{unknown.IdempotencyKey}, rec2.headers("Idempotency-Key"))
		})
	}
}

func TestRouteSpecificOptionsRefusedElsewhere(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"key header on RunTask", func() error {
			_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"}, skyvern.WithHeader("Idempotency-Key", "k"))
			return err
		}, "Idempotency-Key"},
		{"key header on RunWorkflow", func() error {
			_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1"}, skyvern.WithHeader("x-idempotency-key", "k"))
			return err
		}, "X-Idempotency-Key"},
		{"key header on CancelRun", func() error {
			return c.CancelRun(context.Background(), "tsk_1", skyvern.WithHeader("idempotency-key", "k"))
		}, "Idempotency-Key"},
		{"key header on CreateWorkflow", func() error {
			_, err := c.CreateWorkflow(context.Background(), minimalWorkflowRequest(), skyvern.WithHeader("Idempotency-Key", "k"))
			return err
		}, "Idempotency-Key"},
		{"key on UpdateWorkflow", func() error {
			_, err := c.UpdateWorkflow(context.Background(), "wpid_1", keyed(minimalWorkflowRequest(), "k"))
			return err
		}, "Idempotency-Key"},
	}
	for _, tc := range cases {
		var invalid *skyvern.InvalidRequestError
		require.ErrorAs(t, tc.call(), &invalid, tc.name)
		assert.Equal(t, tc.field, invalid.Field, tc.name)
	}
	assert.Zero(t, hits.Load())
}

func TestRunWorkflowRequestShape(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/run/workflows", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testHeader(t, r, "x-max-steps-override", "7")
		testHeader(t, r, "x-user-agent", "scheduler")
		assert.Empty(t, r.Header.Get("Idempotency-Key"), "runs have no idempotency key")
		assert.Equal(t, "true", r.URL.Query().Get("template"))
		stripClientRequestID(t, r)
		testJSONBody(t, r, `{
			"workflow_id": "wpid_490440779503357998",
			"parameters": {"invoice_month": "2026-01", "max_pages": 3},
			"title": "January",
			"proxy_location": "RESIDENTIAL_GB",
			"webhook_url": "https://your-server.com/different-webhook",
			"totp_url": "https://your-server.com/totp",
			"totp_identifier": "billing@example.com",
			"browser_session_id": "pbs_1",
			"reuse_browser_session": false,
			"browser_profile_id": "bp_1",
			"start_fresh_browser": true,
			"max_screenshot_scrolls": 2,
			"max_elapsed_time_minutes": 1,
			"extra_http_headers": {"Accept-Language": "en"},
			"cdp_connect_headers": {"Authorization": "Bearer x"},
			"browser_address": "ws://127.0.0.1:9222",
			"ai_fallback": true,
			"run_with": "code",
			"run_metadata": {"tenant": "acme"}
		}`)
		writeJSON(w, 200, workflowRunJSON)
	})
	run, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{
		WorkflowID:            "wpid_490440779503357998",
		Parameters:            map[string]any{"invoice_month": "2026-01", "max_pages": 3},
		Title:                 "January",
		ProxyLocation:         skyvern.NewProxy(skyvern.ProxyResidentialGB),
		WebhookURL:            "https://your-server.com/different-webhook",
		TOTPURL:               "https://your-server.com/totp",
		TOTPIdentifier:        "billing@example.com",
		BrowserSessionID:      "pbs_1",
		ReuseBrowserSession:   skyvern.Ptr(false),
		BrowserProfileID:      "bp_1",
		StartFreshBrowser:     true,
		MaxScreenshotScrolls:  skyvern.Ptr(2),
		MaxElapsedTimeMinutes: skyvern.Ptr(1),
		ExtraHTTPHeaders:      map[string]string{"Accept-Language": "en"},
		CDPConnectHeaders:     map[string]string{"Authorization": "Bearer x"},
		BrowserAddress:        "ws://127.0.0.1:9222",
		AIFallback:            skyvern.Ptr(true),
		RunWith:               "code",
		RunMetadata:           map[string]string{"tenant": "acme"},
		Template:              true,
		MaxStepsOverride:      skyvern.Ptr(7),
		XUserAgent:            "scheduler",
	})
	require.NoError(t, err)
	assert.Equal(t, "wr_486305187432193510", run.RunID)
	assert.Equal(t, skyvern.RunTypeWorkflowRun, run.RunType)
}

func TestRunWorkflowMinimalBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/run/workflows", func(w http.ResponseWriter, r *http.Request) {
		stripClientRequestID(t, r)
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, `{"workflow_id":"wpid_123"}`, string(body))
		assert.Empty(t, r.URL.RawQuery)
		assert.Empty(t, r.Header.Get("x-max-steps-override"))
		writeJSON(w, 200, okWorkflowRun)
	})
	_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: "wpid_123"})
	require.NoError(t, err)
}

func TestWorkflowCallRetryClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		route        string
		steps        []behaviour
		call         func(context.Context, *skyvern.Client) error
		wantAttempts int32
		wantOK       bool
		wantUnknown  bool
	}{
		{"RunWorkflow 502 is not resent", "/v1/run/workflows", []behaviour{status(502, ``), status(200, okWorkflowRun)},
			func(ctx context.Context, c *skyvern.Client) error {
				_, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1"})
				return err
			}, 1, false, true},
		{"RunWorkflow dropped connection is not resent", "/v1/run/workflows", []behaviour{dropConnection, status(200, okWorkflowRun)},
			func(ctx context.Context, c *skyvern.Client) error {
				_, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1"})
				return err
			}, 1, false, true},
		{"RunWorkflow 429 is resent", "/v1/run/workflows", []behaviour{status(429, ``), status(200, okWorkflowRun)},
			func(ctx context.Context, c *skyvern.Client) error {
				_, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1"})
				return err
			}, 2, true, false},
		{"UpdateWorkflow 502 is not resent", "/v1/workflows/wpid_1", []behaviour{status(502, ``), status(200, workflowJSON)},
			func(ctx context.Context, c *skyvern.Client) error {
				_, err := c.UpdateWorkflow(ctx, "wpid_1", minimalWorkflowRequest())
				return err
			}, 1, false, true},
		{"DeleteWorkflow 503 is resent", "/v1/workflows/wpid_1/delete", []behaviour{status(503, ``), status(200, `null`)},
			func(ctx context.Context, c *skyvern.Client) error { return c.DeleteWorkflow(ctx, "wpid_1") }, 2, true, false},
		{"DeleteWorkflow dropped connection is resent", "/v1/workflows/wpid_1/delete", []behaviour{dropConnection, status(200, `null`)},
			func(ctx context.Context, c *skyvern.Client) error { return c.DeleteWorkflow(ctx, "wpid_1") }, 2, true, false},
		{"GetWorkflow 500 is resent", "/v1/workflows/wpid_1", []behaviour{status(500, ``), status(200, workflowJSON)},
			func(ctx context.Context, c *skyvern.Client) error {
				_, err := c.GetWorkflow(ctx, "wpid_1", nil)
				return err
			}, 2, true, false},
		{"GetWorkflows 503 is resent", "/v1/workflows", []behaviour{status(503, ``), status(200, `[]`)},
			func(ctx context.Context, c *skyvern.Client) error {
				_, err := c.GetWorkflows(ctx, nil)
				return err
			}, 2, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			var attempts atomic.Int32
			mux.HandleFunc(tc.route, sequence(&attempts, tc.steps...))
			err := tc.call(context.Background(), c)
			assert.Equal(t, tc.wantAttempts, attempts.Load(), "attempts")
			if tc.wantOK {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantUnknown, errors.Is(err, skyvern.ErrOutcomeUnknown), "%v", err)
		})
	}
}

func TestUpdateWorkflowRequestShape(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/workflows/{id}", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		assert.Equal(t, "wpid/1", r.PathValue("id"))
		assert.Equal(t, "/v1/workflows/wpid%2F1", r.URL.RawPath)
		assert.Empty(t, r.Header.Get("Idempotency-Key"))
		testJSONBody(t, r, `{"yaml_definition":"title: t\n"}`)
		writeJSON(w, 200, workflowJSON)
	})
	wf, err := c.UpdateWorkflow(context.Background(), "wpid/1", &skyvern.WorkflowRequest{YAMLDefinition: "title: t\n"})
	require.NoError(t, err)
	assert.Equal(t, 1, wf.Version)
}

func TestDeleteWorkflow(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/workflows/wpid_1/delete", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		body, _ := io.ReadAll(r.Body)
		assert.Empty(t, body)
		writeJSON(w, 200, `null`)
	})
	require.NoError(t, c.DeleteWorkflow(context.Background(), "wpid_1"))
}

func TestGetWorkflow(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var queries []string
	var mu sync.Mutex
	mux.HandleFunc("/v1/workflows/wpid_490440779503357998", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodGet)
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		writeJSON(w, 200, workflowJSON)
	})
	mux.HandleFunc("/v1/workflows/wpid_missing", status(404, `{"detail":"Workflow not found"}`))
	mux.HandleFunc("/v1/workflows/wpid_broken", status(200, `{"title":"no id"}`))

	for _, params := range []*skyvern.GetWorkflowParams{nil, {}, {Version: 3, Template: true}} {
		wf, err := c.GetWorkflow(context.Background(), "wpid_490440779503357998", params)
		require.NoError(t, err)
		assert.Equal(t, "Invoice Downloader", wf.Title)
		assert.Equal(t, skyvern.WorkflowStatusPublished, wf.Status)
		assert.Equal(t, time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC), wf.CreatedAt.Time)
		require.NotNil(t, wf.AIFallback)
		assert.True(t, *wf.AIFallback)
	}
	assert.Equal(t, []string{"", "", "template=true&version=3"}, queries)

	_, err := c.GetWorkflow(context.Background(), "wpid_missing", nil)
	assert.ErrorIs(t, err, skyvern.ErrNotFound)
	_, err = c.GetWorkflow(context.Background(), "wpid_broken", nil)
	assert.ErrorIs(t, err, skyvern.ErrMalformedResponse)
}

func TestRunWorkflowRequestFromRun(t *testing.T) {
	t.Parallel()
	var run skyvern.Run
	require.NoError(t, json.Unmarshal([]byte(workflowRunJSON), &run))
	req, err := run.WorkflowRunRequest()
	require.NoError(t, err)
	assert.Equal(t, "wpid_123", req.WorkflowID)
	assert.Equal(t, map[string]any{"invoice_month": "2026-01"}, req.Parameters)
	require.NotNil(t, req.ProxyLocation)
	assert.Equal(t, "US", req.ProxyLocation.Geo.Country)

	var agentOnly skyvern.WorkflowRunRequest
	require.NoError(t, json.Unmarshal([]byte(`{"agent_id":"wpid_9","webhook_url":"https://h.example.com/"}`), &agentOnly))
	assert.Equal(t, "wpid_9", agentOnly.WorkflowID)
	assert.Equal(t, "https://h.example.com/", agentOnly.WebhookURL)

	var taskRun skyvern.Run
	require.NoError(t, json.Unmarshal([]byte(taskRunJSON), &taskRun))
	_, err = taskRun.WorkflowRunRequest()
	assert.Error(t, err)

	noRequest := skyvern.Run{RunID: "wr_2", RunType: skyvern.RunTypeWorkflowRun}
	_, err = noRequest.WorkflowRunRequest()
	assert.Error(t, err)
}
