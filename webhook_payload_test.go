package skyvern

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedPayload is the example delivery from Skyvern's webhook guide, with
// its naive UTC timestamps.
const seedPayload = `{
  "run_id": "tsk_v2_490440779503357994",
  "task_id": "tsk_v2_490440779503357994",
  "status": "completed",
  "output": {
    "top_post_title": "Antirender: remove the glossy shine on architectural renderings"
  },
  "summary": "I have successfully retrieved the title of the top post from the Hacker News homepage.",
  "prompt": "Get the title of the top post on Hacker News",
  "url": "https://news.ycombinator.com/",
  "downloaded_files": [],
  "recording_url": "https://skyvern-artifacts.s3.amazonaws.com/v1/production/o_485917350850524254/tsk_490440844256003946/.../recording.webm?AWSAccessKeyId=...&Signature=...&Expires=...",
  "screenshot_urls": ["https://skyvern-artifacts.s3.amazonaws.com/v1/production/o_485917350850524254/tsk_490441394011816060/.../screenshot_final.png?AWSAccessKeyId=..."],
  "failure_reason": null,
  "errors": [],
  "step_count": 4,
  "run_type": "task_v2",
  "app_url": "https://app.skyvern.com/runs/wr_490440779503358000",
  "organization_id": "o_485917350850524254",
  "workflow_run_id": "wr_490440779503358000",
  "workflow_id": "w_490440779503357996",
  "workflow_permanent_id": "wpid_490440779503357998",
  "proxy_location": "RESIDENTIAL",
  "webhook_callback_url": "https://webhook.site/d8d013c1-0481-48d0-8d13-281e8563a508",
  "webhook_failure_reason": null,
  "created_at": "2026-01-31T15:20:42.160725",
  "modified_at": "2026-01-31T15:23:34.993138",
  "queued_at": "2026-01-31T15:20:42.371545",
  "started_at": "2026-01-31T15:20:44.391756",
  "finished_at": "2026-01-31T15:23:34.992815"
}`

// payloadCmp compares payloads: Time by instant, JSON by bytes.
var payloadCmp = cmp.Options{
	cmp.Comparer(func(a, b Time) bool { return a.Equal(b.Time) }),
}

func utc(t *testing.T, s string) Time {
	t.Helper()
	v, err := ParseTime(s)
	require.NoError(t, err)
	return v
}

func TestDecodeSeedPayload(t *testing.T) {
	t.Parallel()
	wh := mustWebhook(t, testKey)
	body := []byte(seedPayload)
	got, err := wh.Parse(body, signedHeader(body, testKey, 1769873016))
	require.NoError(t, err)

	want := &WebhookPayload{
		RunID:               "tsk_v2_490440779503357994",
		TaskID:              "tsk_v2_490440779503357994",
		Status:              RunStatusCompleted,
		Output:              json.RawMessage("{\n    \"top_post_title\": \"Antirender: remove the glossy shine on architectural renderings\"\n  }"),
		Summary:             "I have successfully retrieved the title of the top post from the Hacker News homepage.",
		Prompt:              "Get the title of the top post on Hacker News",
		URL:                 "https://news.ycombinator.com/",
		DownloadedFiles:     []FileInfo{},
		RecordingURL:        "https://skyvern-artifacts.s3.amazonaws.com/v1/production/o_485917350850524254/tsk_490440844256003946/.../recording.webm?AWSAccessKeyId=...&Signature=...&Expires=...",
		ScreenshotURLs:      []string{"https://skyvern-artifacts.s3.amazonaws.com/v1/production/o_485917350850524254/tsk_490441394011816060/.../screenshot_final.png?AWSAccessKeyId=..."},
		FailureReason:       nil,
		Errors:              []json.RawMessage{},
		StepCount:           Ptr(4),
		RunType:             RunTypeTaskV2,
		Attempt:             1,
		AppURL:              "https://app.skyvern.com/runs/wr_490440779503358000",
		OrganizationID:      "o_485917350850524254",
		WorkflowRunID:       "wr_490440779503358000",
		WorkflowID:          "w_490440779503357996",
		WorkflowPermanentID: "wpid_490440779503357998",
		ProxyLocation:       NewProxy(ProxyResidential),
		WebhookCallbackURL:  "https://webhook.site/d8d013c1-0481-48d0-8d13-281e8563a508",
		CreatedAt:           utc(t, "2026-01-31T15:20:42.160725Z"),
		ModifiedAt:          utc(t, "2026-01-31T15:23:34.993138Z"),
		QueuedAt:            Ptr(utc(t, "2026-01-31T15:20:42.371545Z")),
		StartedAt:           Ptr(utc(t, "2026-01-31T15:20:44.391756Z")),
		FinishedAt:          Ptr(utc(t, "2026-01-31T15:23:34.992815Z")),
		Raw:                 json.RawMessage(seedPayload),
	}
	if diff := cmp.Diff(want, got, payloadCmp); diff != "" {
		t.Errorf("payload mismatch (-want +got):\n%s", diff)
	}
	assert.Equal(t, time.UTC, got.FinishedAt.Location())
	assert.True(t, got.IsTerminal())
	assert.False(t, got.WebhookDeliveryFailed())
	assert.Equal(t, "tsk_v2_490440779503357994:completed", got.IdempotencyKey())

	var out struct {
		TopPostTitle string `json:"top_post_title"`
	}
	require.NoError(t, got.DecodeOutput(&out))
	assert.Equal(t, "Antirender: remove the glossy shine on architectural renderings", out.TopPostTitle)
}

