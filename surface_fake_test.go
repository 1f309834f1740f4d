package skyvern_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// newFakeClient starts a skyverntest server and a client for it. Webhooks
// go to an in-process receiver, never to the network.
func newFakeClient(t *testing.T) (*skyverntest.Server, *skyvern.Client) {
	t.Helper()
	fake := skyverntest.NewServer(
		skyverntest.WithWebhookTransport(handlerTransport{cassetteWebhookReceiver()}),
		skyverntest.WithDeliveryTimeScale(0),
	)
	t.Cleanup(fake.Close)
	c, err := skyvern.NewClient(fake.APIKey(), skyvern.WithBaseURL(fake.URL()), skyvern.WithHTTPClient(fake.Client()))
	require.NoError(t, err)
	return fake, c
}

func TestFakeTimeline(t *testing.T) {
	t.Parallel()
	fake, c := newFakeClient(t)
	ctx := context.Background()
	wf, err := c.CreateWorkflow(ctx, invoiceWorkflow("Timeline Invoices"))
	require.NoError(t, err)
	run, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID})
	require.NoError(t, err)

	items, err := c.GetRunTimeline(ctx, run.RunID)
	require.NoError(t, err)
	assert.Empty(t, items, "nothing ran yet")

	require.NoError(t, fake.Complete(run.RunID, map[string]any{"total": "12.50"}))
	items, err = c.GetRunTimeline(ctx, run.RunID)
	require.NoError(t, err)
	require.Len(t, items, 1)
	blk := items[0].Block
	require.NotNil(t, blk)
	assert.Equal(t, "download_invoice", blk.Label)
	assert.Equal(t, skyvern.BlockTypeTask, blk.BlockType)
	assert.Equal(t, skyvern.RunStatusCompleted, blk.Status)
	assert.Equal(t, run.RunID, blk.WorkflowRunID)
	again, err := c.GetRunTimeline(ctx, run.RunID)
	require.NoError(t, err)
	assert.Equal(t, blk.WorkflowRunBlockID, again[0].Block.WorkflowRunBlockID, "stable ids")

	v2, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Find the cheapest flight", Engine: skyvern.RunEngineSkyvernV2})
	require.NoError(t, err)
	require.NoError(t, fake.Complete(v2.RunID, nil))
	items, err = c.GetRunTimeline(ctx, v2.RunID)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Len(t, items[0].Children, 1)
	assert.Equal(t, skyvern.TimelineItemThought, items[0].Children[0].Type)
	assert.Equal(t, "Find the cheapest flight", items[0].Children[0].Thought.UserInput)

	v1, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "p"})
	require.NoError(t, err)
	_, err = c.GetRunTimeline(ctx, v1.RunID)
	assert.ErrorIs(t, err, skyvern.ErrValidation, "task v1 runs have no timeline")
	_, err = c.GetRunTimeline(ctx, "wr_404")
	assert.ErrorIs(t, err, skyvern.ErrNotFound)
}

