package skyverntest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skyvern-go/skyvern"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hmacHex(body []byte, key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestWebhookDeliveredAndSigned(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 31, 15, 23, 36, 0, time.UTC)
	s := newTestServer(t, WithAPIKey("sk_signing"), WithClock(func() time.Time { return clock }))
	rc := newReceiver(t)
	id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url})
	require.NoError(t, s.Complete(id, map[string]any{"price": 29.0, "name": "Café <b>&</b>"}))
	wd, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	require.Len(t, wd.Attempts, 1)
	assert.Empty(t, wd.FailureReason)
	assert.Equal(t, rc.url, wd.URL)

	headers, bodies := rc.received()
	require.Len(t, bodies, 1)
	h, body := headers[0], bodies[0]
	assert.True(t, hmac.Equal([]byte(hmacHex(body, "sk_signing")), []byte(h.Get("x-skyvern-signature"))), "HMAC of the received bytes")
	assert.Equal(t, "1769873016", h.Get("x-skyvern-timestamp"))
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	assert.Equal(t, "python-httpx/0.28.1", h.Get("User-Agent"))
	assert.Contains(t, string(body), `"output":{"name":"Café <b>&</b>","price":29}`, "raw UTF-8, no HTML escaping, whole float as int")
	assert.Equal(t, body, wd.Attempts[0].Body)
	assert.Equal(t, h.Get("x-skyvern-signature"), wd.Attempts[0].Header.Get("x-skyvern-signature"))
	assert.Equal(t, http.StatusOK, wd.Attempts[0].StatusCode)
	assert.Equal(t, clock, wd.Attempts[0].Time)
}

func TestWebhookURLChoice(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	def, override := newReceiver(t), newReceiver(t)
	wpid := createWorkflow(t, s, map[string]any{"webhook_callback_url": def.url})

	runWith := func(body string) string {
		resp := doRequest(t, s, http.MethodPost, "/v1/run/agents", body)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		id := resp.object(t)["run_id"].(string)
		require.NoError(t, s.Complete(id, nil))
		_, err := s.WaitForDelivery(waitCtx(t), id)
		require.NoError(t, err)
		return id
	}
	runWith(`{"agent_id":"` + wpid + `"}`)
	runWith(`{"agent_id":"` + wpid + `","webhook_url":"` + override.url + `"}`)
	_, defBodies := def.received()
	_, overBodies := override.received()
	assert.Len(t, defBodies, 1, "the workflow's webhook_callback_url is the default")
	assert.Len(t, overBodies, 1, "a run's webhook_url wins")

	// No URL anywhere: nothing is sent.
	plain := createWorkflow(t, s, nil)
	resp := doRequest(t, s, http.MethodPost, "/v1/run/agents", `{"agent_id":"`+plain+`"}`)
	id := resp.object(t)["run_id"].(string)
	require.NoError(t, s.Complete(id, nil))
	assert.Empty(t, mustSnapshot(t, s, id).WebhookURL)
	for _, wd := range s.Webhooks() {
		assert.NotEqual(t, id, wd.RunID)
	}
}

