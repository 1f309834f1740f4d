package skyvern_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

const testAPIKey = "sk_test_client_key_0123456789"

// baseURLPath is a prefix under which the test server mounts the API, so a
// request built with an absolute path (ignoring the base URL) fails loudly.
const baseURLPath = "/api-prefix"

// taskRunJSON is a task run as Skyvern serializes it: compact, nulls
// included, naive timestamps.
const taskRunJSON = `{"run_id":"tsk_490440844256003946","status":"completed","output":{"top_post_title":"Antirender","points":412},"downloaded_files":[{"url":"https://files.example.com/a.pdf","checksum":"abc","filename":"a.pdf","file_size":1024,"modified_at":"2026-01-31T15:23:30","artifact_id":null}],"recording_url":"https://artifacts.example.com/recording.webm","recording_archived":false,"screenshot_urls":["https://artifacts.example.com/s2.png","https://artifacts.example.com/s1.png"],"failure_reason":null,"created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34.993138","queued_at":"2026-01-31T15:20:42.371545","started_at":"2026-01-31T15:20:44","finished_at":"2026-01-31T15:23:34.992815","app_url":"https://app.skyvern.com/tasks/tsk_490440844256003946","browser_session_id":null,"browser_profile_id":null,"max_screenshot_scrolls":null,"script_run":null,"errors":[],"step_count":4,"run_type":"task_v1","run_request":{"engine":"skyvern-1.0","prompt":"Get the top post","url":"https://news.ycombinator.com/","webhook_url":"https://hooks.example.com/skyvern","totp_identifier":null,"totp_url":null,"proxy_location":"RESIDENTIAL","max_steps":10,"data_extraction_schema":null,"error_code_mapping":null,"browser_session_id":null,"start_fresh_browser":false,"max_screenshot_scrolls":null}}`

const workflowRunJSON = `{"run_id":"wr_486305187432193510","status":"running","output":null,"downloaded_files":null,"recording_url":null,"recording_archived":false,"screenshot_urls":null,"failure_reason":null,"created_at":"2026-01-20T12:00:00","modified_at":"2026-01-20T12:05:00.000100","queued_at":null,"started_at":null,"finished_at":null,"app_url":"https://app.skyvern.com/runs/wr_486305187432193510","browser_session_id":null,"browser_profile_id":null,"max_screenshot_scrolls":null,"script_run":{"ai_fallback_triggered":true,"script_id":"s_1","script_revision_id":null},"errors":null,"step_count":null,"run_type":"workflow_run","run_with":"agent","ai_fallback":true,"script_id":null,"browser_seed_source":"fresh","run_request":{"workflow_id":"wpid_123","parameters":{"invoice_month":"2026-01"},"title":"Invoice Downloader","proxy_location":{"country":"US","subdivision":"CA","city":null},"webhook_url":null}}`

func TestNewClientValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		key  string
		opts []skyvern.Option
	}{
		{"empty key", "", nil},
		{"blank key", "   ", nil},
		{"negative retries", "k", []skyvern.Option{skyvern.WithMaxRetries(-1)}},
		{"relative base URL", "k", []skyvern.Option{skyvern.WithBaseURL("api.skyvern.com")}},
		{"ftp base URL", "k", []skyvern.Option{skyvern.WithBaseURL("ftp://api.skyvern.com")}},
		{"credentials in base URL", "k", []skyvern.Option{skyvern.WithBaseURL("https://u:p@api.skyvern.com")}},
		{"negative timeout", "k", []skyvern.Option{skyvern.WithRequestTimeout(-time.Second)}},
		{"inverted retry wait", "k", []skyvern.Option{skyvern.WithRetryWait(time.Second, time.Millisecond)}},
		{"negative retry wait", "k", []skyvern.Option{skyvern.WithRetryWait(-time.Second, time.Second)}},
		{"negative retry-after cap", "k", []skyvern.Option{skyvern.WithMaxRetryAfter(-time.Second)}},
		{"negative response limit", "k", []skyvern.Option{skyvern.WithMaxResponseBytes(-1)}},
		{"control character in user agent", "k", []skyvern.Option{skyvern.WithUserAgent("app\r\nX-Evil: 1")}},
		{"control character in key", "k\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := skyvern.NewClient(tc.key, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, c)
			if tc.key != "" && strings.TrimSpace(tc.key) != "" {
				assert.NotContains(t, err.Error(), "p@")
			}
		})
	}
	c, err := skyvern.NewClient("k", skyvern.WithMaxRetries(0), nil)
	require.NoError(t, err)
	require.NotNil(t, c)
}