// A task v1 delivery: legacy keys first, then the run response (compact, as
// on the wire).
const taskV1Payload = `{"task_id":"tsk_1","status":"failed","created_at":"2026-02-01T10:00:00","modified_at":"2026-02-01T10:05:00.000100","extracted_information":{"price":"$1"},"action_screenshot_urls":["https://a/1.png"],"screenshot_url":"https://a/final.png","recording_url":null,"recording_archived":true,"browser_console_log_url":"https://a/console.log","downloaded_files":[{"url":"https://a/f.pdf","checksum":"abc","filename":"f.pdf","file_size":12,"modified_at":"2026-02-01T10:04:00"}],"downloaded_file_urls":["https://a/f.pdf"],"failure_reason":"Webhook failed with status code 500","failure_category":[{"category":"infra","confidence":0.9}],"webhook_failure_reason":"","errors":[{"error_code":"E1","reasoning":"r"}],"max_steps_per_run":10,"workflow_run_id":null,"queued_at":null,"started_at":"2026-02-01T10:00:01","finished_at":"2026-02-01T10:05:00","max_screenshot_scrolls":null,"step_count":3,"browser_session_id":null,"run_id":"tsk_1","output":{"price":"$1"},"screenshot_urls":null,"app_url":"https://app.skyvern.com/tasks/tsk_1","browser_profile_id":null,"script_run":{"ai_fallback_triggered":true,"script_id":"s_1","script_revision_id":null},"run_type":"task_v1"}`

// A workflow delivery, which also carries run_request and outputs.
const workflowPayload = `{"workflow_id":"wpid_9","workflow_run_id":"wr_9","status":"completed","failure_reason":null,"failure_category":null,"proxy_location":{"country":"US","subdivision":"CA","city":null},"webhook_callback_url":"https://example.com/hook","webhook_failure_reason":null,"totp_verification_url":"https://example.com/totp","totp_identifier":"me@example.com","queued_at":"2026-03-01T00:00:00","started_at":"2026-03-01T00:00:01.5","finished_at":"2026-03-01T00:10:00","created_at":"2026-03-01T00:00:00","modified_at":"2026-03-01T00:10:00","parameters":{"invoice_id":"42"},"outputs":{"download":{"ok":true}},"total_steps":7,"total_cost":0.25,"workflow_title":"Invoice Downloader","browser_session_id":null,"browser_profile_id":null,"max_screenshot_scrolls":null,"run_with":"agent","script_run":null,"script_id":null,"errors":[],"agent_id":"wpid_9","agent_run_id":"wr_9","run_id":"wr_9","run_type":"workflow_run","output":{"download":{"ok":true}},"downloaded_files":[],"screenshot_urls":[],"app_url":"https://app.skyvern.com/runs/wr_9","step_count":7,"ai_fallback":null,"browser_seed_source":"fresh","run_request":{"workflow_id":"wpid_9","parameters":{"invoice_id":"42"}}}`

