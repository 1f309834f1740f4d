// Command run-task starts a Skyvern task and waits for its result.
//
//	SKYVERN_API_KEY=... go run ./examples/run-task -prompt "Get the title of the top post" -url https://news.ycombinator.com
//
// With -webhook the result is also delivered, signed, to that public URL
// (see examples/webhook-receiver). Polling with WaitForRun is the fallback
// that works without one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/skyvern-go/skyvern"
)

func main() {
	prompt := flag.String("prompt", "Get the title of the top post", "what the agent should do")
	url := flag.String("url", "https://news.ycombinator.com", "the page to start on")
	webhook := flag.String("webhook", "", "public URL that receives the signed result (optional)")
	timeout := flag.Duration("timeout", 30*time.Minute, "how long to wait for the run")
	flag.Parse()

	apiKey := os.Getenv("SKYVERN_API_KEY")
	if apiKey == "" {
		log.Fatal("set SKYVERN_API_KEY (or run go run ./examples/quickstart, which needs no key)")
	}
	client, err := skyvern.NewClient(apiKey)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{
		Prompt:     *prompt,
		URL:        *url,
		WebhookURL: *webhook,
	})
	switch {
	case errors.Is(err, skyvern.ErrOutcomeUnknown):
		// The task may have started. Running again could start a second
		// one, so say so instead of retrying.
		log.Fatalf("the run may or may not have been created; check the Skyvern app before retrying: %v", err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Printf("started %s (%s): %s\n", run.RunID, run.Status, run.AppURL)

	waitCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	done, err := client.WaitForRun(waitCtx, run.RunID, skyvern.OnPoll(func(r *skyvern.Run) {
		fmt.Printf("  %s\n", r.Status)
	}))
	if err != nil {
		// The run goes on server-side; WaitForRun never cancels it.
		log.Fatalf("stopped waiting: %v", err)
	}

	fmt.Printf("finished: %s\n", done.Status)
	if done.FailureReason != "" {
		fmt.Printf("failure reason: %s\n", done.FailureReason)
	}
	if done.HasOutput() {
		var pretty any
		if err := done.DecodeOutput(&pretty); err == nil {
			out, _ := json.MarshalIndent(pretty, "", "  ")
			fmt.Printf("output:\n%s\n", out)
		}
	}
}
