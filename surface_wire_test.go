package skyvern_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// workflowRunCreatedJSON is a WorkflowRunResponse as the run-creating block
// routes answer it.
const workflowRunCreatedJSON = `{"run_id":"wr_501","status":"created","output":null,"downloaded_files":null,"recording_url":null,"recording_archived":false,"screenshot_urls":null,"failure_reason":null,"created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:20:42.160725","queued_at":null,"started_at":null,"finished_at":null,"app_url":"https://app.skyvern.com/runs/wr_501","browser_session_id":null,"browser_profile_id":null,"max_screenshot_scrolls":null,"script_run":null,"errors":null,"step_count":null,"run_type":"workflow_run","run_with":"agent","ai_fallback":null,"script_id":null,"browser_seed_source":null,"run_request":{"workflow_id":"wpid_77","parameters":{},"title":"Login"}}`

// surfaceCall is one endpoint of the runs surface: what the SDK must send
// and a realistic answer.
type surfaceCall struct {
	name      string
	method    string
	path      string
	query     string // the raw query, "" for none
	body      string // the JSON body, "" for none
	noAPIKey  bool
	extraHead map[string]string
	answer    string
	call      func(ctx context.Context, c *skyvern.Client) (any, error)
	check     func(t *testing.T, got any)
}

var surfaceCalls = []surfaceCall{
	{
		name: "GetRunTimeline", method: "GET", path: "/v1/runs/wr_501/timeline",
		answer: `[]`,
		call:   func(ctx context.Context, c *skyvern.Client) (any, error) { return c.GetRunTimeline(ctx, "wr_501") },
	},
	{
		name: "GetRunArtifacts", method: "GET", path: "/v1/runs/tsk_1/artifacts", query: "artifact_type=recording&artifact_type=screenshot_final",
		answer: artifactsJSON,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.GetRunArtifacts(ctx, "tsk_1", &skyvern.GetRunArtifactsParams{ArtifactTypes: []skyvern.ArtifactType{skyvern.ArtifactTypeRecording, skyvern.ArtifactTypeScreenshotFinal}})
		},
		check: func(t *testing.T, got any) { assert.Len(t, got.([]*skyvern.Artifact), 2) },
	},
	{
		name: "BulkCancelRuns", method: "POST", path: "/v1/runs/cancel", body: `{"run_ids":["tsk_1","wr_2","tsk_3"]}`,
		answer: `{"cancelled":["wr_2","tsk_1"],"failed":["tsk_3"]}`,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.BulkCancelRuns(ctx, []string{"tsk_1", "wr_2", "tsk_1", "tsk_3"})
		},
		check: func(t *testing.T, got any) {
			res := got.(*skyvern.BulkCancelResult)
			assert.ElementsMatch(t, []string{"tsk_1", "wr_2"}, res.Cancelled)
			assert.Equal(t, []string{"tsk_3"}, res.Failed)
			assert.Empty(t, res.Unreported)
			assert.False(t, res.OK())
		},
	},
	{
		name: "RetryWorkflowRun", method: "POST", path: "/v1/workflows/runs/wr_500/retry",
		extraHead: map[string]string{"x-max-steps-override": "7"},
		answer:    workflowRunCreatedJSON,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.RetryWorkflowRun(ctx, "wr_500", &skyvern.RetryWorkflowRunParams{MaxStepsOverride: skyvern.Ptr(7)})
		},
		check: func(t *testing.T, got any) { assert.Equal(t, "wr_501", got.(*skyvern.Run).RunID) },
	},
	{
		name: "RunLogin", method: "POST", path: "/v1/run/tasks/login",
		body:   `{"url":"https://portal.example.com/login","webhook_url":"https://hooks.example.com/skyvern","totp_identifier":"ops@example.com","credential_type":"skyvern","credential_id":"cred_123","prompt":"Log in and stop at the dashboard"}`,
		answer: workflowRunCreatedJSON,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.RunLogin(ctx, &skyvern.LoginRequest{
				BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com/login", WebhookURL: "https://hooks.example.com/skyvern", TOTPIdentifier: "ops@example.com"},
				CredentialType:   skyvern.CredentialSkyvern, CredentialID: "cred_123", Prompt: "Log in and stop at the dashboard",
			})
		},
		check: func(t *testing.T, got any) { assert.Equal(t, skyvern.RunTypeWorkflowRun, got.(*skyvern.Run).RunType) },
	},
	{
		name: "RunDownloadFiles", method: "POST", path: "/v1/run/tasks/download_files",
		body:   `{"url":"https://portal.example.com","proxy_location":"RESIDENTIAL_GB","navigation_goal":"Download the January invoice","download_suffix":"invoice-2026-01.pdf","download_timeout":120,"max_steps_per_run":15}`,
		answer: workflowRunCreatedJSON,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{
				BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com", ProxyLocation: skyvern.ProxyResidentialGB},
				NavigationGoal:   "Download the January invoice", DownloadSuffix: "invoice-2026-01.pdf",
				DownloadTimeout: skyvern.Ptr(120.0), MaxStepsPerRun: skyvern.Ptr(15),
			})
		},
	},
	{
		name: "GetWorkflowVersions", method: "GET", path: "/v1/workflows/wpid_9/versions",
		answer: `[]`,
		call:   func(ctx context.Context, c *skyvern.Client) (any, error) { return c.GetWorkflowVersions(ctx, "wpid_9") },
	},
	{
		name: "GetWorkflowRuns", method: "GET", path: "/v1/workflows/wpid_9/runs",
		query:  "created_at_end=2026-02-01T00%3A00%3A00Z&created_at_start=2026-01-01T00%3A00%3A00Z&error_code=LOGIN_FAILED&include_child_runs=true&page=2&page_size=5&search_key=acme&status=failed&status=timed_out&tags=env%3Aprod",
		answer: `[` + workflowRunRecordJSON + `]`,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.GetWorkflowRuns(ctx, "wpid_9", &skyvern.GetWorkflowRunsParams{
				Page: 2, PageSize: 5, Status: []skyvern.RunStatus{skyvern.RunStatusFailed, skyvern.RunStatusTimedOut},
				SearchKey: "acme", ErrorCode: "LOGIN_FAILED", Tags: []string{"env:prod"}, IncludeChildRuns: true,
				CreatedAtStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAtEnd: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			})
		},
		check: func(t *testing.T, got any) {
			runs := got.([]*skyvern.WorkflowRun)
			require.Len(t, runs, 1)
			assert.Equal(t, "wr_486305187432193510", runs[0].WorkflowRunID)
			assert.Equal(t, skyvern.RunStatusFailed, runs[0].Status)
			assert.Equal(t, "wr_486305187432193000", runs[0].RetriedFromWorkflowRunID)
			assert.Equal(t, "RESIDENTIAL", runs[0].ProxyLocation.String())
			assert.NotEmpty(t, runs[0].Raw)
		},
	},
	{
		name: "SendTOTPCode", method: "POST", path: "/v1/credentials/totp",
		body:   `{"totp_identifier":"ops@example.com","content":"Your verification code is 481516","workflow_run_id":"wr_501","source":"email"}`,
		answer: `{"totp_identifier":"ops@example.com","task_id":null,"workflow_id":null,"workflow_run_id":"wr_501","source":"email","content":"Your verification code is 481516","expired_at":null,"type":null,"totp_code_id":"totp_1","code":"481516","organization_id":"o_1","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:20:42.160725","otp_type":"totp"}`,
		call: func(ctx context.Context, c *skyvern.Client) (any, error) {
			return c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "ops@example.com", Content: "Your verification code is 481516", WorkflowRunID: "wr_501", Source: "email"})
		},
		check: func(t *testing.T, got any) {
			code := got.(*skyvern.TOTPCode)
			assert.Equal(t, "481516", code.Code)
			assert.Equal(t, skyvern.OTPTypeTOTP, code.OTPType)
		},
	},
	{
		name: "GetVersion", method: "GET", path: "/v1/version", noAPIKey: true,
		answer: `{"version":"07222e7"}`,
		call:   func(ctx context.Context, c *skyvern.Client) (any, error) { return c.GetVersion(ctx) },
		check:  func(t *testing.T, got any) { assert.Equal(t, "07222e7", got.(*skyvern.ServerVersion).Version) },
	},
}