func TestDecodeLegacyPayloads(t *testing.T) {
	t.Parallel()
	t.Run("task v1", func(t *testing.T) {
		t.Parallel()
		p, err := decodePayload([]byte(taskV1Payload))
		require.NoError(t, err)
		assert.Equal(t, RunTypeTaskV1, p.RunType)
		assert.Equal(t, RunStatusFailed, p.Status)
		assert.JSONEq(t, `{"price":"$1"}`, string(p.ExtractedInformation))
		assert.Equal(t, []string{"https://a/1.png"}, p.ActionScreenshotURLs)
		assert.Equal(t, "https://a/final.png", p.ScreenshotURL)
		assert.True(t, p.RecordingArchived)
		assert.Equal(t, "https://a/console.log", p.BrowserConsoleLogURL)
		require.Len(t, p.DownloadedFiles, 1)
		assert.Equal(t, "f.pdf", *p.DownloadedFiles[0].Filename)
		assert.Equal(t, int64(12), *p.DownloadedFiles[0].FileSize)
		assert.Equal(t, []string{"https://a/f.pdf"}, p.DownloadedFileURLs)
		require.Len(t, p.FailureCategory, 1)
		assert.JSONEq(t, `{"category":"infra","confidence":0.9}`, string(p.FailureCategory[0]))
		require.NotNil(t, p.WebhookFailureReason)
		assert.Equal(t, "", *p.WebhookFailureReason)
		require.Len(t, p.Errors, 1)
		assert.Equal(t, 10, *p.MaxStepsPerRun)
		assert.Nil(t, p.QueuedAt)
		assert.Equal(t, utc(t, "2026-02-01T10:05:00.000100Z").Time, p.ModifiedAt.Time)
		assert.Equal(t, &ScriptRun{AIFallbackTriggered: true, ScriptID: Ptr("s_1")}, p.ScriptRun)
		assert.Nil(t, p.ScreenshotURLs)
		assert.True(t, p.WebhookDeliveryFailed())
		assert.Equal(t, "tsk_1:failed", p.IdempotencyKey())
	})
	t.Run("workflow run", func(t *testing.T) {
		t.Parallel()
		p, err := decodePayload([]byte(workflowPayload))
		require.NoError(t, err)
		assert.Equal(t, RunTypeWorkflowRun, p.RunType)
		assert.True(t, p.RunType.IsWorkflow())
		assert.Equal(t, "wpid_9", p.WorkflowID)
		require.NotNil(t, p.ProxyLocation)
		assert.Equal(t, &GeoTarget{Country: "US", Subdivision: Ptr("CA")}, p.ProxyLocation.Geo)
		assert.Equal(t, "https://example.com/totp", p.TOTPVerificationURL)
		assert.Equal(t, "me@example.com", p.TOTPIdentifier)
		assert.Equal(t, utc(t, "2026-03-01T00:00:01.5Z").Time, p.StartedAt.Time)
		assert.Equal(t, map[string]json.RawMessage{"invoice_id": json.RawMessage(`"42"`)}, p.Parameters)
		assert.JSONEq(t, `{"download":{"ok":true}}`, string(p.Outputs))
		assert.Equal(t, 7, *p.TotalSteps)
		assert.InDelta(t, 0.25, *p.TotalCost, 1e-9)
		assert.Equal(t, "Invoice Downloader", p.WorkflowTitle)
		assert.Equal(t, "wpid_9", p.AgentID)
		assert.Equal(t, "wr_9", p.AgentRunID)
		assert.Equal(t, "agent", p.RunWith)
		assert.Nil(t, p.AIFallback)
		assert.Nil(t, p.ScriptRun)
		assert.Equal(t, "fresh", p.BrowserSeedSource)
		assert.JSONEq(t, `{"workflow_id":"wpid_9","parameters":{"invoice_id":"42"}}`, string(p.RunRequest))
		assert.Equal(t, "wr_9:completed", p.IdempotencyKey())

		var out map[string]map[string]bool
		require.NoError(t, p.DecodeOutput(&out))
		assert.True(t, out["download"]["ok"])
	})
}

func TestDecodeUnknownEnums(t *testing.T) {
	t.Parallel()
	p, err := decodePayload([]byte(`{"run_id":"x_1","status":"archived","run_type":"task_v9","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00"}`))
	require.NoError(t, err)
	assert.Equal(t, RunStatus("archived"), p.Status)
	assert.Equal(t, RunType("task_v9"), p.RunType)
	assert.False(t, p.IsTerminal())
}

