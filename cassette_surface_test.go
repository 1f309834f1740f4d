package skyvern_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// surfaceCassetteScenarios are the contract tests of the runs surface, one
// cassette per endpoint; TestCassettes records and replays them with the
// others.
var surfaceCassetteScenarios = []cassetteScenario{
	{name: "get_run_timeline", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyedWorkflow(invoiceWorkflow("Timeline Invoices"), "cassette-timeline-1"))
		require.NoError(t, err)
		run, err := env.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, Parameters: map[string]any{"invoice_month": "2026-01"}})
		require.NoError(t, err)
		finish(t, env, run.RunID, map[string]any{"total": "12.50"}, true)
		items, err := env.client.GetRunTimeline(ctx, run.RunID)
		require.NoError(t, err)
		require.Len(t, items, 1)
		assert.Equal(t, "download_invoice", items[0].Block.Label)
		assert.Equal(t, skyvern.RunStatusCompleted, items[0].Block.Status)
	}},
	{name: "get_run_artifacts", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", URL: "https://example.com"})
		require.NoError(t, err)
		if env.fake != nil {
			_, err = env.fake.AddArtifact(run.RunID, skyvern.ArtifactTypeRecording, "recording.webm", []byte("webm"))
			require.NoError(t, err)
			_, err = env.fake.AddArtifact(run.RunID, skyvern.ArtifactTypeScreenshotFinal, "final.png", []byte("png"))
			require.NoError(t, err)
		}
		list, err := env.client.GetRunArtifacts(ctx, run.RunID, &skyvern.GetRunArtifactsParams{ArtifactTypes: []skyvern.ArtifactType{skyvern.ArtifactTypeRecording}})
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, skyvern.ArtifactTypeRecording, list[0].ArtifactType)
		assert.NotEmpty(t, list[0].SignedURL)
	}},
	{name: "bulk_cancel_runs", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		a, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "First", URL: "https://example.com"})
		require.NoError(t, err)
		b, err := env.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Second", URL: "https://example.com"})
		require.NoError(t, err)
		res, err := env.client.BulkCancelRuns(ctx, []string{a.RunID, b.RunID, a.RunID})
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{a.RunID, b.RunID}, res.Cancelled)
		assert.Empty(t, res.Failed)
	}},
	{name: "retry_workflow_run", fakeOnly: true, run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyedWorkflow(invoiceWorkflow("Retried Invoices"), "cassette-retry-run-1"))
		require.NoError(t, err)
		run, err := env.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, Parameters: map[string]any{"invoice_month": "2026-01"}})
		require.NoError(t, err)
		if env.fake != nil {
			require.NoError(t, env.fake.Fail(run.RunID, "Portal down"))
		}
		retried, err := env.client.RetryWorkflowRun(ctx, run.RunID, nil)
		require.NoError(t, err)
		assert.NotEqual(t, run.RunID, retried.RunID)
		assert.Equal(t, skyvern.RunStatusCreated, retried.Status)
	}},
	{name: "run_login", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunLogin(ctx, &skyvern.LoginRequest{
			BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com/login", WebhookURL: cassetteHook, TOTPIdentifier: "ops@example.com"},
			CredentialType:   skyvern.CredentialSkyvern, CredentialID: "cred_123",
		})
		require.NoError(t, err)
		assert.Equal(t, skyvern.RunTypeWorkflowRun, run.RunType)
	}},
	{name: "run_download_files", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		run, err := env.client.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{
			BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com"},
			NavigationGoal:   "Download the January invoice", DownloadSuffix: "invoice-2026-01.pdf",
		})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(run.RunID, "wr_"))
	}},
	{name: "get_workflow_versions", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyedWorkflow(invoiceWorkflow("Versioned Invoices"), "cassette-versions-1"))
		require.NoError(t, err)
		_, err = env.client.UpdateWorkflow(ctx, wf.WorkflowPermanentID, invoiceWorkflow("Versioned Invoices v2"))
		require.NoError(t, err)
		versions, err := env.client.GetWorkflowVersions(ctx, wf.WorkflowPermanentID)
		require.NoError(t, err)
		require.Len(t, versions, 2)
		assert.Equal(t, "Versioned Invoices v2", versions[0].Title)
	}},
	{name: "get_workflow_runs", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		wf, err := env.client.CreateWorkflow(ctx, keyedWorkflow(invoiceWorkflow("Listed Runs"), "cassette-workflow-runs-1"))
		require.NoError(t, err)
		run, err := env.client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, Parameters: map[string]any{"invoice_month": "2026-01"}})
		require.NoError(t, err)
		runs, err := env.client.GetWorkflowRuns(ctx, wf.WorkflowPermanentID, &skyvern.GetWorkflowRunsParams{PageSize: 5})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		assert.Equal(t, run.RunID, runs[0].WorkflowRunID)
	}},
	{name: "upload_file", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		up, err := env.client.UploadFile(ctx, "customers.csv", strings.NewReader("id,name\n1,Ada\n"), &skyvern.UploadFileParams{RetentionDays: skyvern.Ptr(7)})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(up.FileID, "file_"))
		assert.NotNil(t, up.ExpiresAt)
	}},
	{name: "send_totp_code", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		code, err := env.client.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "ops@example.com", Content: "Your verification code is 481516", Source: "email"})
		require.NoError(t, err)
		assert.Equal(t, "481516", code.Code)
	}},
	{name: "get_version", run: func(t *testing.T, ctx context.Context, env *cassetteEnv) {
		v, err := env.client.GetVersion(ctx)
		require.NoError(t, err)
		assert.NotEmpty(t, v.Version)
	}},
}

// keyedWorkflow sets the Idempotency-Key CreateWorkflow sends, so a recording
// matches its replay.
func keyedWorkflow(req *skyvern.WorkflowRequest, key string) *skyvern.WorkflowRequest {
	req.IdempotencyKey = key
	return req
}
