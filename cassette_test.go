package skyvern_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/dnaeon/go-vcr.v3/cassette"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// cassetteScenario is one contract test: the same code records (driving the
// fake where needed) and replays.
type cassetteScenario struct {
	name string
	// fakeOnly scenarios inject faults or drive runs, which only the fake
	// allows; they are not recorded against the real API.
	fakeOnly bool
	// apiKey overrides the client's key.
	apiKey string
	run    func(t *testing.T, ctx context.Context, env *cassetteEnv)
}

const cassetteHook = "https://hooks.example.com/skyvern"

func invoiceWorkflow(title string) *skyvern.WorkflowRequest {
	return &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
		Title:              title,
		WebhookCallbackURL: cassetteHook,
		WorkflowDefinition: skyvern.WorkflowDefinitionBody{
			Parameters: skyvern.Parameters{&skyvern.WorkflowParameter{Key: "invoice_month", WorkflowParameterType: skyvern.WorkflowParameterString}},
			Blocks: skyvern.Blocks{&skyvern.TaskBlock{
				Label: "download_invoice", URL: "https://vendor-portal.example.com",
				NavigationGoal: "Download the invoice for {{ invoice_month }}", ParameterKeys: []string{"invoice_month"},
			}},
		},
	}}
}

// finish completes a run on the fake and, if it has a webhook, waits until
// the delivery (all its attempts) is over.
func finish(t *testing.T, env *cassetteEnv, runID string, output any, hasWebhook bool) {
	t.Helper()
	if env.fake == nil {
		return
	}
	require.NoError(t, env.fake.Complete(runID, output))
	if hasWebhook {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := env.fake.WaitForDelivery(ctx, runID)
		require.NoError(t, err)
	}
}

func inject(env *cassetteEnv, route skyverntest.Route, f skyverntest.Fault) {
	if env.fake != nil {
		env.fake.InjectFault(route, f)
	}
}