const workflowRunRecordJSON = `{"workflow_run_id":"wr_486305187432193510","workflow_id":"w_1","workflow_permanent_id":"wpid_9","organization_id":"o_1","browser_session_id":null,"browser_profile_id":null,"browser_seed_source":null,"browser_sink_profile_id":null,"start_fresh_browser":false,"reuse_browser_session":null,"debug_session_id":null,"status":"failed","extra_http_headers":null,"cdp_connect_headers":null,"proxy_location":"RESIDENTIAL","webhook_callback_url":"https://hooks.example.com/skyvern","webhook_failure_reason":null,"totp_verification_url":null,"totp_identifier":null,"failure_reason":"Login failed","failure_category":null,"retried_from_workflow_run_id":"wr_486305187432193000","fallback_attempt":null,"parent_workflow_run_id":null,"workflow_title":"Invoices","max_screenshot_scrolls":null,"max_elapsed_time_minutes":null,"browser_address":null,"run_with":"agent","script_run":null,"job_id":null,"depends_on_workflow_run_id":null,"sequential_key":null,"sequential_credential_id":null,"ai_fallback":true,"code_gen":null,"trigger_type":"api","workflow_schedule_id":null,"ignore_inherited_workflow_system_prompt":false,"copilot_session_id":null,"credits_used":3,"cached_credits_used":0,"queued_at":"2026-01-31T15:20:42","started_at":"2026-01-31T15:20:43.5","finished_at":"2026-01-31T15:22:00.000100","created_at":"2026-01-31T15:20:42","modified_at":"2026-01-31T15:22:00.000100"}`