func TestRunTaskRequestShape(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithUserAgent("acme/2.0"))
	mux.HandleFunc("/v1/run/tasks", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testHeader(t, r, "x-api-key", testAPIKey)
		testHeader(t, r, "Content-Type", "application/json")
		testHeader(t, r, "Accept", "application/json")
		testHeader(t, r, "User-Agent", "skyvern-go/"+skyvern.Version+" acme/2.0")
		testHeader(t, r, "x-user-agent", "my-scheduler")
		testHeader(t, r, "X-Trace", "abc")
		assert.Empty(t, r.Header.Get("Idempotency-Key"))
		testJSONBody(t, r, `{
			"prompt": "Get the price of this product <b>",
			"url": "https://example.com/product/123",
			"engine": "skyvern-2.0",
			"proxy_location": "NONE",
			"data_extraction_schema": {"type": "object"},
			"max_steps": 0,
			"webhook_url": "https://your-server.com/webhook",
			"extra_http_headers": {"Accept-Language": "en"},
			"include_action_history_in_verification": false
		}`)
		writeJSON(w, 200, taskRunJSON)
	})
	run, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{
		Prompt:                             "Get the price of this product <b>",
		URL:                                "https://example.com/product/123",
		Engine:                             skyvern.RunEngineSkyvernV2,
		ProxyLocation:                      skyvern.NewProxy(skyvern.ProxyNone),
		DataExtractionSchema:               map[string]any{"type": "object"},
		MaxSteps:                           skyvern.Ptr(0),
		WebhookURL:                         "https://your-server.com/webhook",
		ExtraHTTPHeaders:                   map[string]string{"Accept-Language": "en"},
		IncludeActionHistoryInVerification: skyvern.Ptr(false),
		XUserAgent:                         "my-scheduler",
	}, skyvern.WithHeader("X-Trace", "abc"))
	require.NoError(t, err)
	assert.Equal(t, "tsk_490440844256003946", run.RunID)
}

func TestRunTaskMinimalBodyOmitsUnsetFields(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/run/tasks", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, `{"prompt":"Find the top 3 posts on Hacker News."}`, string(body))
		writeJSON(w, 200, taskRunJSON)
	})
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "Find the top 3 posts on Hacker News."})
	require.NoError(t, err)
}

func TestRunTaskClientSideValidation(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/run/tasks", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	cases := []struct {
		name  string
		req   *skyvern.TaskRunRequest
		field string
	}{
		{"nil", nil, "request"},
		{"no prompt", &skyvern.TaskRunRequest{URL: "https://example.com"}, "prompt"},
		{"relative webhook", &skyvern.TaskRunRequest{Prompt: "p", WebhookURL: "/hook"}, "webhook_url"},
		{"ftp webhook", &skyvern.TaskRunRequest{Prompt: "p", WebhookURL: "ftp://example.com/hook"}, "webhook_url"},
		{"schemeless totp", &skyvern.TaskRunRequest{Prompt: "p", TOTPURL: "example.com/totp"}, "totp_url"},
	}
	for _, tc := range cases {
		_, err := c.RunTask(context.Background(), tc.req)
		var invalid *skyvern.InvalidRequestError
		require.ErrorAs(t, err, &invalid, tc.name)
		assert.Equal(t, tc.field, invalid.Field, tc.name)
		assert.ErrorIs(t, err, skyvern.ErrValidation, tc.name)
	}
	assert.Zero(t, hits.Load(), "nothing may be sent for an invalid request")
}

