package skyvern_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// Run responses as the server writes them (compact, Python's key order),
// with the values that omitempty fields used to drop: empty lists, empty
// strings, explicit nulls and false.
const (
	serverTaskRun = `{"run_id":"tsk_490441394011816060","status":"completed","output":{"top_post_title":"Antirender"},` +
		`"downloaded_files":[],"recording_url":"","recording_archived":false,"screenshot_urls":[],"failure_reason":"",` +
		`"created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34.993138","queued_at":null,` +
		`"started_at":"2026-01-31T15:20:44.391756","finished_at":"2026-01-31T15:23:34.992815","app_url":"",` +
		`"browser_session_id":"","browser_profile_id":null,"max_screenshot_scrolls":null,"script_run":null,"errors":[],` +
		`"step_count":4,"run_type":"task_v1","run_request":{"engine":"skyvern-1.0","prompt":"Get the top post","url":null}}`
	serverWorkflowRun = `{"run_id":"wr_490440779503358000","status":"failed","output":null,"downloaded_files":null,` +
		`"recording_url":null,"recording_archived":false,"screenshot_urls":null,"failure_reason":"",` +
		`"created_at":"2026-01-31T15:20:42","modified_at":"2026-01-31T15:23:34","queued_at":null,"started_at":null,` +
		`"finished_at":null,"app_url":"https://app.skyvern.com/runs/wr_490440779503358000","browser_session_id":null,` +
		`"browser_profile_id":null,"max_screenshot_scrolls":null,"script_run":{"ai_fallback_triggered":false,` +
		`"script_id":null,"script_revision_id":null},"errors":[],"step_count":null,"run_type":"workflow_run",` +
		`"run_with":"","ai_fallback":null,"script_id":null,"browser_seed_source":null,` +
		`"run_request":{"workflow_id":"wpid_490440779503357998","parameters":{},"title":"Invoices"},"a_newer_field":[1,2]}`
	serverReplay = `{"run_id":"tsk_v2_1","run_type":"task_v2","default_webhook_url":"","target_webhook_url":null,` +
		`"payload":"{\"run_id\":\"tsk_v2_1\",\"status\":\"completed\"}","headers":{"x-skyvern-signature":"abc"},` +
		`"status_code":null,"latency_ms":null,"response_body":"","error":""}`
)