// Payload key order: the legacy object's keys, then the run response's
// new keys, appended (dict.update).
func TestWebhookPayloadShapes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	rc := newReceiver(t)
	wpid := createWorkflow(t, s, map[string]any{"webhook_callback_url": rc.url})

	v1 := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url, "browser_session_id": "pbs_1"})
	v2 := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url, "engine": "skyvern-2.0"})
	wr := doRequest(t, s, http.MethodPost, "/v1/run/workflows", `{"workflow_id":"`+wpid+`","parameters":{"x":1}}`).object(t)["run_id"].(string)

	want := map[string][]string{
		v1: strings.Fields(`task_id status created_at modified_at extracted_information action_screenshot_urls
			screenshot_url recording_url recording_archived browser_console_log_url downloaded_files
			downloaded_file_urls failure_reason failure_category webhook_failure_reason errors max_steps_per_run
			workflow_run_id queued_at started_at finished_at max_screenshot_scrolls step_count browser_session_id
			run_id output screenshot_urls app_url browser_profile_id script_run run_type`),
		v2: strings.Fields(`task_id status organization_id workflow_run_id workflow_id workflow_permanent_id prompt
			url summary output totp_verification_url totp_identifier proxy_location webhook_callback_url
			webhook_failure_reason extracted_information_schema error_code_mapping workflow_system_prompt model
			queued_at started_at finished_at max_screenshot_scrolling_times extra_http_headers cdp_connect_headers
			browser_address run_with failure_category created_at modified_at run_id downloaded_files recording_url
			recording_archived screenshot_urls failure_reason app_url browser_session_id browser_profile_id
			max_screenshot_scrolls script_run errors step_count run_type`),
		wr: strings.Fields(`workflow_id workflow_run_id status failure_reason failure_category
			retried_from_workflow_run_id retried_by_workflow_run_id proxy_location webhook_callback_url
			webhook_failure_reason totp_verification_url totp_identifier extra_http_headers cdp_connect_headers
			queued_at started_at finished_at created_at modified_at parameters screenshot_urls recording_url
			recording_urls recording_archived downloaded_files downloaded_file_urls outputs total_steps total_cost
			credits_used cached_credits_used task_v2 workflow_title browser_session_id browser_profile_id
			browser_seed_source browser_sink_profile_id max_screenshot_scrolls browser_address run_with script_run
			script_id errors agent_id agent_run_id run_id output app_url step_count run_type attempt retry_pending
			next_attempt_at attempts ai_fallback run_request`),
	}
	for id, keys := range want {
		require.NoError(t, s.Complete(id, map[string]any{"n": 1}))
		wd, err := s.WaitForDelivery(waitCtx(t), id)
		require.NoError(t, err)
		body := wd.Attempts[0].Body
		if diff := cmp.Diff(keys, topKeys(t, body)); diff != "" {
			t.Errorf("%s payload keys (-want +got):\n%s", id, diff)
		}
		m := mustDecode(t, body)
		assert.Equal(t, id, m["run_id"])
		assert.Equal(t, "completed", m["status"])
		assert.Nil(t, m["webhook_failure_reason"], "null before the first delivery")
	}
	v1m := mustDecode(t, webhookBody(t, s, v1))
	assert.Nil(t, v1m["browser_session_id"], "overwritten by the run response")
	assert.Equal(t, DefaultAppURL+"/tasks/"+v1, v1m["app_url"])
	wrm := mustDecode(t, webhookBody(t, s, wr))
	assert.Equal(t, wpid, wrm["workflow_id"])
	assert.Equal(t, "agent", wrm["run_with"])
	assertKeys(t, strings.Fields(`workflow_id parameters title proxy_location webhook_url totp_url totp_identifier
		browser_session_id reuse_browser_session browser_profile_id start_fresh_browser max_screenshot_scrolls
		max_elapsed_time_minutes extra_http_headers cdp_connect_headers browser_address ai_fallback run_with
		browser_type run_metadata file_ids`), subObject(t, webhookBody(t, s, wr), "run_request"), "webhook run_request")
	v2m := mustDecode(t, webhookBody(t, s, v2))
	assert.Equal(t, s.OrganizationID(), v2m["organization_id"])
	assert.Regexp(t, `^wr_\d+$`, v2m["workflow_run_id"])
}

func webhookBody(t *testing.T, s *Server, runID string) []byte {
	t.Helper()
	wd, err := s.WaitForDelivery(waitCtx(t), runID)
	require.NoError(t, err)
	return wd.Attempts[0].Body
}

