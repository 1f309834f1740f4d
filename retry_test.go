package skyvern_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// behaviour is what the test server does on one attempt.
type behaviour func(w http.ResponseWriter, r *http.Request)

func status(code int, body string, headers ...string) behaviour {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		writeJSON(w, code, body)
	}
}

const okRun = `{"run_id":"tsk_1","status":"queued","run_type":"task_v1","created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:00"}`

// sequence serves the behaviours in order, then repeats the last one, and
// counts attempts.
func sequence(attempts *atomic.Int32, steps ...behaviour) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := int(attempts.Add(1)) - 1
		steps[min(n, len(steps)-1)](w, r)
	}
}

type callFunc func(ctx context.Context, c *skyvern.Client) error

var (
	callRunTask = callFunc(func(ctx context.Context, c *skyvern.Client) error {
		_, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "p"})
		return err
	})
	callGetRun = callFunc(func(ctx context.Context, c *skyvern.Client) error {
		_, err := c.GetRun(ctx, "tsk_1")
		return err
	})
	callRunWorkflow = callFunc(func(ctx context.Context, c *skyvern.Client) error {
		_, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: "wpid_1"})
		return err
	})
	callCancel = callFunc(func(ctx context.Context, c *skyvern.Client) error {
		return c.CancelRun(ctx, "tsk_1")
	})
	callRetryWebhook = callFunc(func(ctx context.Context, c *skyvern.Client) error {
		_, err := c.RetryRunWebhook(ctx, "tsk_1", nil)
		return err
	})
)

func TestRetryClasses(t *testing.T) {
	t.Parallel()
	routes := map[string]string{
		"RunTask":         "/v1/run/tasks",
		"RunWorkflow":     "/v1/run/workflows",
		"GetRun":          "/v1/runs/tsk_1",
		"CancelRun":       "/v1/runs/tsk_1/cancel",
		"RetryRunWebhook": "/v1/runs/tsk_1/retry_webhook",
	}
	calls := map[string]callFunc{"RunTask": callRunTask, "RunWorkflow": callRunWorkflow, "GetRun": callGetRun, "CancelRun": callCancel, "RetryRunWebhook": callRetryWebhook}

	cases := []struct {
		call         string
		name         string
		steps        []behaviour
		wantAttempts int32
		wantOK       bool
		wantUnknown  bool
		wantStatus   int
	}{
		// Run-creating calls: never resent after an ambiguous failure.
		{"RunTask", "500", []behaviour{status(500, `{"error":"Unexpected error: Boom"}`), status(200, okRun)}, 1, false, true, 500},
		{"RunTask", "502", []behaviour{status(502, `<html>bad gateway</html>`), status(200, okRun)}, 1, false, true, 502},
		{"RunTask", "503", []behaviour{status(503, ``), status(200, okRun)}, 1, false, true, 503},
		{"RunTask", "dropped connection", []behaviour{dropConnection, status(200, okRun)}, 1, false, true, 0},
		{"RunTask", "attempt timeout", []behaviour{hang, status(200, okRun)}, 1, false, true, 0},
		{"RunTask", "429 then ok", []behaviour{status(429, `{"detail":"slow down"}`), status(200, okRun)}, 2, true, false, 0},
		{"RunTask", "429 until budget ends", []behaviour{status(429, `{"detail":"slow down"}`)}, 3, false, false, 429},
		{"RunTask", "400 is final", []behaviour{status(400, `{"detail":"Invalid agent engine: x"}`)}, 1, false, false, 400},
		{"RunTask", "422 is final", []behaviour{status(422, `{"detail":[{"type":"missing","loc":["body","prompt"],"msg":"Field required","input":{}}]}`)}, 1, false, false, 422},
		// A 409 says nothing about a run-creating call's idempotency: final.
		{"RunTask", "409 is final", []behaviour{status(409, `{"detail":"conflict"}`), status(200, okRun)}, 1, false, false, 409},
		{"RunWorkflow", "409 is final", []behaviour{status(409, `{"detail":"conflict"}`), status(200, okRun)}, 1, false, false, 409},
		{"CancelRun", "409 is final", []behaviour{status(409, `{"detail":"conflict"}`), status(200, `null`)}, 1, false, false, 409},
		{"CancelRun", "500", []behaviour{status(500, `{"error":"Unexpected error: FailedToSendWebhook"}`), status(200, `null`)}, 1, false, true, 500},
		{"CancelRun", "429 then ok", []behaviour{status(429, ``), status(200, `null`)}, 2, true, false, 0},
		{"RetryRunWebhook", "504", []behaviour{status(504, ``), status(200, `null`)}, 1, false, true, 504},
		{"RetryRunWebhook", "dropped connection", []behaviour{dropConnection, status(200, `null`)}, 1, false, true, 0},
		// Reads: every transient failure is retried.
		{"GetRun", "503 then ok", []behaviour{status(503, ``), status(200, okRun)}, 2, true, false, 0},
		{"GetRun", "500 500 ok", []behaviour{status(500, ``), status(500, ``), status(200, okRun)}, 3, true, false, 0},
		{"GetRun", "5xx until budget ends", []behaviour{status(502, ``)}, 3, false, false, 502},
		{"GetRun", "dropped then ok", []behaviour{dropConnection, status(200, okRun)}, 2, true, false, 0},
		{"GetRun", "timeout then ok", []behaviour{hang, status(200, okRun)}, 2, true, false, 0},
		{"GetRun", "408 then ok", []behaviour{status(408, ``), status(200, okRun)}, 2, true, false, 0},
		{"GetRun", "404 is final", []behaviour{status(404, `{"detail":"Task run not found tsk_1"}`)}, 1, false, false, 404},
		{"GetRun", "501 is final", []behaviour{status(501, ``)}, 1, false, false, 501},
		{"GetRun", "409 is final for reads", []behaviour{status(409, ``)}, 1, false, false, 409},
	}
	for _, tc := range cases {
		t.Run(tc.call+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t, skyvern.WithRequestTimeout(300*time.Millisecond))
			var attempts atomic.Int32
			mux.HandleFunc(routes[tc.call], sequence(&attempts, tc.steps...))

			err := calls[tc.call](context.Background(), c)
			assert.Equal(t, tc.wantAttempts, attempts.Load(), "attempts")
			if tc.wantOK {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantUnknown, errors.Is(err, skyvern.ErrOutcomeUnknown), "ErrOutcomeUnknown: %v", err)
			var apiErr *skyvern.APIError
			if tc.wantStatus != 0 {
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, tc.wantStatus, apiErr.StatusCode)
			} else {
				assert.False(t, errors.As(err, &apiErr), "no response came, so no *APIError: %v", err)
			}
		})
	}
}

