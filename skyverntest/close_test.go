package skyverntest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestCloseStopsEverything closes a server while it has an auto-advance
// timer pending, a delivery blocked on a receiver, a delivery waiting out
// its backoff, a request sleeping in injected latency and a replay blocked
// on a receiver, and checks that no goroutine survives. It is not parallel,
// so that the goroutine snapshot sees only its own work.
func TestCloseStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	blocked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the context ends with the connection only once the body is read
		<-r.Context().Done()
	}))
	defer blocked.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()

	s := NewServer(WithAutoAdvance(time.Hour, Outcome{}))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	post := func(path, body string) string {
		req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("x-api-key", s.APIKey())
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m struct {
			RunID string `json:"run_id"`
		}
		_ = decodeJSON(resp, &m)
		return m.RunID
	}
	slowRun := post("/v1/run/tasks", `{"prompt":"p","webhook_url":"`+blocked.URL+`"}`)
	backoffRun := post("/v1/run/tasks", `{"prompt":"p","webhook_url":"`+failing.URL+`"}`)
	replayRun := post("/v1/run/tasks", `{"prompt":"p"}`)
	require.NoError(t, s.Complete(slowRun, nil))
	require.NoError(t, s.Complete(backoffRun, nil))
	require.NoError(t, s.Complete(replayRun, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, waitForAttempt(ctx, s, backoffRun))

	s.InjectFault(RouteGetRun, Fault{Latency: time.Hour})
	var inflight sync.WaitGroup
	for _, do := range []func(){
		func() { _, _ = client.Get(s.URL() + "/v1/runs/x") },
		func() { post("/v1/runs/"+replayRun+"/retry_webhook", `{"webhook_url":"`+blocked.URL+`"}`) },
	} {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			do()
		}()
	}
	require.Eventually(t, func() bool { return len(s.Requests()) == 5 }, 10*time.Second, time.Millisecond)

	s.Close()
	inflight.Wait()
	_, err := s.WaitForStatus(ctx, slowRun, skyvern.RunStatusRunning)
	assert.ErrorIs(t, err, ErrServerClosed)
}

func waitForAttempt(ctx context.Context, s *Server, runID string) error {
	return s.waitFor(ctx, func() bool {
		for _, a := range s.attempts {
			if a.RunID == runID {
				return true
			}
		}
		return false
	})
}
