package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// The whole story: start a task with a webhook, receive the signed result
// exactly once, and learn it in WaitForRun the moment it lands. The fake
// Skyvern of package skyverntest stands in for the service.
func Example() {
	srv := skyverntest.NewServer()
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	wh, err := skyvern.NewWebhook(srv.APIKey())
	if err != nil {
		panic(err)
	}
	hub, err := skyvern.NewRunHub()
	if err != nil {
		panic(err)
	}
	processed := make(chan string, 1)
	receiver := httptest.NewServer(wh.Handler(func(_ context.Context, p *skyvern.WebhookPayload) error {
		processed <- fmt.Sprint("webhook: ", p.Status, " final: ", p.IsFinal())
		return nil // persist p and return: a nil error answers 200
	}, skyvern.WithRunHub(hub)))
	defer receiver.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", WebhookURL: receiver.URL})
	if err != nil {
		panic(err)
	}
	if err := srv.Complete(run.RunID, map[string]any{"price": "$29.99"}); err != nil {
		panic(err)
	}
	fmt.Println(<-processed)
	done, err := client.WaitForRun(ctx, run.RunID, skyvern.WaitWithHub(hub))
	if err != nil {
		panic(err)
	}
	var out struct {
		Price string `json:"price"`
	}
	if err := done.DecodeOutput(&out); err != nil {
		panic(err)
	}
	fmt.Println("result:", done.Status, out.Price)
	// Output:
	// webhook: completed final: true
	// result: completed $29.99
}

// WaitForRun polls until the run is final. When ctx ends first, the error
// is a *WaitError that carries the last run seen; the run itself goes on.
func ExampleClient_WaitForRun() {
	srv := skyverntest.NewServer()
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	run, err := client.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "Get the price"})
	if err != nil {
		panic(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = client.WaitForRun(ctx, run.RunID, skyvern.WithPollInterval(10*time.Millisecond, 20*time.Millisecond))
	var werr *skyvern.WaitError
	if errors.As(err, &werr) {
		fmt.Println("gave up waiting; last status:", werr.LastRun.Status)
	}

	if err := srv.Complete(run.RunID, nil); err != nil {
		panic(err)
	}
	done, err := client.WaitForRun(context.Background(), run.RunID, skyvern.WithPollInterval(10*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		panic(err)
	}
	fmt.Println("final:", done.Status, done.IsFinal())
	// Output:
	// gave up waiting; last status: created
	// final: completed true
}

// A RunHub remembers recent final outcomes, so a wait that begins after
// the webhook arrived returns at once, with the run the webhook carried.
// Here the fake still reports the run as created: the hub's event, which a
// Handler made with WithRunHub(hub) would publish, ends the wait.
func ExampleRunHub() {
	srv := skyverntest.NewServer()
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price"})
	if err != nil {
		panic(err)
	}

	hub, err := skyvern.NewRunHub()
	if err != nil {
		panic(err)
	}
	body := fmt.Appendf(nil, `{"run_id":%q,"status":"completed","run_type":"task_v1","output":{"price":"$29.99"}}`, run.RunID)
	hub.Publish(run.RunID, skyvern.RunStatusCompleted, body)

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done, err := client.WaitForRun(ctx, run.RunID, skyvern.WaitWithHub(hub))
	if err != nil {
		panic(err)
	}
	fmt.Println(done.Status, string(done.Output))
	// Output:
	// completed {"price":"$29.99"}
}
