package skyvern_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// A redirect must never carry the API key to another host, and a
// run-creating call must never be re-posted by following a 307 or 308.
func TestRedirectsKeepTheKeyOnTheAPIHost(t *testing.T) {
	t.Parallel()
	var foreignHits, foreignKeys atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		if r.Header.Get("X-Api-Key") != "" {
			foreignKeys.Add(1)
		}
		writeJSON(w, 200, okRun)
	}))
	t.Cleanup(foreign.Close)

	cases := []struct {
		name   string
		route  string
		status int
		target func(apiURL string) string
		call   callFunc
	}{
		{"GetRun 307 to another host", "/v1/runs/tsk_1", http.StatusTemporaryRedirect, func(string) string { return foreign.URL + "/v1/runs/tsk_1" }, callGetRun},
		{"GetRun 302 to another host", "/v1/runs/tsk_1", http.StatusFound, func(string) string { return foreign.URL + "/v1/runs/tsk_1" }, callGetRun},
		{"RunTask 307 to another host", "/v1/run/tasks", http.StatusTemporaryRedirect, func(string) string { return foreign.URL + "/v1/run/tasks" }, callRunTask},
		{"RunTask 308 on the same host", "/v1/run/tasks", http.StatusPermanentRedirect, func(api string) string { return api + baseURLPath + "/v1/run/tasks2" }, callRunTask},
		{"RunWorkflow 307 on the same host", "/v1/run/workflows", http.StatusTemporaryRedirect, func(api string) string { return api + baseURLPath + "/v1/run/workflows2" }, callRunWorkflow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, mux, api := setup(t)
			var apiHits atomic.Int32
			mux.HandleFunc(tc.route, func(w http.ResponseWriter, r *http.Request) {
				apiHits.Add(1)
				http.Redirect(w, r, tc.target(api), tc.status)
			})
			mux.HandleFunc(tc.route+"2", func(w http.ResponseWriter, r *http.Request) {
				apiHits.Add(1)
				writeJSON(w, 200, okRun)
			})
			before := foreignHits.Load()
			err := tc.call(context.Background(), c)
			require.ErrorIs(t, err, skyvern.ErrRedirectRefused)
			assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown), "a redirect is an answer: nothing was created: %v", err)
			assert.EqualValues(t, 1, apiHits.Load(), "a refused redirect is neither followed nor retried")
			assert.Equal(t, before, foreignHits.Load(), "the other host was never called")
			assert.NotContains(t, err.Error(), testAPIKey)
		})
	}
	assert.Zero(t, foreignKeys.Load(), "the key never reached another host")

	t.Run("reads follow redirects on the API host", func(t *testing.T) {
		c, mux, api := setup(t)
		mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, api+baseURLPath+"/v1/runs/tsk_2", http.StatusTemporaryRedirect)
		})
		mux.HandleFunc("/v1/runs/tsk_2", func(w http.ResponseWriter, r *http.Request) {
			testHeader(t, r, "X-Api-Key", testAPIKey)
			writeJSON(w, 200, okRun)
		})
		_, err := c.GetRun(context.Background(), "tsk_1")
		require.NoError(t, err)
	})
}

// A 2xx that RunTask or RunWorkflow cannot read is an unknown outcome: the
// server created the run, so a caller that resends unless ErrOutcomeUnknown
// holds would pay for a second one.
func TestUnreadable2xxOnRunCreationIsUnknown(t *testing.T) {
	t.Parallel()
	bodies := map[string]behaviour{
		"html":             status(200, `<html><body>ok</body></html>`),
		"empty object":     status(200, `{}`),
		"cut-off JSON":     status(200, `{"run_id":"tsk_1","status":`),
		"null":             status(200, `null`),
		"body read failed": shortBody(`{"run_id":"tsk_1","status":"queued"}`),
	}
	for name, body := range bodies {
		for call, route := range map[string]string{"RunTask": "/v1/run/tasks", "RunWorkflow": "/v1/run/workflows"} {
			t.Run(call+"/"+name, func(t *testing.T) {
				t.Parallel()
				c, mux, _ := setup(t)
				var attempts atomic.Int32
				mux.HandleFunc(route, sequence(&attempts, body))
				err := map[string]callFunc{"RunTask": callRunTask, "RunWorkflow": callRunWorkflow}[call](context.Background(), c)
				require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
				var unknown *skyvern.OutcomeUnknownError
				require.ErrorAs(t, err, &unknown)
				assert.EqualValues(t, 1, attempts.Load())
			})
		}
	}
	t.Run("a read stays a plain malformed response", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		mux.HandleFunc("/v1/runs/tsk_1", status(200, `{}`))
		_, err := c.GetRun(context.Background(), "tsk_1")
		require.ErrorIs(t, err, skyvern.ErrMalformedResponse)
		assert.False(t, errors.Is(err, skyvern.ErrOutcomeUnknown))
	})
}

