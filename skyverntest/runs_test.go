package skyverntest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skyvern-go/skyvern"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Key orders from Skyvern's models (BaseRunResponse, TaskRunResponse,
// WorkflowRunResponse, TaskRunRequest, WorkflowRunRequest), written out
// independently of the server's wire structs.
var (
	wantBaseKeys = strings.Fields(`run_id status output downloaded_files recording_url recording_archived
		screenshot_urls failure_reason created_at modified_at queued_at started_at finished_at app_url
		browser_session_id browser_profile_id max_screenshot_scrolls script_run errors step_count`)
	wantTaskKeys        = append(append([]string(nil), wantBaseKeys...), "run_type", "run_request")
	wantWorkflowRunKeys = append(append([]string(nil), wantBaseKeys...),
		"run_type", "attempt", "retry_pending", "next_attempt_at", "attempts",
		"run_with", "ai_fallback", "script_id", "browser_seed_source", "run_request")
	wantTaskRequestKeys = strings.Fields(`prompt url engine title proxy_location data_extraction_schema
		error_code_mapping max_steps webhook_url totp_identifier totp_url browser_session_id browser_profile_id
		start_fresh_browser model extra_http_headers cdp_connect_headers publish_workflow
		include_action_history_in_verification max_screenshot_scrolls browser_address run_with file_ids`)
	wantWorkflowRequestKeys = strings.Fields(`workflow_id parameters title proxy_location webhook_url totp_url
		totp_identifier browser_session_id reuse_browser_session browser_profile_id start_fresh_browser
		max_screenshot_scrolls max_elapsed_time_minutes extra_http_headers cdp_connect_headers browser_address
		ai_fallback run_with browser_type run_metadata file_ids`)
)

func assertKeys(t *testing.T, want []string, raw []byte, what string) {
	t.Helper()
	if diff := cmp.Diff(want, topKeys(t, raw)); diff != "" {
		t.Errorf("%s key order (-want +got):\n%s", what, diff)
	}
}

func TestRunTaskResponseShape(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC)
	s := newTestServer(t, WithClock(func() time.Time { return clock }))
	resp := doRequest(t, s, http.MethodPost, "/v1/run/tasks", `{"prompt":"Find the top post",
		"url":"News.YCombinator.com","webhook_url":"https://Example.com","browser_session_id":"pbs_1",
		"max_screenshot_scrolls":5000,"cdp_connect_headers":{"a":"b"},
		"data_extraction_schema":{"type":"object","z":1.0,"a":1}}`)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	assertKeys(t, wantTaskKeys, resp.body, "TaskRunResponse")
	assertKeys(t, wantTaskRequestKeys, subObject(t, resp.body, "run_request"), "run_request")
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.Equal(t, "DENY", resp.header.Get("X-Frame-Options"))

	m := resp.object(t)
	id := m["run_id"].(string)
	assert.Regexp(t, `^tsk_\d+$`, id)
	assert.Equal(t, "created", m["status"])
	assert.Equal(t, "task_v1", m["run_type"])
	assert.Equal(t, "2026-01-31T15:20:42.160725", m["created_at"])
	assert.Nil(t, m["queued_at"])
	assert.Equal(t, DefaultAppURL+"/runs/"+id, m["app_url"])
	assert.Equal(t, "pbs_1", m["browser_session_id"])
	assert.EqualValues(t, 1000, m["max_screenshot_scrolls"], "clamped to 1000")

	req := m["run_request"].(map[string]any)
	assert.Equal(t, "skyvern-1.0", req["engine"])
	assert.Equal(t, "https://news.ycombinator.com/", req["url"], "normalized like Pydantic's HttpUrl")
	assert.Equal(t, "https://example.com/", req["webhook_url"])
	assert.Equal(t, "RESIDENTIAL", req["proxy_location"])
	assert.Equal(t, false, req["include_action_history_in_verification"])
	assert.Nil(t, req["cdp_connect_headers"], "run_task echoes only some fields")
	assert.Contains(t, string(resp.body), `"data_extraction_schema":{"type":"object","z":1.0,"a":1}`, "order and float form kept")
	// Every key is present even when null.
	assert.Contains(t, string(resp.body), `"output":null,"downloaded_files":null,"recording_url":null,"recording_archived":false`)

	get := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil)
	require.Equal(t, http.StatusOK, get.status)
	assertKeys(t, wantTaskKeys, get.body, "get_run TaskRunResponse")
	g := get.object(t)
	assert.Equal(t, DefaultAppURL+"/tasks/"+id, g["app_url"], "get_run points v1 tasks at /tasks/")
	assert.Nil(t, g["browser_session_id"])
	assert.Nil(t, g["max_screenshot_scrolls"])
	assert.Nil(t, g["run_request"].(map[string]any)["browser_session_id"])
}