func TestDecodeTimestampForms(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC)
	for _, ts := range []string{
		`"2026-01-31T15:20:42"`,
		`"2026-01-31T15:20:42Z"`,
		`"2026-01-31T15:20:42.000000"`,
		`"2026-01-31T16:20:42+01:00"`,
		`"2026-01-31 15:20:42"`,
		`"2026-01-31T15:20:42\u005a"`, // an escaped Z
	} {
		p, err := decodePayload([]byte(`{"run_id":"r","created_at":` + ts + `,"finished_at":` + ts + `}`))
		require.NoError(t, err, ts)
		assert.True(t, want.Equal(p.CreatedAt.Time), ts)
		assert.True(t, want.Equal(p.FinishedAt.Time), ts)
	}
	p, err := decodePayload([]byte(`{"run_id":"r","created_at":null,"finished_at":null}`))
	require.NoError(t, err)
	assert.True(t, p.CreatedAt.IsZero())
	assert.Nil(t, p.FinishedAt)
}

func TestDecodeOddTimestampsGiveTypedErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body  string
		field string
	}{
		"number":           {`{"created_at":1769873016}`, "created_at"},
		"garbage":          {`{"modified_at":"yesterday"}`, "modified_at"},
		"empty string":     {`{"queued_at":""}`, "queued_at"},
		"month 13":         {`{"started_at":"2026-13-01T00:00:00"}`, "started_at"},
		"object":           {`{"finished_at":{"t":1}}`, "finished_at"},
		"array":            {`{"finished_at":[]}`, "finished_at"},
		"bool":             {`{"created_at":true}`, "created_at"},
		"nested file time": {`{"downloaded_files":[{"url":"u","modified_at":"soon"}]}`, ""},
		"escaped garbage":  {`{"created_at":"2026-01-31T15:20:42\u0021"}`, "created_at"},
		"past year 9999":   {`{"finished_at":"9999-12-31T23:30:00-01:00"}`, "finished_at"},
		"before year 0":    {`{"created_at":"0000-01-01T00:30:00+01:00"}`, "created_at"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := decodePayload([]byte(tc.body))
			assert.Nil(t, p)
			require.ErrorIs(t, err, ErrMalformedPayload)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.field, pe.Field)
			assert.NotEmpty(t, pe.Error())
		})
	}
}

func TestDecodeMalformedBodies(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body  string
		field string
	}{
		"empty":               {``, ""},
		"not JSON":            {`hello`, ""},
		"truncated":           {`{"run_id":"tsk_1"`, ""},
		"array":               {`[1,2]`, ""},
		"string":              {`"run"`, ""},
		"status number":       {`{"status":3}`, "status"},
		"step_count float":    {`{"step_count":3.5}`, "step_count"},
		"screenshot_urls obj": {`{"screenshot_urls":{}}`, "screenshot_urls"},
		"proxy number":        {`{"proxy_location":7}`, ""},
		"trailing garbage":    {`{"run_id":"a"} x`, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := decodePayload([]byte(tc.body))
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, err, ErrMalformedPayload)
			assert.Equal(t, tc.field, pe.Field)
		})
	}
}

func TestWebhookPayloadUnmarshalJSON(t *testing.T) {
	t.Parallel()
	var wrapper struct {
		Event WebhookPayload `json:"event"`
	}
	body := `{"event":{"run_id":"tsk_1","status":"canceled","output":null}}`
	require.NoError(t, json.Unmarshal([]byte(body), &wrapper))
	assert.Equal(t, `{"run_id":"tsk_1","status":"canceled","output":null}`, string(wrapper.Event.Raw))
	assert.Nil(t, wrapper.Event.Output)
	assert.ErrorIs(t, wrapper.Event.DecodeOutput(&struct{}{}), ErrNoOutput)

	// The typed fields marshal back with the wire names; the attempt a
	// payload without one reads as is written out.
	out, err := json.Marshal(&wrapper.Event)
	require.NoError(t, err)
	assert.JSONEq(t, `{"run_id":"tsk_1","status":"canceled","attempt":1,"created_at":null,"modified_at":null}`, string(out))
}