// TestSurfaceWire checks, for every call of the runs surface, the method,
// path, query, headers and body it sends, and that it decodes the answer.
func TestSurfaceWire(t *testing.T) {
	t.Parallel()
	for _, sc := range surfaceCalls {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			var hits atomic.Int32
			mux.HandleFunc(sc.path, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				testMethod(t, r, sc.method)
				assert.Equal(t, sc.query, r.URL.RawQuery, "query")
				if sc.noAPIKey {
					assert.Empty(t, r.Header.Values("X-Api-Key"), "no API key on an unauthenticated route")
				} else {
					testHeader(t, r, "X-Api-Key", testAPIKey)
				}
				assert.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "skyvern-go/"), "User-Agent")
				for k, v := range sc.extraHead {
					testHeader(t, r, k, v)
				}
				if sc.body != "" {
					testHeader(t, r, "Content-Type", "application/json")
					testJSONBody(t, r, sc.body)
				} else {
					b, _ := io.ReadAll(r.Body)
					assert.Empty(t, b, "no body")
				}
				writeJSON(w, http.StatusOK, sc.answer)
			})
			got, err := sc.call(context.Background(), c)
			require.NoError(t, err)
			assert.EqualValues(t, 1, hits.Load())
			if sc.check != nil {
				sc.check(t, got)
			}
		})
	}
}