// shortBody announces a longer body than it sends, then closes the
// connection: the client's read of a 2xx body fails.
func shortBody(body string) behaviour {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)+100))
		w.WriteHeader(200)
		_, _ = io.WriteString(w, body)
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
}

// killReused serves one request per connection normally and, on a
// connection's second request, reads it whole and closes the connection
// without answering, as a server does when a keep-alive connection dies
// under a request. It counts the POSTs it read.
type killReused struct {
	posts atomic.Int32
	mu    sync.Mutex
	seen  map[string]bool
}

func newKillReused() *killReused { return &killReused{seen: map[string]bool{}} }

func (k *killReused) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if r.Method == http.MethodPost {
		k.posts.Add(1)
	}
	k.mu.Lock()
	reused := k.seen[r.RemoteAddr]
	k.seen[r.RemoteAddr] = true
	k.mu.Unlock()
	if reused {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	writeJSON(w, 200, okRun)
}

// Only the SDK decides when a run-creating POST is sent again. With an
// Idempotency-Key header, net/http would resend it by itself after the
// reused connection died (two POSTs, success reported).
func TestTransportNeverResendsRunCreation(t *testing.T) {
	t.Parallel()
	for _, header := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
		t.Run(header, func(t *testing.T) {
			t.Parallel()
			k := newKillReused()
			srv := httptest.NewServer(k)
			t.Cleanup(srv.Close)
			c, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL(srv.URL), skyvern.WithRetryWait(time.Millisecond, 2*time.Millisecond))
			require.NoError(t, err)
			_, err = c.GetRun(context.Background(), "tsk_1") // opens the keep-alive connection
			require.NoError(t, err)

			_, err = c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"}, skyvern.WithHeader(header, "k-1"))
			var invalid *skyvern.InvalidRequestError
			require.ErrorAs(t, err, &invalid)
			assert.Equal(t, header, invalid.Field)
			assert.Zero(t, k.posts.Load(), "refused before sending")

			_, err = c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p"})
			assert.ErrorIs(t, err, skyvern.ErrOutcomeUnknown, "the reused connection died under the POST")
			assert.EqualValues(t, 1, k.posts.Load(), "the POST was sent once")
		})
	}
}

