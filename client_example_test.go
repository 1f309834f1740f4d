package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/skyvern-go/skyvern"
)

// exampleServer stands in for Skyvern in the examples: it creates a task run
// and reports it completed on the second poll.
func exampleServer() *httptest.Server {
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/run/tasks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"run_id":"tsk_490440844256003946","status":"created","run_type":"task_v1","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:20:42.160725"}`)
	})
	mux.HandleFunc("GET /v1/runs/tsk_490440844256003946", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 2 {
			writeJSON(w, 200, `{"run_id":"tsk_490440844256003946","status":"running","run_type":"task_v1","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:21:00"}`)
			return
		}
		writeJSON(w, 200, `{"run_id":"tsk_490440844256003946","status":"completed","output":{"price":"$29.99"},"run_type":"task_v1","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34.993138","finished_at":"2026-01-31T15:23:34.992815"}`)
	})
	mux.HandleFunc("GET /v1/runs/tsk_old", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req_7f3a")
		w.Header().Set("Deprecation", "@1798761600")
		w.Header().Set("Sunset", "Wed, 30 Jun 2027 00:00:00 GMT")
		writeJSON(w, 200, `{"run_id":"tsk_old","status":"completed","run_type":"task_v1","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34.993138"}`)
	})
	mux.HandleFunc("GET /v1/runs/tsk_missing", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"detail":"Task run not found tsk_missing"}`)
	})
	mux.HandleFunc("POST /v1/runs/tsk_flaky/cancel", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, 502, `<html><head><title>502 Bad Gateway</title></head></html>`)
	})
	return httptest.NewServer(mux)
}

// Start a task whose result goes to your webhook, then wait for it by
// polling as a fallback.
func ExampleClient_RunTask() {
	srv := exampleServer()
	defer srv.Close()

	client, err := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{
		Prompt:     "Get the price of this product",
		URL:        "https://example.com/product/123",
		WebhookURL: "https://your-server.com/webhook",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.RunID, run.Status)

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	done, err := client.WaitForRun(ctx, run.RunID, skyvern.WithPollInterval(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		panic(err)
	}
	var out struct {
		Price string `json:"price"`
	}
	if err := done.DecodeOutput(&out); err != nil {
		panic(err)
	}
	fmt.Println(done.Status, out.Price, done.FinishedAt)
	// Output:
	// tsk_490440844256003946 created
	// completed $29.99 2026-01-31T15:23:34.992815
}

// Branch on the kind of failure with errors.Is and errors.As.
func ExampleAPIError() {
	srv := exampleServer()
	defer srv.Close()
	client, _ := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))

	_, err := client.GetRun(context.Background(), "tsk_missing")
	var apiErr *skyvern.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Detail)
	}
	fmt.Println(errors.Is(err, skyvern.ErrNotFound))
	// Output:
	// 404 Task run not found tsk_missing
	// true
}

// A call that starts work on the server is not resent after an ambiguous
// failure: the error says the outcome is unknown, and the caller checks.
func ExampleOutcomeUnknownError() {
	srv := exampleServer()
	defer srv.Close()
	client, _ := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))

	err := client.CancelRun(context.Background(), "tsk_flaky")
	fmt.Println(errors.Is(err, skyvern.ErrOutcomeUnknown))
	var apiErr *skyvern.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Detail)
	}
	// Output:
	// true
	// 502 502 Bad Gateway
}

// Read a call's status, request id and deprecation notices with
// WithResponse; a client with a logger also logs the notice once per route.
func ExampleWithResponse() {
	srv := exampleServer()
	defer srv.Close()
	client, _ := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))

	var resp skyvern.Response
	run, err := client.GetRun(context.Background(), "tsk_old", skyvern.WithResponse(&resp))
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Status, resp.StatusCode, resp.RequestID, resp.Attempts)
	if resp.Deprecated {
		fmt.Println("deprecated since", resp.DeprecatedAt.Format(time.DateOnly), "until", resp.Sunset.Format(time.DateOnly))
	}
	// Output:
	// completed 200 req_7f3a 1
	// deprecated since 2027-01-01 until 2027-06-30
}

// WithRequestTimeout and WithMaxRetries work at both levels: the client's
// defaults, and a call's own values on top.
func ExampleSharedOption() {
	srv := exampleServer()
	defer srv.Close()
	client, _ := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL),
		skyvern.WithRequestTimeout(30*time.Second), skyvern.WithMaxRetries(4))

	// This poll may take longer and should not be retried.
	_, err := client.GetRun(context.Background(), "tsk_missing", skyvern.WithRequestTimeout(2*time.Minute), skyvern.WithMaxRetries(0))
	fmt.Println(errors.Is(err, skyvern.ErrNotFound))

	// An invalid value is refused before anything is sent.
	_, err = client.GetRun(context.Background(), "tsk_missing", skyvern.WithMaxRetries(-1))
	fmt.Println(err)
	// Output:
	// true
	// skyvern: invalid request: WithMaxRetries must not be negative, got -1
}