func TestRetryAmbiguousFailuresOptIn(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	mux.HandleFunc("/v1/run/tasks", sequence(&attempts, status(502, ``), status(200, okRun)))
	run, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"}, skyvern.WithRetryAmbiguousFailures())
	require.NoError(t, err)
	assert.Equal(t, "tsk_1", run.RunID)
	assert.EqualValues(t, 2, attempts.Load())
}

func TestPerCallRetryBudget(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(5))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts, status(503, ``)))
	_, err := c.GetRun(context.Background(), "tsk_1", skyvern.WithMaxRetries(1))
	assert.ErrorIs(t, err, skyvern.ErrServer)
	assert.EqualValues(t, 2, attempts.Load())

	attempts.Store(0)
	_, err = c.GetRun(context.Background(), "tsk_1")
	assert.ErrorIs(t, err, skyvern.ErrServer)
	assert.EqualValues(t, 6, attempts.Load())
}

// refusingDialer fails the first n dials the way a closed port does.
type refusingDialer struct {
	refuse atomic.Int32
	dialer net.Dialer
}

func (d *refusingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.refuse.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	return d.dialer.DialContext(ctx, network, addr)
}

func TestRunTaskRetriedAfterRefusedConnection(t *testing.T) {
	t.Parallel()
	d := &refusingDialer{}
	d.refuse.Store(2)
	c, mux, _ := setup(t, skyvern.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: d.DialContext}}))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/run/tasks", sequence(&attempts, status(200, okRun)))
	run, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"})
	require.NoError(t, err)
	assert.Equal(t, "tsk_1", run.RunID)
	assert.EqualValues(t, 1, attempts.Load(), "the server saw the request once")
}