func TestDecodeOutput(t *testing.T) {
	t.Parallel()
	type price struct {
		Price string `json:"price"`
	}
	cases := map[string]struct {
		body    string
		want    price
		wantErr error
	}{
		"output":              {`{"run_id":"tsk_1","output":{"price":"$29.99"}}`, price{"$29.99"}, nil},
		"outputs fallback":    {`{"run_id":"tsk_1","outputs":{"price":"$1"}}`, price{"$1"}, nil},
		"output wins":         {`{"run_id":"tsk_1","output":{"price":"$2"},"outputs":{"price":"$1"}}`, price{"$2"}, nil},
		"null output":         {`{"run_id":"tsk_1","output":null}`, price{}, ErrNoOutput},
		"absent":              {`{"run_id":"tsk_1"}`, price{}, ErrNoOutput},
		"null both":           {`{"run_id":"tsk_1","output":null,"outputs":null}`, price{}, ErrNoOutput},
		"wrong shape":         {`{"run_id":"tsk_1","output":["a"]}`, price{}, ErrMalformedPayload},
		"wrong shape outputs": {`{"run_id":"tsk_1","outputs":"text"}`, price{}, ErrMalformedPayload},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := decodePayload([]byte(tc.body))
			require.NoError(t, err)
			var got price
			err = p.DecodeOutput(&got)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestWebhookDeliveryFailed(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		reason *string
		want   bool
	}{
		"seed example": {Ptr("Failed to run task 2.0: Failed to send webhook.    task_v2_id=tsk_v2_486305187432193504"), true},
		"upper case":   {Ptr("WEBHOOK DELIVERY FAILED"), true},
		"other error":  {Ptr("Reached the max number of steps"), false},
		"empty":        {Ptr(""), false},
		"nil":          {nil, false},
	}
	for name, tc := range cases {
		p := &WebhookPayload{Status: RunStatusFailed, FailureReason: tc.reason}
		assert.Equal(t, tc.want, p.WebhookDeliveryFailed(), name)
	}
	// The docs' failed-delivery example still carries the extracted data.
	p, err := decodePayload([]byte(`{"run_id": "tsk_v2_486305187432193504", "status": "failed", "output": {"price": "$29.99"}, "failure_reason": "Failed to run task 2.0: Failed to send webhook.    task_v2_id=tsk_v2_486305187432193504"}`))
	require.NoError(t, err)
	assert.True(t, p.WebhookDeliveryFailed())
	assert.JSONEq(t, `{"price":"$29.99"}`, string(p.Output))
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	raw := json.RawMessage(`{"status":"completed"}`)
	sum := sha256.Sum256(raw)
	cases := map[string]struct {
		p    WebhookPayload
		want string
	}{
		"run id":          {WebhookPayload{RunID: "tsk_1", TaskID: "tsk_x", Status: RunStatusCompleted}, "tsk_1:completed"},
		"task id":         {WebhookPayload{TaskID: "tsk_v2_1", WorkflowRunID: "wr_1", Status: RunStatusFailed}, "tsk_v2_1:failed"},
		"workflow run id": {WebhookPayload{WorkflowRunID: "wr_1", Status: RunStatusTerminated}, "wr_1:terminated"},
		"no status":       {WebhookPayload{RunID: "tsk_1"}, "tsk_1:"},
		"body hash":       {WebhookPayload{Status: RunStatusCompleted, Raw: raw}, "sha256:" + hex.EncodeToString(sum[:])},
		"nothing":         {WebhookPayload{}, ""},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, tc.p.IdempotencyKey(), name)
	}
	// Different outcomes of one run are different events.
	a := WebhookPayload{RunID: "wr_1", Status: RunStatusFailed}
	b := WebhookPayload{RunID: "wr_1", Status: RunStatusCompleted}
	assert.NotEqual(t, a.IdempotencyKey(), b.IdempotencyKey())
}

// Found by FuzzTime: an offset could move an instant outside the years Time
// can write back, so decoding succeeded but the value did not round-trip.
func TestTimeOutsideFourDigitYears(t *testing.T) {
	t.Parallel()
	_, err := ParseTime("9999-12-31T23:30:00-01:00")
	assert.Error(t, err)
	edge, err := ParseTime("9999-12-31T23:59:59.999999")
	require.NoError(t, err)
	out, err := edge.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `"9999-12-31T23:59:59.999999"`, string(out))

	_, err = NewTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)).MarshalJSON()
	assert.Error(t, err)
	_, err = json.Marshal(WebhookPayload{CreatedAt: NewTime(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC))})
	assert.Error(t, err)
}

func TestDecodeRejectsBodiesThatNameNoRun(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`null`, `{}`, `{"status":"completed","output":{"a":1}}`, `{"run_id":""}`} {
		_, err := decodePayload([]byte(body))
		var perr *PayloadError
		require.ErrorAs(t, err, &perr, body)
		assert.Equal(t, "run_id", perr.Field, body)
		assert.ErrorIs(t, err, ErrMalformedPayload, body)
	}
	for _, body := range []string{`{"run_id":"tsk_1"}`, `{"task_id":"tsk_v2_1"}`, `{"workflow_run_id":"wr_1"}`} {
		_, err := decodePayload([]byte(body))
		assert.NoError(t, err, body)
	}
}