func TestFakeArtifactsAndDownloads(t *testing.T) {
	t.Parallel()
	fake, c := newFakeClient(t)
	ctx := context.Background()
	run, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Download the invoice", URL: "https://portal.example.com"})
	require.NoError(t, err)
	require.NoError(t, fake.Complete(run.RunID, nil))
	video := bytes.Repeat([]byte("frame"), 2000)
	_, err = fake.AddArtifact(run.RunID, skyvern.ArtifactTypeRecording, "recording.webm", video)
	require.NoError(t, err)
	_, err = fake.AddArtifact(run.RunID, skyvern.ArtifactTypeDownload, "invoice.pdf", []byte("%PDF-1.7"))
	require.NoError(t, err)
	_, err = fake.AddArtifact(run.RunID, skyvern.ArtifactTypeScreenshotFinal, "final.png", []byte("png"))
	require.NoError(t, err)

	list, err := c.GetRunArtifacts(ctx, run.RunID, &skyvern.GetRunArtifactsParams{ArtifactTypes: []skyvern.ArtifactType{skyvern.ArtifactTypeRecording, skyvern.ArtifactTypeScreenshotFinal}})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, run.RunID, list[0].TaskID)
	assert.True(t, strings.HasPrefix(list[0].SignedURL, fake.StorageURL()))

	// The URLs held so far expire; each download lists or reads again.
	fake.ExpireSignedURLs()
	var buf bytes.Buffer
	_, err = c.DownloadArtifact(ctx, list[0], &buf)
	require.NoError(t, err)
	assert.Equal(t, video, buf.Bytes())

	got, err := c.GetRun(ctx, run.RunID)
	require.NoError(t, err)
	require.Len(t, got.DownloadedFiles, 1)
	fake.ExpireSignedURLs()
	buf.Reset()
	_, err = c.DownloadRunFile(ctx, run.RunID, &got.DownloadedFiles[0], &buf)
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.7", buf.String())

	buf.Reset()
	fake.ExpireSignedURLs()
	_, err = c.DownloadRecording(ctx, got, &buf)
	require.NoError(t, err)
	assert.Equal(t, video, buf.Bytes())

	reqs := fake.StorageRequests()
	require.Len(t, reqs, 6, "three expired URLs, three fresh ones")
	for _, r := range reqs {
		assert.Empty(t, r.Header.Values("X-Api-Key"), "storage request %s", r.Path)
	}
	assert.Equal(t, http.StatusForbidden, reqs[0].Status)
	assert.Equal(t, http.StatusOK, reqs[1].Status)

	none, err := c.GetRunArtifacts(ctx, "tsk_unknown", nil)
	require.NoError(t, err)
	assert.Empty(t, none, "the server lists nothing for an unknown run")
}

func TestFakeBulkCancelAndRetry(t *testing.T) {
	t.Parallel()
	_, c := newFakeClient(t)
	ctx := context.Background()
	wf, err := c.CreateWorkflow(ctx, invoiceWorkflow("Retried Invoices"))
	require.NoError(t, err)
	first, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, Parameters: map[string]any{"invoice_month": "2026-01"}})
	require.NoError(t, err)
	task, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "p"})
	require.NoError(t, err)

	_, err = c.RetryWorkflowRun(ctx, first.RunID, nil)
	assert.ErrorIs(t, err, skyvern.ErrValidation, "only terminal runs can be retried")

	res, err := c.BulkCancelRuns(ctx, []string{first.RunID, task.RunID, "tsk_404", task.RunID})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{first.RunID, task.RunID}, res.Cancelled)
	assert.Equal(t, []string{"tsk_404"}, res.Failed)

	retried, err := c.RetryWorkflowRun(ctx, first.RunID, &skyvern.RetryWorkflowRunParams{MaxStepsOverride: skyvern.Ptr(5)})
	require.NoError(t, err)
	assert.NotEqual(t, first.RunID, retried.RunID)
	req, err := retried.WorkflowRunRequest()
	require.NoError(t, err)
	assert.Equal(t, "2026-01", req.Parameters["invoice_month"])

	runs, err := c.GetWorkflowRuns(ctx, wf.WorkflowPermanentID, nil)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, retried.RunID, runs[0].WorkflowRunID, "newest first")
	assert.Equal(t, first.RunID, runs[0].RetriedFromWorkflowRunID)
	assert.Equal(t, skyvern.RunStatusCanceled, runs[1].Status)

	canceled, err := c.GetWorkflowRuns(ctx, wf.WorkflowPermanentID, &skyvern.GetWorkflowRunsParams{Status: []skyvern.RunStatus{skyvern.RunStatusCanceled}})
	require.NoError(t, err)
	require.Len(t, canceled, 1)

	var all []string
	for r, err := range c.AllWorkflowRuns(ctx, wf.WorkflowPermanentID, &skyvern.GetWorkflowRunsParams{PageSize: 1}) {
		require.NoError(t, err)
		all = append(all, r.WorkflowRunID)
	}
	assert.Equal(t, []string{retried.RunID, first.RunID}, all)

	_, err = c.RetryWorkflowRun(ctx, task.RunID, nil)
	assert.ErrorIs(t, err, skyvern.ErrNotFound, "a task run is not a workflow run")
}