// Nothing that prints or logs a Client shows the API key.
func TestClientNeverPrintsTheKey(t *testing.T) {
	t.Parallel()
	c, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL("https://skyvern.internal.example.com"))
	require.NoError(t, err)
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%t"} {
		outputs[verb+" pointer"] = fmt.Sprintf(verb, c)
		outputs[verb+" value"] = fmt.Sprintf(verb, *c)
	}
	outputs["struct holding it"] = fmt.Sprintf("%+v", struct{ C *skyvern.Client }{c})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("client", "client", c)
	outputs["slog JSON"] = buf.String()
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("client", "client", c)
	outputs["slog text"] = text.String()
	for name, out := range outputs {
		assert.NotContains(t, out, testAPIKey, name)
		assert.NotContains(t, out, fmt.Sprintf("%x", testAPIKey), name)
	}
	assert.Equal(t, "skyvern.Client{BaseURL: https://skyvern.internal.example.com, APIKey: [REDACTED]}", outputs["%+v pointer"])
	var rec struct {
		Client map[string]string `json:"client"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "https://skyvern.internal.example.com", rec.Client["base_url"])
}

// A certificate the client does not trust is permanent: no retry can fix
// it, so the call ends after one connection.
func TestCertificateErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, okRun) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL(srv.URL), skyvern.WithRetryWait(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	_, err = c.GetRun(context.Background(), "tsk_1")
	var certErr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &certErr)
	assert.EqualValues(t, 1, conns.Load(), "one handshake, no retry")
}

// The package's one rule for options: nil is ignored, zero selects the
// default, invalid is an error: from NewClient, or from the call as an
// *InvalidRequestError before anything is sent.
func TestOptionRule(t *testing.T) {
	t.Parallel()
	var nilShared skyvern.SharedOption
	c, err := skyvern.NewClient(testAPIKey, nil, nilShared, skyvern.WithHTTPClient(nil), skyvern.WithBaseURL(""),
		skyvern.WithMaxResponseBytes(0), skyvern.WithMaxRetryAfter(0), skyvern.WithRetryWait(0, 0), skyvern.WithRequestTimeout(0),
		skyvern.WithLogger(nil), skyvern.WithUserAgent(""))
	require.NoError(t, err)
	require.NotNil(t, c)

	c, mux, _ := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); writeJSON(w, 200, okRun) })
	invalid := map[string]skyvern.RequestOption{
		"WithMaxRetries":     skyvern.WithMaxRetries(-1),
		"WithRequestTimeout": skyvern.WithRequestTimeout(-time.Second),
		"WithHeader":         skyvern.WithHeader("Bad Header", "v"),
		"WithQuery":          skyvern.WithQuery("", "v"),
	}
	for name, opt := range invalid {
		_, err := c.GetRun(context.Background(), "tsk_1", opt)
		var inv *skyvern.InvalidRequestError
		require.ErrorAs(t, err, &inv, name)
		assert.Equal(t, name, inv.Field)
		assert.ErrorIs(t, err, skyvern.ErrValidation)
	}
	_, err = c.GetRun(context.Background(), "tsk_1", skyvern.WithHeader("X-Trace", "a\r\nX-Evil: 1"))
	assert.ErrorIs(t, err, skyvern.ErrValidation)
	_, err = c.WaitForRun(context.Background(), "tsk_1", skyvern.WithPollInterval(-time.Second, 0))
	assert.ErrorIs(t, err, skyvern.ErrValidation)
	_, err = c.WaitForRun(context.Background(), "tsk_1", skyvern.WithPollInterval(time.Second, time.Millisecond))
	assert.ErrorIs(t, err, skyvern.ErrValidation)
	_, err = c.WaitForRun(context.Background(), "tsk_1", skyvern.WithPollRequestOptions(skyvern.WithMaxRetries(-2)))
	assert.ErrorIs(t, err, skyvern.ErrValidation)
	assert.Zero(t, hits.Load(), "nothing is sent with an invalid option")

	var nilReq skyvern.RequestOption
	_, err = c.GetRun(context.Background(), "tsk_1", nilReq, nilShared, skyvern.WithMaxRetries(0), skyvern.WithRequestTimeout(0))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.WaitForRun(ctx, "tsk_1", nil, skyvern.OnPoll(nil), skyvern.WithPollInterval(0, 0), skyvern.WaitWithHub(nil))
	var waitErr *skyvern.WaitError
	require.ErrorAs(t, err, &waitErr, "okRun is queued: the wait polls until its context ends")
	assert.NotZero(t, hits.Load())
}

// WithMaxRetries and WithRequestTimeout are one option each at both levels:
// a call's value overrides the client's.
func TestSharedOptionsAtBothLevels(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(0), skyvern.WithRequestTimeout(100*time.Millisecond))
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/tsk_1", sequence(&attempts, status(503, ``), status(503, ``), status(200, okRun)))
	_, err := c.GetRun(context.Background(), "tsk_1")
	require.ErrorIs(t, err, skyvern.ErrServer)
	assert.EqualValues(t, 1, attempts.Load(), "the client's budget: no retry")
	_, err = c.GetRun(context.Background(), "tsk_1", skyvern.WithMaxRetries(5))
	require.NoError(t, err)
	assert.EqualValues(t, 3, attempts.Load(), "the call's budget")

	mux.HandleFunc("/v1/runs/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(300 * time.Millisecond):
		}
		writeJSON(w, 200, okRun)
	})
	_, err = c.GetRun(context.Background(), "slow")
	require.Error(t, err, "the client's 100 ms bound")
	_, err = c.GetRun(context.Background(), "slow", skyvern.WithRequestTimeout(20*time.Second))
	require.NoError(t, err, "the call's bound")
}

// Error strings say each thing once.
func TestErrorStrings(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, skyvern.WithMaxRetries(0))
	mux.HandleFunc("/v1/run/tasks", status(500, `{"detail":"boom"}`))
	mux.HandleFunc("/v1/runs/limited", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(429)
		_, _ = io.WriteString(w, "Too Many Requests")
	})
	mux.HandleFunc("/v1/runs/proxy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head></html>")
	})
	mux.HandleFunc("/v1/runs/bad", status(200, `{"run_id":`))
	mux.HandleFunc("/v1/run/workflows", status(200, `{}`))

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	dead, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL(closedURL), skyvern.WithMaxRetries(0))
	require.NoError(t, err)

	p := baseURLPath
	cases := []struct {
		name string
		err  func() error
		want string // exact, or a prefix when wantPrefix
		pre  bool
	}{
		{"outcome unknown over a 500", func() error { return callRunTask(context.Background(), c) },
			"skyvern: POST " + p + "/v1/run/tasks: outcome unknown, the server may have processed the request (check before retrying): 500 Internal Server Error: boom", false},
		{"429 that restates its status", func() error { _, err := c.GetRun(context.Background(), "limited"); return err },
			"skyvern: GET " + p + "/v1/runs/limited: 429 Too Many Requests", false},
		{"proxy page that restates its status", func() error { _, err := c.GetRun(context.Background(), "proxy"); return err },
			"skyvern: GET " + p + "/v1/runs/proxy: 502 Bad Gateway", false},
		{"malformed read", func() error { _, err := c.GetRun(context.Background(), "bad"); return err },
			"skyvern: GET " + p + "/v1/runs/bad: malformed response: unexpected end of JSON input", false},
		{"malformed run creation", func() error { return callRunWorkflow(context.Background(), c) },
			"skyvern: POST " + p + "/v1/run/workflows: outcome unknown, the server may have processed the request (check before retrying): malformed response: no run_id in response", false},
		{"connection refused", func() error { _, err := dead.GetRun(context.Background(), "tsk_1"); return err },
			"skyvern: GET /v1/runs/tsk_1: dial tcp ", true},
		{"callback URL with another scheme", func() error {
			_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "p", WebhookURL: "ftp://hooks.example.com/a b?token=s3cret"})
			return err
		}, "skyvern: invalid request: webhook_url must be an absolute http(s) URL; its scheme is ftp", false},
		{"base URL", func() error {
			_, err := skyvern.NewClient("k", skyvern.WithBaseURL("ftp://h/a b?t=s3cret"))
			return err
		},
			"skyvern: invalid base URL: it must be an absolute http(s) URL", false},
		{"option", func() error { _, err := skyvern.NewClient("k", skyvern.WithMaxRetries(-1)); return err },
			"skyvern: WithMaxRetries: must not be negative, got -1", false},
		{"option on a call", func() error { _, err := c.GetRun(context.Background(), "x", skyvern.WithMaxRetries(-1)); return err },
			"skyvern: invalid request: WithMaxRetries must not be negative, got -1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			require.Error(t, err)
			msg := err.Error()
			if tc.pre {
				assert.True(t, strings.HasPrefix(msg, tc.want), "%q does not start with %q", msg, tc.want)
			} else {
				assert.Equal(t, tc.want, msg)
			}
			assert.Equal(t, 1, strings.Count(msg, "skyvern:"), "the prefix once: %s", msg)
			assert.NotContains(t, msg, `"http`, "no quoted URL: %s", msg)
			assert.NotContains(t, msg, "%20", "no escaped echo: %s", msg)
			assert.NotContains(t, msg, "s3cret")
		})
	}

	t.Run("wait error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := (&skyvern.WaitError{RunID: "wr_1", Err: ctx.Err(), LastStatus: skyvern.RunStatusRunning,
			LastPollErr: &skyvern.APIError{StatusCode: 503, Method: "GET", Path: "/v1/runs/wr_1"}}).Error()
		assert.Equal(t, "skyvern: waiting for run wr_1: context canceled (last status running) (last poll failed: GET /v1/runs/wr_1: 503 Service Unavailable)", err)
	})
}