var cassetteScenarios = []cassetteScenario{
	{name: "run_task", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{
			Prompt: "Get the title of the top post", URL: "https://news.ycombinator.com/",
			WebhookURL: cassetteHook, MaxSteps: skyvern.Ptr(10),
		})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(run.RunID, "tsk_"), run.RunID)
		assert.Equal(t, skyvern.RunTypeTaskV1, run.RunType)
		assert.False(t, run.IsTerminal())
		var echoed skyvern.TaskRunRequest
		require.NoError(t, run.DecodeRunRequest(&echoed))
		assert.Equal(t, cassetteHook, echoed.WebhookURL)
	}},
	{name: "get_run_completed", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", URL: "https://example.com/product/123", Engine: skyvern.RunEngineSkyvernV2})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(run.RunID, "tsk_v2_"), run.RunID)
		finish(t, env, run.RunID, map[string]any{"price": "$29.99", "rating": 4.5}, false)
		got, err := env.client.GetRun(ctx, run.RunID)
		require.NoError(t, err)
		assert.Equal(t, skyvern.RunStatusCompleted, got.Status)
		assert.Equal(t, skyvern.RunTypeTaskV2, got.RunType)
		var out struct {
			Price  string  `json:"price"`
			Rating float64 `json:"rating"`
		}
		require.NoError(t, got.DecodeOutput(&out))
		assert.Equal(t, "$29.99", out.Price)
		assert.Equal(t, 4.5, out.Rating)
		require.NotNil(t, got.FinishedAt)
		assert.False(t, got.FinishedAt.Before(got.CreatedAt.Time))
	}},
	{name: "create_and_run_workflow", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Invoice Downloader"), "cassette-create-and-run"))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(wf.WorkflowPermanentID, "wpid_"), wf.WorkflowPermanentID)
		assert.Equal(t, cassetteHook, wf.WebhookCallbackURL)
		assert.Equal(t, wf.WorkflowPermanentID, wf.AgentID)

		run, err := env.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{
			WorkflowID: wf.WorkflowPermanentID,
			Parameters: map[string]any{"invoice_month": "2026-01"},
			WebhookURL: cassetteHook + "/override",
		})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(run.RunID, "wr_"), run.RunID)
		assert.Equal(t, skyvern.RunTypeWorkflowRun, run.RunType)
		req, err := run.WorkflowRunRequest()
		require.NoError(t, err)
		assert.Equal(t, wf.WorkflowPermanentID, req.WorkflowID)
		assert.Equal(t, cassetteHook+"/override", req.WebhookURL)
	}},
	{name: "create_workflow_idempotent", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		const key = "cassette-idempotent-create-1"
		first, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Idempotent Invoices"), key))
		require.NoError(t, err)
		again, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Idempotent Invoices"), key))
		require.NoError(t, err)
		assert.Equal(t, first.WorkflowPermanentID, again.WorkflowPermanentID)
		assert.Equal(t, first.WorkflowID, again.WorkflowID, "the same key returns the same version, not a new one")
	}},
	{name: "create_workflow_conflict_then_ok", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		inject(env, skyverntest.RouteCreateWorkflow, skyverntest.Fault{Status: http.StatusConflict, Body: `{"detail":"Workflow creation with this idempotency key is still in progress."}`})
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Conflicted Invoices"), "cassette-conflict-1"))
		require.NoError(t, err)
		assert.Equal(t, "Conflicted Invoices", wf.Title)
	}},
	{name: "get_workflow", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Fetched Invoices"), "cassette-get-1"))
		require.NoError(t, err)
		got, err := env.client.GetWorkflow(ctx, wf.WorkflowPermanentID, nil)
		require.NoError(t, err)
		assert.Equal(t, wf.WorkflowID, got.WorkflowID)
		assert.Equal(t, cassetteHook, got.WebhookCallbackURL)
		require.Len(t, got.WorkflowDefinition.Blocks, 1)
		task, ok := got.WorkflowDefinition.Blocks[0].(*skyvern.TaskBlock)
		require.True(t, ok, "a task block decodes to *TaskBlock")
		assert.Equal(t, "download_invoice", task.Label)
	}},
	{name: "list_workflows", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Listed Invoices"), "cassette-list-1"))
		require.NoError(t, err)
		list, err := env.client.GetWorkflows(ctx, &skyvern.GetWorkflowsParams{SearchKey: "Listed Invoices", PageSize: 5})
		require.NoError(t, err)
		require.NotEmpty(t, list)
		assert.Equal(t, wf.WorkflowPermanentID, list[0].WorkflowPermanentID)
	}},
	{name: "update_workflow", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Updated Invoices"), "cassette-update-1"))
		require.NoError(t, err)
		updated, err := env.client.UpdateWorkflow(ctx, wf.WorkflowPermanentID, invoiceWorkflow("Updated Invoices v2"))
		require.NoError(t, err)
		assert.Equal(t, wf.WorkflowPermanentID, updated.WorkflowPermanentID)
		assert.Equal(t, wf.Version+1, updated.Version)
		assert.Equal(t, "Updated Invoices v2", updated.Title)
	}},
	{name: "delete_workflow", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Deleted Invoices"), "cassette-delete-1"))
		require.NoError(t, err)
		require.NoError(t, env.client.DeleteWorkflow(ctx, wf.WorkflowPermanentID))
		list, err := env.client.GetWorkflows(ctx, &skyvern.GetWorkflowsParams{SearchKey: "Deleted Invoices"})
		require.NoError(t, err)
		assert.Empty(t, list, "a deleted workflow is no longer listed")
	}},
	{name: "cancel_run", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Wait for the page", URL: "https://example.com"})
		require.NoError(t, err)
		require.NoError(t, env.client.CancelRun(ctx, run.RunID))
		got, err := env.client.GetRun(ctx, run.RunID)
		require.NoError(t, err)
		assert.Equal(t, skyvern.RunStatusCanceled, got.Status)
	}},
	{name: "retry_run_webhook", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", URL: "https://example.com", WebhookURL: cassetteHook + "/broken"})
		require.NoError(t, err)
		finish(t, env, run.RunID, map[string]any{"price": "$29.99"}, true)

		replay, err := env.client.RetryRunWebhook(ctx, run.RunID, &skyvern.RetryRunWebhookRequest{WebhookURL: cassetteHook})
		require.NoError(t, err)
		assert.True(t, replay.Delivered())
		assert.Equal(t, cassetteHook, replay.TargetWebhookURL)
		assert.Equal(t, cassetteHook+"/broken", replay.DefaultWebhookURL)
		assert.Equal(t, redacted, replay.Headers[skyvern.SignatureHeader], "signatures never reach a cassette")
		assert.Contains(t, replay.Payload, `"webhook_failure_reason":"Webhook failed with status code 503`)

		_, err = env.client.RetryRunWebhook(ctx, run.RunID, nil)
		require.NoError(t, err)
	}},
	{name: "retry_sequence_503_then_200", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Flaky read", URL: "https://example.com"})
		require.NoError(t, err)
		inject(env, skyverntest.RouteGetRun, skyverntest.Fault{Status: http.StatusServiceUnavailable})
		got, err := env.client.GetRun(ctx, run.RunID)
		require.NoError(t, err, "GetRun retries the 503")
		assert.Equal(t, run.RunID, got.RunID)
	}},
	{name: "error_403_invalid_credentials", apiKey: "sk_wrong_key_for_the_403_cassette", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		_, err := env.client.GetRun(ctx, "tsk_490440844256003946")
		assert.ErrorIs(t, err, skyvern.ErrForbidden)
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "Invalid credentials", apiErr.Detail)
	}},
	{name: "error_404_run_not_found", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		_, err := env.client.GetRun(ctx, "tsk_404404404404404404")
		assert.ErrorIs(t, err, skyvern.ErrNotFound)
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "Task run not found tsk_404404404404404404", apiErr.Detail)
	}},
	{name: "error_422_validation_list", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyed(invoiceWorkflow("Validation Invoices"), "cassette-422-1"))
		require.NoError(t, err)
		_, err = env.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID}, skyvern.WithHeader("x-max-steps-override", "lots"))
		assert.ErrorIs(t, err, skyvern.ErrValidation)
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Len(t, apiErr.ValidationErrors, 1)
		assert.Equal(t, "header.x-max-steps-override", apiErr.ValidationErrors[0].Field())
	}},
	{name: "error_400_retry_webhook_not_terminal", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Still running", URL: "https://example.com", WebhookURL: cassetteHook})
		require.NoError(t, err)
		_, err = env.client.RetryRunWebhook(ctx, run.RunID, nil)
		assert.ErrorIs(t, err, skyvern.ErrValidation)
		assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown), "a 400 is a definite refusal")
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Contains(t, apiErr.Detail, "has not reached a terminal state")
	}},
	{name: "error_500_outcome_unknown", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		inject(env, skyverntest.RouteRunTask, skyverntest.Fault{Status: http.StatusInternalServerError})
		_, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Server error", URL: "https://example.com"})
		assert.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "Unexpected error: InjectedFault", apiErr.Detail)
	}},
	{name: "error_502_html_page", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		inject(env, skyverntest.RouteGetRun, skyverntest.Fault{
			Status: http.StatusBadGateway, Times: 3,
			Header: http.Header{"Content-Type": {"text/html"}},
			Body:   "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>",
		})
		_, err := env.client.GetRun(ctx, "tsk_490440844256003946")
		assert.ErrorIs(t, err, skyvern.ErrServer)
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "502 Bad Gateway", apiErr.Detail)
	}},
}