// TestSurfaceValidatesBeforeSending checks that bad input is refused with
// an *InvalidRequestError before any request is made.
func TestSurfaceValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("nothing should be sent, got %s %s", r.Method, r.URL.Path)
	})
	ctx := context.Background()
	tooMany := make([]string, skyvern.MaxBulkCancelRuns+1)
	for i := range tooMany {
		tooMany[i] = "tsk_" + strings.Repeat("1", i+1)
	}
	cases := map[string]func() error{
		"timeline empty id":  func() error { _, err := c.GetRunTimeline(ctx, " "); return err },
		"artifacts empty id": func() error { _, err := c.GetRunArtifacts(ctx, "", nil); return err },
		"artifacts empty type": func() error {
			_, err := c.GetRunArtifacts(ctx, "tsk_1", &skyvern.GetRunArtifactsParams{ArtifactTypes: []skyvern.ArtifactType{""}})
			return err
		},
		"bulk cancel none":     func() error { _, err := c.BulkCancelRuns(ctx, nil); return err },
		"bulk cancel empty id": func() error { _, err := c.BulkCancelRuns(ctx, []string{"tsk_1", ""}); return err },
		"bulk cancel over 100": func() error { _, err := c.BulkCancelRuns(ctx, tooMany); return err },
		"retry empty id":       func() error { _, err := c.RetryWorkflowRun(ctx, "", nil); return err },
		"retry bad max steps": func() error {
			_, err := c.RetryWorkflowRun(ctx, "wr_1", &skyvern.RetryWorkflowRunParams{MaxStepsOverride: skyvern.Ptr(0)})
			return err
		},
		"login nil":     func() error { _, err := c.RunLogin(ctx, nil); return err },
		"login no type": func() error { _, err := c.RunLogin(ctx, &skyvern.LoginRequest{}); return err },
		"login skyvern no id": func() error {
			_, err := c.RunLogin(ctx, &skyvern.LoginRequest{CredentialType: skyvern.CredentialSkyvern})
			return err
		},
		"login 1password no item": func() error {
			_, err := c.RunLogin(ctx, &skyvern.LoginRequest{CredentialType: skyvern.CredentialOnePassword, OnePasswordVaultID: "v"})
			return err
		},
		"login bad webhook": func() error {
			_, err := c.RunLogin(ctx, &skyvern.LoginRequest{CredentialType: skyvern.CredentialSkyvern, CredentialID: "cred_1", BlockRunSettings: skyvern.BlockRunSettings{WebhookURL: "ftp://x"}})
			return err
		},
		"login fresh and session": func() error {
			_, err := c.RunLogin(ctx, &skyvern.LoginRequest{CredentialType: skyvern.CredentialSkyvern, CredentialID: "cred_1", BlockRunSettings: skyvern.BlockRunSettings{StartFreshBrowser: true, BrowserSessionID: "pbs_1"}})
			return err
		},
		"download no goal": func() error { _, err := c.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{}); return err },
		"download bad timeout": func() error {
			_, err := c.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{NavigationGoal: "g", DownloadTimeout: skyvern.Ptr(-1.0)})
			return err
		},
		"versions empty id": func() error { _, err := c.GetWorkflowVersions(ctx, ""); return err },
		"runs empty id":     func() error { _, err := c.GetWorkflowRuns(ctx, "", nil); return err },
		"runs negative page": func() error {
			_, err := c.GetWorkflowRuns(ctx, "wpid_1", &skyvern.GetWorkflowRunsParams{Page: -1})
			return err
		},
		"runs long search": func() error {
			_, err := c.GetWorkflowRuns(ctx, "wpid_1", &skyvern.GetWorkflowRunsParams{SearchKey: strings.Repeat("a", 501)})
			return err
		},
		"runs 21 tags": func() error {
			_, err := c.GetWorkflowRuns(ctx, "wpid_1", &skyvern.GetWorkflowRunsParams{Tags: make([]string, 21)})
			return err
		},
		"runs end before start": func() error {
			now := time.Now()
			_, err := c.GetWorkflowRuns(ctx, "wpid_1", &skyvern.GetWorkflowRunsParams{CreatedAtStart: now, CreatedAtEnd: now.Add(-time.Hour)})
			return err
		},
		"totp nil":      func() error { _, err := c.SendTOTPCode(ctx, nil); return err },
		"totp no ident": func() error { _, err := c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{Content: "123456"}); return err },
		"totp no content": func() error {
			_, err := c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "a@b.c"})
			return err
		},
		"upload no name": func() error { _, err := c.UploadFile(ctx, "", strings.NewReader("x"), nil); return err },
		"upload newline": func() error { _, err := c.UploadFile(ctx, "a\r\nb.txt", strings.NewReader("x"), nil); return err },
		"upload nil":     func() error { _, err := c.UploadFile(ctx, "a.txt", nil, nil); return err },
		"upload retention": func() error {
			_, err := c.UploadFile(ctx, "a.txt", strings.NewReader("x"), &skyvern.UploadFileParams{RetentionDays: skyvern.Ptr(366)})
			return err
		},
		"download nil artifact": func() error { _, err := c.DownloadArtifact(ctx, nil, io.Discard); return err },
		"download nil file":     func() error { _, err := c.DownloadRunFile(ctx, "tsk_1", nil, io.Discard); return err },
		"download nil run":      func() error { _, err := c.DownloadRecording(ctx, nil, io.Discard); return err },
	}
	for name, fn := range cases {
		err := fn()
		var inv *skyvern.InvalidRequestError
		assert.ErrorAs(t, err, &inv, name)
		assert.ErrorIs(t, err, skyvern.ErrValidation, name)
	}
}