func TestGetRunDecodesTaskRun(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_490440844256003946", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodGet)
		testHeader(t, r, "x-api-key", testAPIKey)
		assert.Empty(t, r.Header.Get("Content-Type"), "a GET has no body")
		writeJSON(w, 200, taskRunJSON)
	})
	run, err := c.GetRun(context.Background(), "tsk_490440844256003946")
	require.NoError(t, err)

	assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
	assert.Equal(t, skyvern.RunTypeTaskV1, run.RunType)
	assert.True(t, run.IsTerminal())
	assert.Equal(t, time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC), run.CreatedAt.Time)
	require.NotNil(t, run.StartedAt)
	assert.Equal(t, time.Date(2026, 1, 31, 15, 20, 44, 0, time.UTC), run.StartedAt.Time)
	require.Len(t, run.DownloadedFiles, 1)
	assert.Equal(t, int64(1024), *run.DownloadedFiles[0].FileSize)
	assert.Nil(t, run.DownloadedFiles[0].ArtifactID)
	assert.Equal(t, []string{"https://artifacts.example.com/s2.png", "https://artifacts.example.com/s1.png"}, run.ScreenshotURLs)
	assert.Equal(t, 4, *run.StepCount)
	assert.Nil(t, run.MaxScreenshotScrolls)
	assert.JSONEq(t, taskRunJSON, string(run.Raw))

	var out struct {
		TopPostTitle string `json:"top_post_title"`
		Points       int    `json:"points"`
	}
	require.NoError(t, run.DecodeOutput(&out))
	assert.Equal(t, "Antirender", out.TopPostTitle)
	assert.Equal(t, 412, out.Points)

	var echoed skyvern.TaskRunRequest
	require.NoError(t, run.DecodeRunRequest(&echoed))
	assert.Equal(t, "https://hooks.example.com/skyvern", echoed.WebhookURL)
	assert.Equal(t, skyvern.ProxyResidential, echoed.ProxyLocation.Location)
	assert.Equal(t, 10, *echoed.MaxSteps)
}

func TestGetRunDecodesWorkflowRun(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/wr_486305187432193510", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, workflowRunJSON)
	})
	run, err := c.GetRun(context.Background(), "wr_486305187432193510")
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunTypeWorkflowRun, run.RunType)
	assert.True(t, run.RunType.IsWorkflow())
	assert.False(t, run.HasOutput())
	assert.Error(t, run.DecodeOutput(&map[string]any{}))
	assert.Equal(t, "agent", run.RunWith)
	assert.Equal(t, "fresh", run.BrowserSeedSource)
	require.NotNil(t, run.AIFallback)
	assert.True(t, *run.AIFallback)
	require.NotNil(t, run.ScriptRun)
	assert.True(t, run.ScriptRun.AIFallbackTriggered)
	assert.Equal(t, 100*time.Microsecond, run.ModifiedAt.Sub(time.Date(2026, 1, 20, 12, 5, 0, 0, time.UTC)))

	var req struct {
		WorkflowID    string         `json:"workflow_id"`
		Parameters    map[string]any `json:"parameters"`
		ProxyLocation *skyvern.Proxy `json:"proxy_location"`
	}
	require.NoError(t, run.DecodeRunRequest(&req))
	assert.Equal(t, "wpid_123", req.WorkflowID)
	require.NotNil(t, req.ProxyLocation.Geo)
	assert.Equal(t, "CA", *req.ProxyLocation.Geo.Subdivision)
}

func TestGetRunUnknownRunTypeAndStatus(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_9", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"run_id":"tsk_9","status":"hibernating","run_type":"task_v9","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00","brand_new_field":{"x":1}}`)
	})
	run, err := c.GetRun(context.Background(), "tsk_9")
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunType("task_v9"), run.RunType)
	assert.Equal(t, skyvern.RunStatus("hibernating"), run.Status)
	assert.False(t, run.IsTerminal(), "an unknown status must not end a wait")
	assert.Contains(t, string(run.Raw), "brand_new_field")
}

func TestGetRunEscapesPathAndRejectsEmptyID(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "a/b?c #", r.PathValue("id"))
		assert.Equal(t, "/v1/runs/a%2Fb%3Fc%20%23", r.URL.RawPath)
		writeJSON(w, 200, `{"run_id":"x","status":"queued","run_type":"task_v1","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00"}`)
	})
	_, err := c.GetRun(context.Background(), "a/b?c #")
	require.NoError(t, err)

	_, err = c.GetRun(context.Background(), "")
	assert.ErrorIs(t, err, skyvern.ErrValidation)
}