func TestFakeLoginDownloadFilesAndVersions(t *testing.T) {
	t.Parallel()
	fake, c := newFakeClient(t)
	ctx := context.Background()
	login, err := c.RunLogin(ctx, &skyvern.LoginRequest{
		BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com/login", WebhookURL: "https://hooks.example.com/skyvern"},
		CredentialType:   skyvern.CredentialSkyvern, CredentialID: "cred_1",
	})
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunTypeWorkflowRun, login.RunType)
	assert.Equal(t, skyvern.RunStatusCreated, login.Status)
	require.NoError(t, fake.Complete(login.RunID, nil))
	items, err := c.GetRunTimeline(ctx, login.RunID)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, skyvern.BlockType("login"), items[0].Block.BlockType)

	dl, err := c.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{NavigationGoal: "Download the invoice"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(dl.RunID, "wr_"))

	wf, err := c.CreateWorkflow(ctx, invoiceWorkflow("Versioned Invoices"))
	require.NoError(t, err)
	_, err = c.UpdateWorkflow(ctx, wf.WorkflowPermanentID, invoiceWorkflow("Versioned Invoices v2"))
	require.NoError(t, err)
	versions, err := c.GetWorkflowVersions(ctx, wf.WorkflowPermanentID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	assert.Equal(t, 2, versions[0].Version, "newest first")
	assert.Equal(t, "Versioned Invoices", versions[1].Title)
	none, err := c.GetWorkflowVersions(ctx, "wpid_unknown")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestFakeUploadTOTPAndVersion(t *testing.T) {
	t.Parallel()
	fake, c := newFakeClient(t)
	ctx := context.Background()
	up, err := c.UploadFile(ctx, "customers.csv", strings.NewReader("id,name\n1,Ada\n"), &skyvern.UploadFileParams{RetentionDays: skyvern.Ptr(3)})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(up.FileID, "file_"))
	require.NotNil(t, up.ExpiresAt)
	name, content, ok := fake.UploadedFile(up.FileID)
	require.True(t, ok)
	assert.Equal(t, "customers.csv", name)
	assert.Equal(t, "id,name\n1,Ada\n", string(content))
	resp, err := fake.Client().Get(up.PresignedURL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "id,name\n1,Ada\n", string(body), "the presigned URL reads the file back")

	run, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Import the customers", FileIDs: []string{up.FileID}})
	require.NoError(t, err)

	// The fake's limit is the cloud's 10 MiB; a client allowed more gets 413.
	_, err = c.UploadFile(ctx, "big.bin", newPatternReader("", "x", skyverntest.MaxUploadBytes+1), &skyvern.UploadFileParams{MaxBytes: 2 * skyverntest.MaxUploadBytes})
	var apiErr *skyvern.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.StatusCode)

	code, err := c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "Ops@Example.com", Content: "Your code is 902114. It expires in 10 minutes.", TaskID: run.RunID})
	require.NoError(t, err)
	assert.Equal(t, "902114", code.Code)
	assert.Equal(t, []string{"902114"}, fake.TOTPCodes("ops@example.com"))
	_, err = c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "ops@example.com", Content: "no digits here"})
	assert.ErrorIs(t, err, skyvern.ErrValidation)
	_, err = c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "ops@example.com", Content: "123456", TaskID: "tsk_404"})
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "Invalid task id: tsk_404", apiErr.Detail)

	// GET /v1/version needs no key: a client whose key the server rejects
	// still gets the version, and the server saw no key.
	wrongKey, err := skyvern.NewClient("sk_not_the_fake_key", skyvern.WithBaseURL(fake.URL()), skyvern.WithHTTPClient(fake.Client()))
	require.NoError(t, err)
	v, err := wrongKey.GetVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, skyverntest.ServerVersion, v.Version)
	reqs := fake.Requests()
	last := reqs[len(reqs)-1]
	assert.Equal(t, skyverntest.RouteGetVersion, last.Route)
	assert.Empty(t, last.Header.Values("X-Api-Key"))
}