func mustDecode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	return response{body: raw}.object(t)
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		statuses   []int
		retryAfter string
		attempts   int
		delays     []time.Duration
		reason     string
	}{
		{"503 twice then 200", []int{503, 503, 200}, "", 3, []time.Duration{time.Second, 2 * time.Second, 0}, ""},
		{"400 is final", []int{400}, "", 1, []time.Duration{0}, "Webhook failed with status code 400, error message: status Bad Request"},
		{"retryable statuses", []int{403, 429, 425}, "", 3, []time.Duration{time.Second, 2 * time.Second, 0},
			"Webhook failed with status code 425, error message: status Too Early"},
		{"Retry-After seconds", []int{429, 200}, "7", 2, []time.Duration{7 * time.Second, 0}, ""},
		{"Retry-After capped", []int{503, 503, 503}, "100", 3, []time.Duration{30 * time.Second, 30 * time.Second, 0},
			"Webhook failed with status code 503, error message: status Service Unavailable"},
		{"Retry-After date", []int{408, 200}, "Sat, 31 Jan 2026 15:23:46 GMT", 2, []time.Duration{10 * time.Second, 0}, ""},
		{"redirect not followed", []int{307}, "", 1, []time.Duration{0}, "Webhook failed with status code 307, error message: status Temporary Redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := time.Date(2026, 1, 31, 15, 23, 36, 0, time.UTC)
			s := newTestServer(t, fastDelivery(), WithClock(func() time.Time { return clock }),
				WithDeliveryBackoff(func(n int) time.Duration { return time.Duration(n+1) * time.Second }))
			rc := newReceiver(t, tt.statuses...)
			if tt.retryAfter != "" {
				rc.answer = func(w http.ResponseWriter, _ int) bool {
					w.Header().Set("Retry-After", tt.retryAfter)
					return false
				}
			}
			id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url})
			require.NoError(t, s.Complete(id, nil))
			wd, err := s.WaitForDelivery(waitCtx(t), id)
			require.NoError(t, err)
			require.Len(t, wd.Attempts, tt.attempts)
			assert.Equal(t, tt.reason, wd.FailureReason)
			headers, bodies := rc.received()
			require.Len(t, bodies, tt.attempts)
			for i, a := range wd.Attempts {
				assert.Equal(t, i+1, a.Attempt)
				assert.Equal(t, tt.delays[i], a.RetryDelay, "delay after attempt %d", i+1)
				assert.Equal(t, string(bodies[0]), string(bodies[i]), "same body every attempt")
				assert.Equal(t, headers[0].Get("x-skyvern-timestamp"), headers[i].Get("x-skyvern-timestamp"), "same timestamp")
				assert.Equal(t, headers[0].Get("x-skyvern-signature"), headers[i].Get("x-skyvern-signature"))
			}
			snap, _ := s.Run(id)
			require.NotNil(t, snap.WebhookFailureReason)
			assert.Equal(t, tt.reason, *snap.WebhookFailureReason)
		})
	}
}

func TestDefaultBackoffHasJitter(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery(), WithDeterministicIDs(1))
	rc := newReceiver(t, 500)
	id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": rc.url})
	require.NoError(t, s.Complete(id, nil))
	wd, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	require.Len(t, wd.Attempts, 3)
	first, second := wd.Attempts[0].RetryDelay, wd.Attempts[1].RetryDelay
	assert.True(t, first >= time.Second && first < 2*time.Second, "1s + jitter, got %v", first)
	assert.True(t, second >= 2*time.Second && second < 3*time.Second, "2s + jitter, got %v", second)
	assert.Equal(t, "Webhook failed with status code 500, error message: status Internal Server Error", wd.FailureReason)
}

func TestDeliveryTransportFailures(t *testing.T) {
	t.Parallel()
	// A port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + ln.Addr().String() + "/hook"
	require.NoError(t, ln.Close())

	hangup := newReceiver(t)
	hangup.answer = func(w http.ResponseWriter, _ int) bool {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return true
	}
	slow := newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow.answer = func(w http.ResponseWriter, _ int) bool {
		<-release
		return false
	}

	tests := []struct {
		name, url, reason, err string
		opts                   []Option
	}{
		{"connection refused", closedURL,
			"Webhook delivery failed before receiving a response: ConnectError: [Errno 111] Connection refused",
			"ConnectError: [Errno 111] Connection refused", nil},
		{"server hangs up", hangup.url,
			"Webhook delivery failed before receiving a response: RemoteProtocolError: Server disconnected without sending a response.",
			"RemoteProtocolError: Server disconnected without sending a response.", nil},
		{"read timeout", slow.url, "Webhook delivery failed before receiving a response: ReadTimeout", "ReadTimeout",
			[]Option{WithDeliveryTimeout(50 * time.Millisecond)}},
		{"not loopback", "https://hooks.example.com/x",
			"Webhook delivery failed before receiving a response: ConnectError: " + errNotLoopback.Error(),
			"ConnectError: " + errNotLoopback.Error(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, append([]Option{fastDelivery()}, tt.opts...)...)
			id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": tt.url})
			require.NoError(t, s.Complete(id, nil))
			wd, err := s.WaitForDelivery(waitCtx(t), id)
			require.NoError(t, err)
			require.Len(t, wd.Attempts, 3, "transport errors are retried")
			assert.Equal(t, tt.reason, wd.FailureReason)
			for _, a := range wd.Attempts {
				assert.Equal(t, tt.err, a.Err)
				assert.Zero(t, a.StatusCode)
			}
		})
	}
}

