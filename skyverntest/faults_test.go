package skyverntest

import (
	"context"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send posts a task and reports the status, or 0 when no answer arrived.
func send(t *testing.T, s *Server, client *http.Client, timeout time.Duration) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v1/run/tasks", strings.NewReader(`{"prompt":"p"}`))
	require.NoError(t, err)
	req.Header.Set("x-api-key", s.APIKey())
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		return resp.StatusCode, b.String() + " retry-after=" + ra
	}
	return resp.StatusCode, b.String()
}

func TestFaultStatuses(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	c := s.Client()
	s.InjectFault(RouteRunTask, Fault{Status: 503, RetryAfter: "2", Times: 2})
	s.InjectFault(RouteRunTask, Fault{Status: 500})
	s.InjectFault(RouteRunTask, Fault{Status: 502, Body: "<html>bad gateway</html>", Header: http.Header{"Content-Type": {"text/html"}}})
	s.InjectFault(RouteGetRun, Fault{Status: 429})
	want := []struct {
		status int
		body   string
	}{
		{503, `{"detail":"Service Unavailable"} retry-after=2`},
		{503, `{"detail":"Service Unavailable"} retry-after=2`},
		{500, `{"error":"Unexpected error: InjectedFault"}`},
		{502, `<html>bad gateway</html>`},
		{200, ""},
	}
	for i, w := range want {
		status, body := send(t, s, c, 10*time.Second)
		assert.Equal(t, w.status, status, "request %d", i)
		if w.body != "" {
			assert.Equal(t, w.body, body, "request %d", i)
		}
	}
	assert.Equal(t, 1, s.RunCount(), "faulted requests were not processed")
	reqs := s.Requests()
	require.Len(t, reqs, 5)
	require.NotNil(t, reqs[0].Fault)
	assert.Equal(t, 503, reqs[0].Fault.Status)
	assert.Equal(t, 503, reqs[0].StatusCode)
	assert.Nil(t, reqs[4].Fault)

	resp := doRequest(t, s, http.MethodGet, "/v1/runs/x", nil)
	assert.Equal(t, 429, resp.status, "faults are per route")
	assert.Equal(t, `{"detail":"Too Many Requests"}`, string(resp.body))

	s.InjectFault(RouteRunTask, Fault{Status: 7})
	status, body := send(t, s, c, 10*time.Second)
	assert.Equal(t, 500, status, "an invalid status becomes 500")
	assert.Equal(t, `{"error":"Unexpected error: InjectedFault"}`, body)
}

func TestFaultForeverAndClear(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.InjectFault(RouteRunTask, Fault{Status: 503, Times: -1})
	for i := 0; i < 4; i++ {
		status, _ := send(t, s, s.Client(), 10*time.Second)
		assert.Equal(t, 503, status)
	}
	s.ClearFaults()
	status, _ := send(t, s, s.Client(), 10*time.Second)
	assert.Equal(t, 200, status)
}