func TestRunReEncodesWithoutLoss(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	for _, body := range []string{serverTaskRun, serverWorkflowRun} {
		var probe struct {
			RunID string `json:"run_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &probe))
		mux.HandleFunc("/v1/runs/"+probe.RunID, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, body) })

		// Through the client (which decodes without copying the body)
		// and through encoding/json.
		fromClient, err := c.GetRun(context.Background(), probe.RunID)
		require.NoError(t, err)
		var fromJSON skyvern.Run
		require.NoError(t, json.Unmarshal([]byte(body), &fromJSON))
		for _, run := range []*skyvern.Run{fromClient, &fromJSON} {
			got, err := json.Marshal(run)
			require.NoError(t, err)
			assert.Equal(t, body, string(got), "a value (not only the pointer) re-encodes")
			got, err = json.Marshal(*run)
			require.NoError(t, err)
			assert.Equal(t, body, string(got))
		}
	}
}

func TestRunEditReplacesOnlyChangedKeys(t *testing.T) {
	t.Parallel()
	var run skyvern.Run
	require.NoError(t, json.Unmarshal([]byte(serverTaskRun), &run))
	run.FailureReason = "blocked by a captcha"
	run.ScreenshotURLs = []string{"https://example.com/final.png"}
	run.Output = nil // cleared: the key goes
	got, err := json.Marshal(run)
	require.NoError(t, err)

	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(serverTaskRun), &want))
	want["failure_reason"] = "blocked by a captcha"
	want["screenshot_urls"] = []any{"https://example.com/final.png"}
	delete(want, "output")
	var gotMap map[string]any
	require.NoError(t, json.Unmarshal(got, &gotMap))
	if diff := cmp.Diff(want, gotMap); diff != "" {
		t.Errorf("re-encoded run (-want +got):\n%s", diff)
	}
}

func TestWebhookReplayReEncodesWithoutLoss(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_v2_1/retry_webhook", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, serverReplay)
	})
	replay, err := c.RetryRunWebhook(context.Background(), "tsk_v2_1", nil)
	require.NoError(t, err)
	got, err := json.Marshal(replay)
	require.NoError(t, err)
	assert.Equal(t, serverReplay, string(got))

	// A replay built in Go (an empty answer) encodes from its fields.
	built, err := json.Marshal(skyvern.WebhookReplay{RunID: "tsk_1", RunType: skyvern.RunTypeTaskV1})
	require.NoError(t, err)
	assert.JSONEq(t, `{"run_id":"tsk_1","run_type":"task_v1","payload":"","headers":null}`, string(built))
}

func TestRunDecodeOutputWithoutOutputIsErrNoOutput(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"null":   serverWorkflowRun,
		"absent": `{"run_id":"tsk_1","status":"failed","run_type":"task_v1","created_at":null,"modified_at":null}`,
	} {
		var run skyvern.Run
		require.NoError(t, json.Unmarshal([]byte(body), &run), name)
		out := map[string]any{"untouched": true}
		assert.ErrorIs(t, run.DecodeOutput(&out), skyvern.ErrNoOutput, name)
		assert.Equal(t, map[string]any{"untouched": true}, out, name)
	}
	var run skyvern.Run
	require.NoError(t, json.Unmarshal([]byte(serverTaskRun), &run))
	var out struct {
		TopPostTitle string `json:"top_post_title"`
	}
	require.NoError(t, run.DecodeOutput(&out))
	assert.Equal(t, "Antirender", out.TopPostTitle)
	var wrong []int
	err := run.DecodeOutput(&wrong)
	require.Error(t, err)
	assert.NotErrorIs(t, err, skyvern.ErrNoOutput)
}

func TestRunsComparableWithCmp(t *testing.T) {
	t.Parallel()
	decode := func(body string) skyvern.Run {
		var run skyvern.Run
		require.NoError(t, json.Unmarshal([]byte(body), &run))
		return run
	}
	a, b := decode(serverWorkflowRun), decode(serverWorkflowRun)
	assert.Empty(t, cmp.Diff(a, b))
	assert.Empty(t, cmp.Diff(&a, &b))
	assert.Empty(t, cmp.Diff([]skyvern.Run{a}, []skyvern.Run{b}))

	b.Status = skyvern.RunStatusCompleted
	assert.NotEmpty(t, cmp.Diff(a, b))
	// A key the Run has no field for counts too.
	c := decode(serverWorkflowRun[:len(serverWorkflowRun)-len(`,"a_newer_field":[1,2]}`)] + `}`)
	assert.NotEmpty(t, cmp.Diff(a, c))
	// Key order and spacing do not.
	d := decode(`{"status":"failed",  "run_id":"tsk_1","run_type":"task_v1","created_at":null,"modified_at":null}`)
	e := decode(`{"run_id":"tsk_1","status":"failed","run_type":"task_v1","created_at":null,"modified_at":null}`)
	assert.Empty(t, cmp.Diff(d, e))

	r1, r2 := skyvern.WebhookReplay{}, skyvern.WebhookReplay{}
	require.NoError(t, json.Unmarshal([]byte(serverReplay), &r1))
	require.NoError(t, json.Unmarshal([]byte(serverReplay), &r2))
	assert.Empty(t, cmp.Diff(r1, r2))
	r2.Error = "timeout"
	assert.NotEmpty(t, cmp.Diff(r1, r2))
}

// BenchmarkRunDecode decodes a run as GetRun and WaitForRun do, keeping its
// JSON; compare with BenchmarkRunDecodeBaseline, which decodes the same
// fields and keeps nothing.
func BenchmarkRunDecode(b *testing.B) {
	body := []byte(serverWorkflowRun)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var run skyvern.Run
		if err := json.Unmarshal(body, &run); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunDecodeBaseline(b *testing.B) {
	type methodless skyvern.Run
	body := []byte(serverWorkflowRun)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var run methodless
		if err := json.Unmarshal(body, &run); err != nil {
			b.Fatal(err)
		}
	}
}