func TestCassettes(t *testing.T) {
	mode := currentVCRMode(t)
	for _, sc := range append(cassetteScenarios, surfaceCassetteScenarios...) {
		t.Run(sc.name, func(t *testing.T) {
			if mode == vcrRecordLive && sc.fakeOnly {
				t.Skip("drives the fake server; not recordable against the real API")
			}
			env := newCassetteEnv(t, sc.name, sc.apiKey)
			sc.run(t, context.Background(), env)
		})
	}
}

// TestCassettesHoldNoSecrets fails if any cassette holds an API key or a
// webhook signature.
func TestCassettesHoldNoSecrets(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(cassetteDir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no cassettes found")
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NoError(t, scanForSecrets(f, data))
		assert.Contains(t, string(data), "https://api.skyvern.com/v1/", "%s: recorded with the canonical base URL", f)
	}
}

func TestSecretScannerCatchesLeaks(t *testing.T) {
	t.Parallel()
	leaks := map[string]string{
		"fake key":          "x: " + skyverntest.DefaultAPIKey,
		"api key header":    "headers:\n  X-Api-Key:\n  - sk_some_real_looking_key_123456\n",
		"signature in json": `{"x-skyvern-signature":"609e0364a92ed3cc92753bcc1b0c53f78b77d2b7782c5f2f0c9f92cfa255d875"}`,
		"bare digest":       "sig 609e0364a92ed3cc92753bcc1b0c53f78b77d2b7782c5f2f0c9f92cfa255d875 end",
	}
	for name, data := range leaks {
		assert.Error(t, scanForSecrets(name, []byte(data)), name)
	}
	clean := "headers:\n  X-Api-Key:\n  - REDACTED\nbody: '{\"x-skyvern-signature\":\"REDACTED\",\"workflow_permanent_id\":\"wpid_609e0364a92ed3cc92753bcc1b0c53f78b77d2b7782c5f2f0c9f92cfa255d875\"}'\n"
	assert.NoError(t, scanForSecrets("clean", []byte(clean)))
}

func TestCassetteMatcher(t *testing.T) {
	t.Parallel()
	rec := cassette.Request{Method: http.MethodPost, URL: "https://api.skyvern.com/v1/run/tasks", Body: `{"prompt":"p","url":"https://example.com"}`}
	cases := []struct {
		name   string
		method string
		url    string
		body   string
		want   bool
	}{
		{"same JSON, other key order and spacing", http.MethodPost, rec.URL, `{ "url": "https://example.com", "prompt": "p" }`, true},
		{"other value", http.MethodPost, rec.URL, `{"prompt":"q","url":"https://example.com"}`, false},
		{"extra field", http.MethodPost, rec.URL, `{"prompt":"p","url":"https://example.com","max_steps":1}`, false},
		{"other method", http.MethodPut, rec.URL, rec.Body, false},
		{"other URL", http.MethodPost, "https://api.skyvern.com/v1/run/workflows", rec.Body, false},
		{"no body", http.MethodPost, rec.URL, ``, false},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		require.NoError(t, err)
		assert.Equal(t, tc.want, matchMethodURLAndJSONBody(req, rec), tc.name)
		body, _ := io.ReadAll(req.Body)
		assert.Equal(t, tc.body, string(body), "%s: the body stays readable for the real transport", tc.name)
	}
}