func TestFaultDrops(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.InjectFault(RouteRunTask, Fault{Drop: true})
	status, msg := send(t, s, s.Client(), 10*time.Second)
	assert.Zero(t, status, "no answer: %s", msg)
	assert.Zero(t, s.RunCount(), "a dropped request is not processed")

	s.InjectFault(RouteRunTask, Fault{DropAfterProcessing: true})
	status, msg = send(t, s, s.Client(), 10*time.Second)
	assert.Zero(t, status, "no answer: %s", msg)
	assert.Equal(t, 1, s.RunCount(), "processed, then the answer was lost")
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Zero(t, reqs[1].StatusCode)
	assert.True(t, reqs[1].Fault.DropAfterProcessing)
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.InjectFault(RouteRunTask, Fault{Latency: 10 * time.Millisecond})
	status, _ := send(t, s, s.Client(), 10*time.Second)
	assert.Equal(t, 200, status, "latency alone still serves the request")

	s.InjectFault(RouteRunTask, Fault{Latency: time.Hour})
	status, msg := send(t, s, s.Client(), 50*time.Millisecond)
	assert.Zero(t, status)
	assert.Contains(t, msg, "deadline exceeded")
	require.Eventually(t, func() bool {
		reqs := s.Requests()
		return len(reqs) == 2 && reqs[1].Fault != nil
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, s.RunCount(), "the client gave up during the latency; nothing was processed")

	s.InjectFault(RouteRunTask, Fault{Latency: time.Millisecond, Status: 504})
	status, _ = send(t, s, s.Client(), 10*time.Second)
	assert.Equal(t, 504, status)
}

// TestConcurrentFaults drives many clients against random faults and checks
// that the server's run count matches what the clients can account for.
func TestConcurrentFaults(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	rnd := rand.New(rand.NewSource(1))
	kinds := []Fault{{Status: 503}, {Status: 429, RetryAfter: "1"}, {Drop: true}, {DropAfterProcessing: true}, {Latency: time.Millisecond}}
	s.SetFaultPolicy(func(r Route) *Fault {
		if r != RouteRunTask || rnd.Intn(2) == 0 {
			return nil
		}
		f := kinds[rnd.Intn(len(kinds))]
		return &f
	})
	const workers, each = 8, 40
	var ok, dropped atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for i := 0; i < each; i++ {
				status, _ := send(t, s, client, 10*time.Second)
				switch status {
				case 200:
					ok.Add(1)
				case 0:
					dropped.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	processedDrops := 0
	for _, r := range s.Requests() {
		if r.Fault != nil && r.Fault.DropAfterProcessing {
			processedDrops++
		}
	}
	assert.Equal(t, int(ok.Load())+processedDrops, s.RunCount())
	assert.Len(t, s.Requests(), workers*each)
	assert.Positive(t, dropped.Load())
}

func TestFaultStatusAfterProcessing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     Fault
		status    int
		body      string
		processed bool
	}{
		{"500 after the run was created", Fault{Status: 500, StatusAfterProcessing: true}, 500,
			`{"error":"Unexpected error: InjectedFault"}`, true},
		{"proxy 504 after the backend answered", Fault{Status: 504, StatusAfterProcessing: true,
			Body: "<html>gateway timeout</html>", Header: http.Header{"Content-Type": {"text/html"}}}, 504,
			`<html>gateway timeout</html>`, true},
		{"status alone is not processed", Fault{Status: 502}, 502, `{"detail":"Bad Gateway"}`, false},
		{"the flag alone changes nothing", Fault{StatusAfterProcessing: true}, 200, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			s.InjectFault(RouteRunTask, tt.fault)
			status, body := send(t, s, s.Client(), 10*time.Second)
			assert.Equal(t, tt.status, status)
			if tt.body != "" {
				assert.Equal(t, tt.body, body)
			}
			wantRuns := 0
			if tt.processed {
				wantRuns = 1
			}
			assert.Equal(t, wantRuns, s.RunCount())
			reqs := s.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.status, reqs[0].StatusCode)
			require.NotNil(t, reqs[0].Fault)
			assert.Equal(t, tt.fault.StatusAfterProcessing, reqs[0].Fault.StatusAfterProcessing)
		})
	}
}

// TestFaultStatusAfterProcessingIdempotentCreate checks that a workflow
// created before the injected 500 is the one a retry with the same key gets.
func TestFaultStatusAfterProcessingIdempotentCreate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.InjectFault(RouteCreateWorkflow, Fault{Status: 500, StatusAfterProcessing: true})
	failed := doRequest(t, s, http.MethodPost, "/v1/workflows", invoiceDefinition, "Idempotency-Key", "k-500")
	assert.Equal(t, 500, failed.status)
	require.Equal(t, 1, s.WorkflowCount(), "the workflow was created before the 500")

	retry := doRequest(t, s, http.MethodPost, "/v1/workflows", invoiceDefinition, "Idempotency-Key", "k-500")
	require.Equal(t, 200, retry.status)
	assert.Equal(t, s.Workflows()[0].WorkflowPermanentID, retry.object(t)["workflow_permanent_id"])
	assert.Equal(t, 1, s.WorkflowCount(), "the retry found the workflow instead of creating another")
}