func TestTaskV2FailsWhenWebhookCannotBeSent(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())
	id := startTask(t, s, map[string]any{"prompt": "p", "engine": "skyvern-2.0", "webhook_url": "https://unreachable.example/x"})
	require.NoError(t, s.Complete(id, map[string]any{"price": "$29.99"}))
	_, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	m := doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil).object(t)
	assert.Equal(t, "failed", m["status"])
	assert.Equal(t, "Failed to run task 2.0: Failed to send webhook.    task_v2_id="+id, m["failure_reason"])
	assert.Equal(t, map[string]any{"price": "$29.99"}, m["output"])

	// A status-code failure only records the reason.
	rc := newReceiver(t, 500)
	other := startTask(t, s, map[string]any{"prompt": "p", "engine": "skyvern-2.0", "webhook_url": rc.url})
	require.NoError(t, s.Complete(other, nil))
	_, err = s.WaitForDelivery(waitCtx(t), other)
	require.NoError(t, err)
	snap, _ := s.Run(other)
	assert.Equal(t, skyvern.RunStatusCompleted, snap.Status)
}

func TestRetryWebhook(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, fastDelivery())
	failing := newReceiver(t, 500)
	id := startTask(t, s, map[string]any{"prompt": "p", "webhook_url": failing.url})

	resp := doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", nil)
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, `{"detail":"Run `+id+` has not reached a terminal state (status=created)."}`, string(resp.body))

	require.NoError(t, s.Complete(id, "done"))
	wd, err := s.WaitForDelivery(waitCtx(t), id)
	require.NoError(t, err)
	require.Len(t, wd.Attempts, 3)

	// Replay to a fixed receiver: one attempt, the failure reason inside.
	fixed := newReceiver(t, http.StatusAccepted)
	resp = doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", map[string]any{"webhook_url": fixed.url})
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	assertKeys(t, strings.Fields(`run_id run_type default_webhook_url target_webhook_url payload headers
		status_code latency_ms response_body error`), resp.body, "RunWebhookReplayResponse")
	m := resp.object(t)
	assert.Equal(t, id, m["run_id"])
	assert.Equal(t, "task_v1", m["run_type"])
	assert.Equal(t, failing.url, m["default_webhook_url"])
	assert.Equal(t, fixed.url, m["target_webhook_url"])
	assert.EqualValues(t, 202, m["status_code"])
	assert.Equal(t, "status Accepted", m["response_body"])
	assert.Nil(t, m["error"])
	_, isInt := m["latency_ms"].(float64)
	assert.True(t, isInt)

	headers, bodies := fixed.received()
	require.Len(t, bodies, 1)
	payload := m["payload"].(string)
	assert.Equal(t, payload, string(bodies[0]), "payload is the exact body sent")
	assert.Equal(t, hmacHex(bodies[0], s.APIKey()), headers[0].Get("x-skyvern-signature"))
	hm := m["headers"].(map[string]any)
	assert.Equal(t, headers[0].Get("x-skyvern-signature"), hm["x-skyvern-signature"])
	assert.Equal(t, headers[0].Get("x-skyvern-timestamp"), hm["x-skyvern-timestamp"])
	assert.Equal(t, "application/json", hm["Content-Type"])
	pm := mustDecode(t, []byte(payload))
	assert.Equal(t, "Webhook failed with status code 500, error message: status Internal Server Error", pm["webhook_failure_reason"])

	replays := 0
	for _, a := range s.Deliveries() {
		if a.Replay {
			replays++
			assert.Equal(t, fixed.url, a.URL)
		}
	}
	assert.Equal(t, 1, replays)
	assert.Len(t, s.Webhooks(), 1, "replays are not original deliveries")
	snap, _ := s.Run(id)
	assert.Contains(t, *snap.WebhookFailureReason, "500", "a replay does not change webhook_failure_reason")

	// Replay to the stored URL, which still fails: reported, not retried.
	resp = doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", `{}`)
	m = resp.object(t)
	assert.EqualValues(t, 500, m["status_code"])
	assert.Equal(t, failing.url, m["target_webhook_url"])
}

func TestRetryWebhookErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	noURL := startTask(t, s, map[string]any{"prompt": "p"})
	require.NoError(t, s.Complete(noURL, nil))
	yutori := startTask(t, s, map[string]any{"prompt": "p", "engine": "yutori-navigator"})
	require.NoError(t, s.Complete(yutori, nil))
	tests := []struct {
		id, body string
		status   int
		want     string
	}{
		{"tsk_404", "", 404, `{"detail":"Run tsk_404 not found"}`},
		{noURL, "", 400, `{"detail":"No webhook URL configured for the run."}`},
		{noURL, `{"webhook_url":null}`, 400, `{"detail":"No webhook URL configured for the run."}`},
		{noURL, `{"webhook_url":"ftp://x"}`, 400, `{"detail":"Invalid URL: ftp://x. Skyvern supports HTTP and HTTPS urls with max 2083 character length."}`},
		{noURL, `{"webhook_url":5}`, 422, `{"detail":[{"type":"string_type","loc":["body","webhook_url"],"msg":"Input should be a valid string","input":5}]}`},
		{yutori, "", 400, `{"detail":"Run type yutori_navigator is not supported for webhook replay."}`},
	}
	for _, tt := range tests {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		resp := doRequest(t, s, http.MethodPost, "/v1/runs/"+tt.id+"/retry_webhook", body)
		assert.Equal(t, tt.status, resp.status, tt.want)
		assert.Equal(t, tt.want, string(resp.body))
	}
}

func TestRetryWebhookTransportErrorAndTruncation(t *testing.T) {
	t.Parallel()
	// Only the slow receiver's replay may time out: the other cases get the
	// default timeout, so a loaded machine cannot turn them into timeouts.
	s := newTestServer(t)
	id := startTask(t, s, map[string]any{"prompt": "p"})
	require.NoError(t, s.Complete(id, nil))

	big := newReceiver(t)
	big.answer = func(w http.ResponseWriter, _ int) bool {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(strings.Repeat("é", 3000)))
		return true
	}
	m := doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", map[string]any{"webhook_url": big.url}).object(t)
	assert.Equal(t, strings.Repeat("é", 2048)+"\n... (truncated)", m["response_body"])

	m = doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", map[string]any{"webhook_url": "http://localhost:1/x"}).object(t)
	assert.Equal(t, "Could not reach URL: [Errno 111] Connection refused", m["error"])

	quick := newTestServer(t, WithReplayTimeout(50*time.Millisecond))
	qid := startTask(t, quick, map[string]any{"prompt": "p"})
	require.NoError(t, quick.Complete(qid, nil))
	slow := newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow.answer = func(http.ResponseWriter, int) bool {
		<-release
		return false
	}
	m = doRequest(t, quick, http.MethodPost, "/v1/runs/"+qid+"/retry_webhook", map[string]any{"webhook_url": slow.url}).object(t)
	assert.Nil(t, m["status_code"])
	assert.Nil(t, m["response_body"])
	assert.Equal(t, "Request timed out after 0.05 seconds.", m["error"])
}

func TestReplayPayloads(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	rc := newReceiver(t)
	wpid := createWorkflow(t, s, map[string]any{"webhook_callback_url": rc.url, "totp_identifier": "me"})
	wr := doRequest(t, s, http.MethodPost, "/v1/run/workflows", `{"workflow_id":"`+wpid+`"}`).object(t)["run_id"].(string)
	v2 := startTask(t, s, map[string]any{"prompt": "p", "engine": "skyvern-2.0", "webhook_url": rc.url})
	for _, id := range []string{wr, v2} {
		require.NoError(t, s.Complete(id, nil))
		_, err := s.WaitForDelivery(waitCtx(t), id)
		require.NoError(t, err)
	}
	replay := func(id string) []byte {
		m := doRequest(t, s, http.MethodPost, "/v1/runs/"+id+"/retry_webhook", nil).object(t)
		return []byte(m["payload"].(string))
	}
	keys := topKeys(t, replay(wr))
	for _, gone := range []string{"webhook_callback_url", "totp_verification_url", "totp_identifier", "extra_http_headers", "run_request"} {
		assert.NotContains(t, keys, gone)
	}
	assert.Contains(t, keys, "webhook_failure_reason")
	assert.Nil(t, mustDecode(t, replay(wr))["step_count"])
	assertKeys(t, append(append([]string(nil), wantBaseKeys...), "run_type"), replay(v2), "task v2 replay is the bare run response")
	assert.Equal(t, "", *mustSnapshot(t, s, wr).WebhookFailureReason)
}

func mustSnapshot(t *testing.T, s *Server, id string) RunSnapshot {
	t.Helper()
	snap, ok := s.Run(id)
	require.True(t, ok)
	return snap
}
