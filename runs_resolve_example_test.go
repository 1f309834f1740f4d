package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// After an ambiguous failure, ask what happened before sending again. Here
// the server creates the run and then loses the answer.
func ExampleClient_ResolveOutcome() {
	srv := skyverntest.NewServer()
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()),
		skyvern.WithRequestTimeout(time.Second))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	srv.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})

	req := &skyvern.TaskRunRequest{Prompt: "Get the price of this product", Title: "price check 123"}
	run, err := client.RunTask(ctx, req)
	if errors.Is(err, skyvern.ErrOutcomeUnknown) {
		fmt.Println("outcome unknown")
		run, err = client.ResolveOutcome(ctx, err)
		if errors.Is(err, skyvern.ErrNotCreated) {
			run, err = client.RunTask(ctx, req) // proven absent: safe to send again
		}
	}
	if err != nil {
		panic(err) // still unknown: the error says why and lists candidates
	}
	fmt.Println("found the run:", run.RunID == srv.Runs()[0].ID, "runs on the server:", srv.RunCount())
	// Output:
	// outcome unknown
	// found the run: true runs on the server: 1
}

// With automatic resolution the call itself returns the run an ambiguous
// attempt created, or sends again once nothing was.
func ExampleWithOutcomeResolution() {
	srv := skyverntest.NewServer()
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()),
		skyvern.WithRequestTimeout(200*time.Millisecond))
	if err != nil {
		panic(err)
	}
	// A proxy's 502 before the server saw the request: nothing is created,
	// and after the settle time (twice the attempt timeout) the call resends.
	srv.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{Status: 502})
	run, err := client.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "Get the price"},
		skyvern.WithOutcomeResolution(1))
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Status, srv.RunCount())
	// Output: created 1
}