// WithResponse reads the status, headers, request id and deprecation
// notices of a call, on success and on an error status; a deprecated route
// is logged once at WARN.
func TestResponseMetadataAndDeprecation(t *testing.T) {
	t.Parallel()
	var buf skyvern.SafeBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, mux, _ := setup(t, skyvern.WithLogger(logger), skyvern.WithMaxRetries(0))
	sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	mux.HandleFunc("/v1/runs/tsk_1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req_123")
		w.Header().Set("Deprecation", "@1798761600")
		w.Header().Set("Sunset", sunset.Format(http.TimeFormat))
		w.Header().Set("Link", `<https://docs.skyvern.com/changes>; rel="deprecation", <https://x.example.com>; rel="other"`)
		writeJSON(w, 200, okRun)
	})
	mux.HandleFunc("/v1/runs/missing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", "req_404")
		writeJSON(w, 404, `{"detail":"Run not found missing"}`)
	})

	var resp skyvern.Response
	for range 3 {
		_, err := c.GetRun(context.Background(), "tsk_1", skyvern.WithResponse(&resp))
		require.NoError(t, err)
	}
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "req_123", resp.RequestID)
	assert.Equal(t, 1, resp.Attempts)
	assert.True(t, resp.Deprecated)
	assert.Equal(t, time.Unix(1798761600, 0).UTC(), resp.DeprecatedAt)
	assert.Equal(t, sunset, resp.Sunset)
	assert.Equal(t, "https://docs.skyvern.com/changes", resp.DeprecationLink)
	assert.Equal(t, "req_123", resp.Header.Get("X-Request-Id"))

	recs := logRecords(t, buf.String())
	require.Len(t, recs, 1, "logged once per route: %s", buf.String())
	assertAttrs(t, recs[0], map[string]any{"level": "WARN", "method": "GET", "path": baseURLPath + "/v1/runs/tsk_1",
		"sunset": "2027-06-30T00:00:00Z", "link": "https://docs.skyvern.com/changes"})

	_, err := c.GetRun(context.Background(), "missing", skyvern.WithResponse(&resp))
	require.ErrorIs(t, err, skyvern.ErrNotFound)
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, "req_404", resp.RequestID)
	assert.False(t, resp.Deprecated)
	assert.True(t, resp.Sunset.IsZero())
}