func TestRunTypesByEngine(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		engine, runType, idPattern string
	}{
		{"skyvern-1.0", "task_v1", `^tsk_\d+$`},
		{"skyvern-2.0", "task_v2", `^tsk_v2_\d+$`},
		{"skyvern-3.0", "task_v3", `^tsk_\d+$`},
		{"openai-cua", "openai_cua", `^tsk_\d+$`},
		{"anthropic-cua", "anthropic_cua", `^tsk_\d+$`},
		{"ui-tars", "ui_tars", `^tsk_\d+$`},
		{"yutori-navigator", "yutori_navigator", `^tsk_\d+$`},
	}
	for _, tt := range tests {
		resp := doRequest(t, s, http.MethodPost, "/v1/run/tasks", map[string]any{"prompt": "p", "engine": tt.engine})
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		m := resp.object(t)
		assert.Equal(t, tt.runType, m["run_type"], tt.engine)
		assert.Regexp(t, tt.idPattern, m["run_id"], tt.engine)
		get := doRequest(t, s, http.MethodGet, "/v1/runs/"+m["run_id"].(string), nil).object(t)
		assert.Equal(t, tt.engine, get["run_request"].(map[string]any)["engine"])
	}

	// publish_workflow forces task v2 but the echo keeps the engine asked for.
	m := doRequest(t, s, http.MethodPost, "/v1/run/tasks", map[string]any{"prompt": "p", "publish_workflow": true}).object(t)
	assert.Equal(t, "task_v2", m["run_type"])
	assert.Equal(t, "skyvern-1.0", m["run_request"].(map[string]any)["engine"])

	// A task v2 run is also found by the workflow run behind it.
	snap, ok := s.Run(m["run_id"].(string))
	require.True(t, ok)
	assert.Regexp(t, `^wr_\d+$`, snap.WorkflowRunID)
	assert.Equal(t, DefaultAppURL+"/runs/"+snap.WorkflowRunID, m["app_url"])
	byWR := doRequest(t, s, http.MethodGet, "/v1/runs/"+snap.WorkflowRunID, nil).object(t)
	assert.Equal(t, m["run_id"], byWR["run_id"])
	assert.Equal(t, "task_v2", byWR["run_type"])
}

func TestRunWorkflowResponseShape(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	wpid := createWorkflow(t, s, map[string]any{"webhook_callback_url": "https://hooks.example/default"})
	for _, tt := range []struct{ path, idKey string }{{"/v1/run/workflows", "workflow_id"}, {"/v1/run/agents", "agent_id"}} {
		resp := doRequest(t, s, http.MethodPost, tt.path, `{"`+tt.idKey+`":"`+wpid+`","title":"my run",
			"parameters":{"b":1,"a":2.5},"cdp_connect_headers":{"Authorization":"secret"}}`,
			"x-max-steps-override", "7")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		assertKeys(t, wantWorkflowRunKeys, resp.body, "WorkflowRunResponse")
		assertKeys(t, wantWorkflowRequestKeys, subObject(t, resp.body, "run_request"), "workflow run_request")
		m := resp.object(t)
		id := m["run_id"].(string)
		assert.Regexp(t, `^wr_\d+$`, id)
		assert.Equal(t, "workflow_run", m["run_type"])
		assert.Equal(t, "created", m["status"])
		assert.Equal(t, "agent", m["run_with"])
		assert.Equal(t, true, m["ai_fallback"])
		assert.Equal(t, DefaultAppURL+"/runs/"+id, m["app_url"])
		req := m["run_request"].(map[string]any)
		assert.Equal(t, wpid, req["workflow_id"])
		assert.Equal(t, "Invoice Downloader", req["title"], "title replaced by the workflow's")
		assert.Nil(t, req["webhook_url"])
		assert.Equal(t, map[string]any{"Authorization": "***"}, req["cdp_connect_headers"])
		assert.Contains(t, string(resp.body), `"parameters":{"b":1,"a":2.5}`)

		snap, ok := s.Run(id)
		require.True(t, ok)
		assert.Equal(t, "https://hooks.example/default", snap.WebhookURL)
		require.NotNil(t, snap.MaxStepsOverride)
		assert.Equal(t, 7, *snap.MaxStepsOverride)
		assert.Equal(t, wpid, snap.WorkflowPermanentID)

		get := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil)
		assertKeys(t, wantWorkflowRunKeys, get.body, "get_run WorkflowRunResponse")
		greq := get.object(t)["run_request"].(map[string]any)
		assert.Equal(t, "https://hooks.example/default", greq["webhook_url"], "get_run reports the effective webhook")
	}
}