func TestRunTaskRefusedUntilBudgetEnds(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	c, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL("http://"+addr), skyvern.WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	_, err = c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"})
	require.Error(t, err)
	assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown), "a refused connection proves the run was not created: %v", err)
	assert.NotContains(t, err.Error(), testAPIKey)
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	t.Run("below the cap is honoured", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t, skyvern.WithMaxRetryAfter(5*time.Second))
		var attempts atomic.Int32
		var first atomic.Int64
		mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts,
			func(w http.ResponseWriter, r *http.Request) {
				first.Store(time.Now().UnixNano())
				status(429, `{"detail":"slow down"}`, "Retry-After", "1")(w, r)
			},
			func(w http.ResponseWriter, r *http.Request) {
				// Checked as an ordering fact, not a timing bound: the second
				// attempt cannot come before the hinted second has passed.
				assert.GreaterOrEqual(t, time.Since(time.Unix(0, first.Load())), 900*time.Millisecond)
				writeJSON(w, 200, okRun)
			}))
		_, err := c.GetRun(context.Background(), "tsk_1")
		require.NoError(t, err)
		assert.EqualValues(t, 2, attempts.Load())
	})
	t.Run("above the cap ends retrying and is surfaced", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t, skyvern.WithMaxRetryAfter(time.Second))
		var attempts atomic.Int32
		mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts, status(429, `{"detail":"slow down"}`, "Retry-After", "3600")))
		_, err := c.GetRun(context.Background(), "tsk_1")
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.ErrorIs(t, err, skyvern.ErrRateLimited)
		assert.Equal(t, time.Hour, apiErr.RetryAfter)
		assert.EqualValues(t, 1, attempts.Load())
		assert.Contains(t, err.Error(), "retry after 1h0m0s")
	})
	t.Run("above the cap ends a 409 in-progress retry too", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t, skyvern.WithMaxRetryAfter(time.Second))
		var attempts atomic.Int32
		mux.HandleFunc("/v1/workflows", sequence(&attempts,
			status(409, `{"detail":"Workflow creation with this idempotency key is still in progress."}`, "Retry-After", "3600"),
			status(200, `{"workflow_permanent_id":"wpid_1"}`)))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{Title: "t"}})
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr, "the hour-long hint is not waited out")
		assert.ErrorIs(t, err, skyvern.ErrConflict)
		assert.Equal(t, time.Hour, apiErr.RetryAfter)
		assert.EqualValues(t, 1, attempts.Load())
	})
	t.Run("HTTP date above the cap", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t, skyvern.WithMaxRetryAfter(time.Second))
		var attempts atomic.Int32
		date := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
		mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts, status(503, ``, "Retry-After", date)))
		_, err := c.GetRun(context.Background(), "tsk_1")
		var apiErr *skyvern.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Greater(t, apiErr.RetryAfter, time.Hour)
		assert.EqualValues(t, 1, attempts.Load())
	})
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithRetryWait(time.Hour, time.Hour))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts, status(503, ``)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.GetRun(ctx, "tsk_1")
		done <- err
	}()
	require.Eventually(t, func() bool { return attempts.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("GetRun did not return after its context was cancelled during an hour-long backoff")
	}
	assert.EqualValues(t, 1, attempts.Load())
}

func TestContextAlreadyDone(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	mux.HandleFunc("/v1/run/tasks", sequence(&attempts, status(200, okRun)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "p"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown))
	assert.Zero(t, attempts.Load())
}

func TestErrorShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantDetail  string
		wantIs      error
		wantItems   int
	}{
		{"detail string", 404, "application/json", `{"detail":"Task run not found tsk_1"}`, "Task run not found tsk_1", skyvern.ErrNotFound, 0},
		{"validation list", 422, "application/json", `{"detail":[{"type":"missing","loc":["body","prompt"],"msg":"Field required","input":{}},{"type":"int_parsing","loc":["body","max_steps",0],"msg":"Input should be a valid integer","input":"x"}]}`, "body.prompt: Field required; body.max_steps.0: Input should be a valid integer", skyvern.ErrValidation, 2},
		{"validation string", 422, "application/json", `{"detail":"Invalid workflow definition. Workflow should be provided in either yaml or json format."}`, "Invalid workflow definition. Workflow should be provided in either yaml or json format.", skyvern.ErrValidation, 0},
		{"error key", 500, "application/json", `{"error":"Unexpected error: TaskAlreadyTimeout"}`, "Unexpected error: TaskAlreadyTimeout", skyvern.ErrServer, 0},
		{"invalid credentials", 403, "application/json", `{"detail":"Invalid credentials"}`, "Invalid credentials", skyvern.ErrForbidden, 0},
		{"conflict", 409, "application/json", `{"detail":"Workflow creation with this idempotency key is still in progress."}`, "Workflow creation with this idempotency key is still in progress.", skyvern.ErrConflict, 0},
		{"empty body", 404, "", ``, "", skyvern.ErrNotFound, 0},
		{"html page", 404, "text/html", "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>nginx</h1></body></html>", "404 Not Found", skyvern.ErrNotFound, 0},
		{"html without title", 400, "text/html", "<html><body><h1>Bad</h1> <p>request   here</p></body></html>", "Bad request here", skyvern.ErrValidation, 0},
		{"unauthorized", 401, "application/json", `{"detail":"Not authenticated"}`, "Not authenticated", skyvern.ErrForbidden, 0},
		{"plain text", 403, "text/plain", "upstream forbids this", "upstream forbids this", skyvern.ErrForbidden, 0},
		{"unknown json", 400, "application/json", `{"key":"value"}`, `{"key":"value"}`, skyvern.ErrValidation, 0},
		{"detail object", 400, "application/json", `{"detail":{"message":"nested reason"}}`, "nested reason", skyvern.ErrValidation, 0},
		{"json array", 400, "application/json", `["a"]`, `["a"]`, skyvern.ErrValidation, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := c.GetRun(context.Background(), "tsk_1", skyvern.WithMaxRetries(0))
			var apiErr *skyvern.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.wantDetail, apiErr.Detail)
			assert.Equal(t, tc.body, string(apiErr.Body))
			assert.Len(t, apiErr.ValidationErrors, tc.wantItems)
			assert.ErrorIs(t, err, tc.wantIs)
			assert.Contains(t, err.Error(), "GET "+baseURLPath+"/v1/runs/tsk_1: "+strconv.Itoa(tc.status))
		})
	}
}