// WaitForRun exposes the last run it saw on its *WaitError.
func TestWaitErrorCarriesLastRun(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var attempts atomic.Int32
	mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts, statusSteps(skyvern.RunStatusRunning)...))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	run, err := c.WaitForRun(ctx, "wr_1", fastPolls)
	var waitErr *skyvern.WaitError
	require.ErrorAs(t, err, &waitErr)
	require.NotNil(t, waitErr.LastRun)
	assert.Same(t, run, waitErr.LastRun)
	assert.Equal(t, skyvern.RunStatusRunning, waitErr.LastRun.Status)
}

// WaitForRun's pauses are capped: a Retry-After of an hour is not waited
// out, and the poll interval stops growing at its cap. Both waits would
// outlast their context if the caps were gone.
func TestWaitForRunPausesAreCapped(t *testing.T) {
	t.Parallel()
	t.Run("Retry-After", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t, skyvern.WithMaxRetries(0), skyvern.WithMaxRetryAfter(20*time.Millisecond))
		var attempts atomic.Int32
		mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts,
			status(429, ``, "Retry-After", "3600"),
			status(503, ``, "Retry-After", "3600"),
			status(200, runWithStatus(skyvern.RunStatusCompleted))))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		run, err := c.WaitForRun(ctx, "wr_1", fastPolls)
		require.NoError(t, err)
		assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
	})
	t.Run("poll interval", func(t *testing.T) {
		t.Parallel()
		c, mux, _ := setup(t)
		var attempts atomic.Int32
		running := make([]skyvern.RunStatus, 24)
		for i := range running {
			running[i] = skyvern.RunStatusRunning
		}
		steps := statusSteps(append(running, skyvern.RunStatusCompleted)...)
		mux.HandleFunc("/v1/runs/wr_1", sequence(&attempts, steps...))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Uncapped, 25 pauses growing by half from 10 ms would take hours.
		run, err := c.WaitForRun(ctx, "wr_1", skyvern.WithPollInterval(10*time.Millisecond, 20*time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, skyvern.RunStatusCompleted, run.Status)
		assert.EqualValues(t, 25, attempts.Load())
	})
}