func TestLifecycleUnderControl(t *testing.T) {
	t.Parallel()
	var now time.Time
	base := time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC)
	s := newTestServer(t, WithClock(func() time.Time { return now }))
	now = base
	id := startTask(t, s, map[string]any{"prompt": "p"})

	steps := []struct {
		apply  func() error
		status string
	}{
		{func() error { return s.Advance(id, skyvern.RunStatusQueued) }, "queued"},
		{func() error { return s.Advance(id, skyvern.RunStatusRunning) }, "running"},
		{func() error { return s.Pause(id) }, "paused"},
		{func() error { return s.Advance(id, skyvern.RunStatusRunning) }, "running"},
		{func() error {
			return s.Finish(id, Outcome{Output: json.RawMessage(`{"title":"x","n":2.0}`), StepCount: 4, ScreenshotURLs: []string{"https://s/1.png"}})
		}, "completed"},
	}
	for i, st := range steps {
		now = base.Add(time.Duration(i+1) * time.Second)
		require.NoError(t, st.apply())
		m := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil).object(t)
		assert.Equal(t, st.status, m["status"], "step %d", i)
	}
	get := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil)
	m := get.object(t)
	assert.Equal(t, "2026-01-31T15:20:43", m["queued_at"], "no fraction when microseconds are zero")
	assert.Equal(t, "2026-01-31T15:20:44", m["started_at"])
	assert.Equal(t, "2026-01-31T15:20:47", m["finished_at"])
	assert.EqualValues(t, 4, m["step_count"])
	assert.Equal(t, []any{}, m["errors"])
	assert.Equal(t, []any{"https://s/1.png"}, m["screenshot_urls"])
	assert.Contains(t, string(get.body), `"output":{"title":"x","n":2.0}`)
	for _, k := range []string{"created_at", "modified_at", "queued_at", "started_at", "finished_at"} {
		assert.Regexp(t, naiveTimestamp, m[k], k)
	}

	assert.ErrorIs(t, s.Complete(id, nil), ErrRunFinished)
	assert.ErrorIs(t, s.Advance(id, skyvern.RunStatusRunning), ErrRunFinished)
	assert.ErrorIs(t, s.Complete("tsk_missing", nil), ErrRunNotFound)
	assert.ErrorIs(t, s.Advance("tsk_missing", skyvern.RunStatusQueued), ErrRunNotFound)
	assert.ErrorIs(t, s.Advance(id, "bogus"), ErrInvalidStatus)
	assert.ErrorIs(t, s.Finish(id, Outcome{Status: skyvern.RunStatusRunning}), ErrInvalidStatus)
	assert.Error(t, s.Complete(startTask(t, s, map[string]any{"prompt": "p"}), map[string]any{"f": func() {}}))
}

func TestTerminalOutcomes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		finish func(id string) error
		status string
		reason any
	}{
		{func(id string) error { return s.Fail(id, "boom") }, "failed", "boom"},
		{func(id string) error { return s.Fail(id, "") }, "failed", "Run failed"},
		{func(id string) error { return s.Terminate(id, "stopped") }, "terminated", "stopped"},
		{func(id string) error { return s.TimeOut(id) }, "timed_out", "Run timed out"},
		{func(id string) error { return s.Cancel(id) }, "canceled", nil},
		{func(id string) error { return s.Advance(id, skyvern.RunStatusCompleted) }, "completed", nil},
	}
	for _, tt := range tests {
		id := startTask(t, s, map[string]any{"prompt": "p"})
		require.NoError(t, tt.finish(id))
		m := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil).object(t)
		assert.Equal(t, tt.status, m["status"])
		assert.Equal(t, tt.reason, m["failure_reason"], tt.status)
		snap, err := s.WaitForStatus(waitCtx(t), id)
		require.NoError(t, err)
		assert.Equal(t, skyvern.RunStatus(tt.status), snap.Status)
	}
}

