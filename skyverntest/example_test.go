package skyverntest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// A test starts a run on the fake, finishes it, and receives the signed
// webhook on its own handler.
func Example() {
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		valid := r.Header.Get(skyvern.SignatureHeader) == skyvern.Sign(body, skyverntest.DefaultAPIKey)
		var p struct {
			RunID  string `json:"run_id"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal(body, &p)
		got <- fmt.Sprintf("webhook: status=%s signature valid=%v", p.Status, valid)
	}))
	defer receiver.Close()

	srv := skyverntest.NewServer()
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/v1/run/tasks",
		strings.NewReader(`{"prompt":"Find the top post","webhook_url":"`+receiver.URL+`"}`))
	req.Header.Set("x-api-key", srv.APIKey())
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	var run struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	fmt.Println("created:", run.Status)

	_ = srv.Complete(run.RunID, map[string]any{"title": "Hello"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	delivery, _ := srv.WaitForDelivery(ctx, run.RunID)
	fmt.Println(<-got)
	fmt.Println("attempts:", len(delivery.Attempts))
	// Output:
	// created: created
	// webhook: status=completed signature valid=true
	// attempts: 1
}

// Test code that uses the SDK end to end: the client talks to the fake, the
// fake signs and delivers the webhook to an SDK handler, and WaitForRun
// returns the moment the handler has processed it.
func Example_withClient() {
	srv := skyverntest.NewServer()
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()))
	if err != nil {
		fmt.Println(err)
		return
	}

	wh, _ := skyvern.NewWebhook(srv.APIKey())
	hub, err := skyvern.NewRunHub()
	if err != nil {
		fmt.Println(err)
		return
	}
	processed := make(chan string, 1)
	receiver := httptest.NewServer(wh.Handler(func(_ context.Context, p *skyvern.WebhookPayload) error {
		processed <- fmt.Sprintf("processed %s once", p.Status)
		return nil
	}, skyvern.WithRunHub(hub)))
	defer receiver.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", WebhookURL: receiver.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = srv.Complete(run.RunID, map[string]any{"price": "$29.99"})

	done, err := client.WaitForRun(ctx, run.RunID, skyvern.WaitWithHub(hub))
	if err != nil {
		fmt.Println(err)
		return
	}
	var out struct {
		Price string `json:"price"`
	}
	_ = done.DecodeOutput(&out)
	fmt.Println(<-processed)
	fmt.Println(done.Status, out.Price)
	// Output:
	// processed completed once
	// completed $29.99
}