// TestSurfaceRetryClasses holds the retry-class rows of the new calls: the
// run-creating ones (and the other writes) are never resent after an
// ambiguous failure; the reads retry transient failures.
func TestSurfaceRetryClasses(t *testing.T) {
	t.Parallel()
	type target struct {
		path string
		ok   string
		call func(ctx context.Context, c *skyvern.Client) error
	}
	targets := map[string]target{
		"RunLogin": {"/v1/run/tasks/login", workflowRunCreatedJSON, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.RunLogin(ctx, &skyvern.LoginRequest{CredentialType: skyvern.CredentialSkyvern, CredentialID: "cred_1"})
			return err
		}},
		"RunDownloadFiles": {"/v1/run/tasks/download_files", workflowRunCreatedJSON, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{NavigationGoal: "Download the invoice"})
			return err
		}},
		"RetryWorkflowRun": {"/v1/workflows/runs/wr_1/retry", workflowRunCreatedJSON, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.RetryWorkflowRun(ctx, "wr_1", nil)
			return err
		}},
		"BulkCancelRuns": {"/v1/runs/cancel", `{"cancelled":["tsk_1"],"failed":[]}`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.BulkCancelRuns(ctx, []string{"tsk_1"})
			return err
		}},
		"SendTOTPCode": {"/v1/credentials/totp", `{"totp_code_id":"totp_1","code":"123456"}`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.SendTOTPCode(ctx, &skyvern.TOTPCodeRequest{TOTPIdentifier: "a@example.com", Content: "code 123456"})
			return err
		}},
		"UploadFile": {"/v1/upload_file", `{"s3_uri":"s3://b/k","presigned_url":"https://s3.example.com/k","file_id":"file_1","expires_at":null}`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.UploadFile(ctx, "a.txt", strings.NewReader("hello"), nil)
			return err
		}},
		"GetRunTimeline": {"/v1/runs/wr_1/timeline", `[]`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.GetRunTimeline(ctx, "wr_1")
			return err
		}},
		"GetRunArtifacts": {"/v1/runs/wr_1/artifacts", `[]`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.GetRunArtifacts(ctx, "wr_1", nil)
			return err
		}},
		"GetWorkflowVersions": {"/v1/workflows/wpid_1/versions", `[]`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.GetWorkflowVersions(ctx, "wpid_1")
			return err
		}},
		"GetWorkflowRuns": {"/v1/workflows/wpid_1/runs", `[]`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.GetWorkflowRuns(ctx, "wpid_1", nil)
			return err
		}},
		"GetVersion": {"/v1/version", `{"version":"1"}`, func(ctx context.Context, c *skyvern.Client) error {
			_, err := c.GetVersion(ctx)
			return err
		}},
	}
	writes := []string{"RunLogin", "RunDownloadFiles", "RetryWorkflowRun", "BulkCancelRuns", "SendTOTPCode", "UploadFile"}
	reads := []string{"GetRunTimeline", "GetRunArtifacts", "GetWorkflowVersions", "GetWorkflowRuns", "GetVersion"}
	type row struct {
		call         string
		name         string
		steps        func(ok string) []behaviour
		wantAttempts int32
		wantOK       bool
		wantUnknown  bool
	}
	var rows []row
	for _, w := range writes {
		rows = append(rows,
			row{w, "500", func(ok string) []behaviour {
				return []behaviour{status(500, `{"error":"Unexpected error: Boom"}`), status(200, ok)}
			}, 1, false, true},
			row{w, "dropped connection", func(ok string) []behaviour { return []behaviour{dropConnection, status(200, ok)} }, 1, false, true},
			row{w, "attempt timeout", func(ok string) []behaviour { return []behaviour{hang, status(200, ok)} }, 1, false, true},
			row{w, "422 is final", func(string) []behaviour { return []behaviour{status(422, `{"detail":[]}`)} }, 1, false, false},
		)
		if w != "UploadFile" { // an upload answered 429 has had its stream read
			rows = append(rows, row{w, "429 then ok", func(ok string) []behaviour {
				return []behaviour{status(429, `{"detail":"slow down"}`), status(200, ok)}
			}, 2, true, false})
		}
	}
	for _, r := range reads {
		rows = append(rows,
			row{r, "503 then ok", func(ok string) []behaviour { return []behaviour{status(503, ``), status(200, ok)} }, 2, true, false},
			row{r, "dropped then ok", func(ok string) []behaviour { return []behaviour{dropConnection, status(200, ok)} }, 2, true, false},
			row{r, "404 is final", func(string) []behaviour { return []behaviour{status(404, `{"detail":"Run not found wr_1"}`)} }, 1, false, false},
		)
	}
	for _, tc := range rows {
		t.Run(tc.call+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			tg := targets[tc.call]
			// Only the timeout rows need a short attempt timeout; elsewhere
			// it would turn a slow machine into a spurious retry.
			timeout := 30 * time.Second
			if tc.name == "attempt timeout" {
				timeout = 300 * time.Millisecond
			}
			c, mux, _ := setup(t, skyvern.WithRequestTimeout(timeout))
			var attempts atomic.Int32
			mux.HandleFunc(tg.path, sequence(&attempts, tc.steps(tg.ok)...))
			err := tg.call(context.Background(), c)
			assert.Equal(t, tc.wantAttempts, attempts.Load(), "attempts")
			if tc.wantOK {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantUnknown, errors.Is(err, skyvern.ErrOutcomeUnknown), "ErrOutcomeUnknown: %v", err)
			assert.NotContains(t, err.Error(), testAPIKey)
		})
	}
}

// TestBulkCancelReportsUnreportedIDs checks that ids the server left out of
// both lists are named rather than silently dropped.
func TestBulkCancelReportsUnreportedIDs(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/cancel", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"cancelled":["tsk_1"],"failed":[]}`)
	})
	res, err := c.BulkCancelRuns(context.Background(), []string{"tsk_1", "tsk_2"})
	require.NoError(t, err)
	if diff := cmp.Diff([]string{"tsk_2"}, res.Unreported); diff != "" {
		t.Errorf("Unreported (-want +got):\n%s", diff)
	}
	assert.False(t, res.OK())
}