func TestGetRunMalformedBodies(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not json":        `<html>ok</html>`,
		"truncated":       `{"run_id":"tsk_1","status":`,
		"no run_id":       `{"status":"completed"}`,
		"bad timestamp":   `{"run_id":"tsk_1","status":"queued","created_at":"yesterday"}`,
		"status not text": `{"run_id":"tsk_1","status":7}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, body) })
			_, err := c.GetRun(context.Background(), "tsk_1")
			assert.ErrorIs(t, err, skyvern.ErrMalformedResponse)
		})
	}
}

func TestResponseSizeLimit(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxResponseBytes(1024))
	big := `{"run_id":"tsk_1","status":"completed","output":"` + strings.Repeat("x", 4096) + `"}`
	mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, big) })
	mux.HandleFunc("/v1/runs/tsk_2", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.(http.Flusher).Flush() // chunked: no Content-Length
		_, _ = io.WriteString(w, big)
	})
	for _, id := range []string{"tsk_1", "tsk_2"} {
		_, err := c.GetRun(context.Background(), id)
		assert.ErrorIs(t, err, skyvern.ErrResponseTooLarge, id)
	}
}

// The cancel route declares no body: the official client sends none, and a
// validating proxy refuses a JSON null with 415.
func TestCancelRunSendsNoBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/wr_1/cancel", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		assert.Empty(t, r.Header.Values("Content-Type"))
		body, _ := io.ReadAll(r.Body)
		assert.Empty(t, string(body))
		assert.Contains(t, []int64{0, -1}, r.ContentLength)
		writeJSON(w, 200, "null")
	})
	require.NoError(t, c.CancelRun(context.Background(), "wr_1"))
}

func TestRetryRunWebhook(t *testing.T) {
	t.Parallel()
	const replayJSON = `{"run_id":"tsk_v2_1","run_type":"task_v2","default_webhook_url":"https://a.example.com/hook","target_webhook_url":"https://b.example.com/hook","payload":"{\"run_id\":\"tsk_v2_1\",\"status\":\"completed\"}","headers":{"x-skyvern-timestamp":"1769873016","x-skyvern-signature":"abc","Content-Type":"application/json"},"status_code":200,"latency_ms":87,"response_body":"ok","error":null}`
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_v2_1/retry_webhook", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testJSONBody(t, r, `{"webhook_url":"https://b.example.com/hook"}`)
		writeJSON(w, 200, replayJSON)
	})
	mux.HandleFunc("/v1/runs/tsk_v2_2/retry_webhook", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Empty(t, body, "a nil request sends no body")
		assert.Empty(t, r.Header.Get("Content-Type"))
		w.WriteHeader(200) // an empty answer, as the docs' fire-and-forget description allows
	})
	mux.HandleFunc("/v1/runs/tsk_v2_3/retry_webhook", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, "null")
	})

	replay, err := c.RetryRunWebhook(context.Background(), "tsk_v2_1", &skyvern.RetryRunWebhookRequest{WebhookURL: "https://b.example.com/hook"})
	require.NoError(t, err)
	assert.True(t, replay.Delivered())
	assert.Equal(t, "https://b.example.com/hook", replay.TargetWebhookURL)
	assert.Equal(t, int64(87), *replay.LatencyMS)
	assert.Equal(t, "abc", replay.Headers["x-skyvern-signature"])
	assert.JSONEq(t, `{"run_id":"tsk_v2_1","status":"completed"}`, replay.Payload)

	for _, id := range []string{"tsk_v2_2", "tsk_v2_3"} {
		replay, err = c.RetryRunWebhook(context.Background(), id, nil)
		require.NoError(t, err, id)
		assert.Equal(t, id, replay.RunID)
		assert.False(t, replay.Delivered())
	}

	_, err = c.RetryRunWebhook(context.Background(), "tsk_v2_1", &skyvern.RetryRunWebhookRequest{WebhookURL: "not a url"})
	assert.ErrorIs(t, err, skyvern.ErrValidation)
}

func TestAPIKeyNeverInErrors(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) {
		// A misbehaving proxy that echoes the request headers.
		writeJSON(w, 403, `{"detail":"Invalid credentials for key `+r.Header.Get("x-api-key")+`"}`)
	})
	_, err := c.GetRun(context.Background(), "tsk_1")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testAPIKey)
	var apiErr *skyvern.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.False(t, bytes.Contains(apiErr.Body, []byte(testAPIKey)))
	assert.Contains(t, apiErr.Detail, "[REDACTED]")
}