func TestAutoAdvance(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithAutoAdvance(5*time.Millisecond, Completed(map[string]any{"ok": true})))
	rc := newReceiver(t)
	id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url})
	snap, err := s.WaitForStatus(waitCtx(t), id)
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusCompleted, snap.Status)
	assert.JSONEq(t, `{"ok":true}`, string(snap.Output))
	assert.False(t, snap.QueuedAt.IsZero())
	assert.False(t, snap.StartedAt.IsZero())
	wd, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	assert.Empty(t, wd.FailureReason)

	// A run the test moves itself is left alone.
	paused := startTask(t, s, map[string]any{"prompt": "p"})
	require.NoError(t, s.Pause(paused))
	_, err = s.WaitForStatus(waitCtx(t), id, skyvern.RunStatusCompleted)
	require.NoError(t, err)
	other := startTask(t, s, map[string]any{"prompt": "p"})
	_, err = s.WaitForStatus(waitCtx(t), other)
	require.NoError(t, err)
	snap, _ = s.Run(paused)
	assert.Equal(t, skyvern.RunStatusPaused, snap.Status, "auto-advance stopped for the paused run")

	failing := newTestServer(t, WithAutoAdvance(time.Millisecond, Outcome{Status: skyvern.RunStatusFailed, FailureReason: "nope"}))
	fid := startTask(t, failing, map[string]any{"prompt": "p"})
	snap, err = failing.WaitForStatus(waitCtx(t), fid)
	require.NoError(t, err)
	assert.Equal(t, skyvern.RunStatusFailed, snap.Status)
	assert.Equal(t, "nope", snap.FailureReason)
}

func TestWaitForStatusErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	_, err := s.WaitForStatus(waitCtx(t), "tsk_missing")
	assert.ErrorIs(t, err, ErrRunNotFound)

	id := startTask(t, s, map[string]any{"prompt": "p"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.WaitForStatus(ctx, id)
	assert.ErrorIs(t, err, context.Canceled)

	closed := NewServer()
	cid := startTask(t, closed, map[string]any{"prompt": "p"})
	closed.Close()
	_, err = closed.WaitForStatus(waitCtx(t), cid)
	assert.True(t, errors.Is(err, ErrServerClosed))
	closed.Close() // idempotent
}

func TestCancelEndpoint(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())

	// Task v1: canceled, webhook sent inside the request.
	rc := newReceiver(t)
	id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url})
	resp := doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/cancel", nil)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	assert.Equal(t, "null", string(resp.body))
	_, bodies := rc.received()
	require.Len(t, bodies, 1, "delivered before the cancel answered")
	assert.Contains(t, string(bodies[0]), `"status":"canceled"`)

	for _, tt := range []struct {
		prep   func(id string) error
		status int
		body   string
	}{
		{func(string) error { return nil }, 400, `{"detail":"Invalid task status transition to canceled for %s because task is already canceled"}`},
		{s.TimeOut, 500, `{"error":"Unexpected error: TaskAlreadyTimeout"}`},
		{func(id string) error { return s.Complete(id, nil) }, 400, `{"detail":"Invalid task status transition from completed to canceled for %s"}`},
	} {
		tid := id
		if tt.status != 400 || strings.Contains(tt.body, "from completed") {
			tid = startTask(t, s, map[string]any{"prompt": "p"})
			require.NoError(t, tt.prep(tid))
		}
		resp := doRequest(t, s, http.MethodPost, "/v1/runs/"+tid+"/cancel", nil)
		assert.Equal(t, tt.status, resp.status)
		want := tt.body
		if strings.Contains(want, "%s") {
			want = strings.ReplaceAll(want, "%s", tid)
		}
		assert.Equal(t, want, string(resp.body))
	}

	// A failed task webhook makes the cancel a 500, but the run is canceled.
	bad := newReceiver(t, http.StatusBadRequest)
	bid := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": bad.url})
	resp = doRequest(t, s, http.MethodPost, "/v1/runs/"+bid+"/cancel", nil)
	assert.Equal(t, http.StatusInternalServerError, resp.status)
	assert.Equal(t, `{"error":"Unexpected error: FailedToSendWebhook"}`, string(resp.body))
	snap, _ := s.Run(bid)
	assert.Equal(t, skyvern.RunStatusCanceled, snap.Status)

	// A finished workflow run is not changed, but its webhook goes out again.
	wrc := newReceiver(t)
	wpid := createWorkflow(t, s, map[string]any{"webhook_callback_url": wrc.url})
	wr := doRequest(t, s, http.MethodPost, "/v1/run/workflows", map[string]any{"workflow_id": wpid}).object(t)["run_id"].(string)
	require.NoError(t, s.Complete(wr, "done"))
	resp = doRequest(t, s, http.MethodPost, "/v1/runs/"+wr+"/cancel", nil)
	assert.Equal(t, http.StatusOK, resp.status)
	deliveries, err := s.WaitForDeliveries(waitCtx(t), wr, 2)
	require.NoError(t, err)
	assert.Len(t, deliveries, 2)
	snap, _ = s.Run(wr)
	assert.Equal(t, skyvern.RunStatusCompleted, snap.Status)
	_, bodies = wrc.received()
	require.Len(t, bodies, 2)
	assert.Contains(t, string(bodies[1]), `"status":"completed"`)

	assert.Equal(t, `{"detail":"Run not found wr_404"}`, string(doRequest(t, s, http.MethodPost, "/v1/runs/wr_404/cancel", nil).body))
}