func TestErrorBodyIsBounded(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		chunk := make([]byte, 64<<10)
		for i := 0; i < 64; i++ { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	_, err := c.GetRun(context.Background(), "tsk_1")
	var apiErr *skyvern.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 1<<20, len(apiErr.Body))
	assert.LessOrEqual(t, len(apiErr.Error()), 1024)
}

func TestValidationDetailField(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/run/tasks", status(422, `{"detail":[{"type":"missing","loc":["body","prompt"],"msg":"Field required","input":null}]}`))
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"})
	var apiErr *skyvern.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Len(t, apiErr.ValidationErrors, 1)
	v := apiErr.ValidationErrors[0]
	assert.Equal(t, "body.prompt", v.Field())
	assert.Equal(t, "missing", v.Type)
	assert.Equal(t, "null", string(v.Input))
}

// logRecords decodes the JSON lines a slog.JSONHandler wrote.
func logRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		recs = append(recs, rec)
	}
	return recs
}

// The client logs its own records, never go-retryablehttp's lines ("timeout"
// that is really the backoff, "remaining=1048576", ERROR for attempts the
// SDK then handles): one per failed attempt and one per call outcome, with
// the path and no query string, and never the key.
func TestLoggerRecordsAttemptsAndOutcome(t *testing.T) {
	t.Parallel()
	var buf skyvern.SafeBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux, _ := setup(t, skyvern.WithLogger(logger), skyvern.WithRetryWait(time.Millisecond, 2*time.Millisecond))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts, status(503, ``), status(200, okRun)))
	_, err := c.GetRun(context.Background(), "tsk_1", skyvern.WithQuery("secret_param", "q-value"))
	require.NoError(t, err)
	out := buf.String()
	assert.NotContains(t, out, testAPIKey)
	assert.NotContains(t, out, "q-value", "query strings are never logged")
	assert.NotContains(t, out, "remaining", "go-retryablehttp's own lines are not forwarded")
	assert.NotContains(t, out, "retrying request")

	recs := logRecords(t, out)
	require.Len(t, recs, 2, out)
	retry, outcome := recs[0], recs[1]
	assertAttrs(t, retry, map[string]any{
		"level": "INFO", "msg": "skyvern: retrying", "method": "GET", "path": "/api-prefix/v1/runs/tsk_1",
		"attempt": 1.0, "status": 503.0, "retry_class": "read", "retry": true, "reason": "server error",
	})
	wait, ok := retry["wait"].(float64)
	require.True(t, ok, "wait is a duration: %v", retry["wait"])
	assert.Positive(t, wait)
	assert.LessOrEqual(t, time.Duration(wait), 2*time.Millisecond)

	assertAttrs(t, outcome, map[string]any{
		"level": "DEBUG", "msg": "skyvern: call", "outcome": "ok", "attempts": 2.0, "status": 200.0, "path": "/api-prefix/v1/runs/tsk_1",
	})
}

// assertAttrs checks that rec holds want's attributes (as decoded JSON).
func assertAttrs(t *testing.T, rec, want map[string]any) {
	t.Helper()
	for k, v := range want {
		assert.Equal(t, v, rec[k], "attribute %s", k)
	}
}

// A run-creating call that ends in a 500 logs its one attempt as not
// retried, and its outcome as unknown, at WARN.
func TestLoggerRecordsUnknownOutcome(t *testing.T) {
	t.Parallel()
	var buf skyvern.SafeBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux, _ := setup(t, skyvern.WithLogger(logger))
	mux.HandleFunc("/v1/run/tasks", status(500, `{"detail":"boom"}`))
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"})
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
	recs := logRecords(t, buf.String())
	require.Len(t, recs, 2)
	assertAttrs(t, recs[0], map[string]any{"level": "DEBUG", "retry": false, "retry_class": "unsafe", "reason": "not safe to resend", "wait": nil})
	assertAttrs(t, recs[1], map[string]any{"level": "WARN", "outcome": "outcome_unknown", "status": 500.0})
	assert.NotContains(t, buf.String(), testAPIKey)
}
