// Command retry-webhook replays a finished run's webhook, optionally to a
// different URL, and prints what the receiver answered.
//
//	SKYVERN_API_KEY=... go run ./examples/retry-webhook -run tsk_v2_486305187432193504
//	SKYVERN_API_KEY=... go run ./examples/retry-webhook -run wr_123 -url https://your-server.com/new-webhook
//
// Skyvern rebuilds the payload from the run's current state, signs it with a
// new timestamp and delivers it once. A receiver that dedupes on run_id and
// status (the SDK's Webhook.Handler does) processes it at most once, so a
// replay is always safe to send.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/skyvern-go/skyvern"
)

func main() {
	runID := flag.String("run", "", "the run whose webhook to send again (required)")
	url := flag.String("url", "", "send to this URL instead of the run's own webhook URL")
	flag.Parse()
	if *runID == "" {
		flag.Usage()
		os.Exit(2)
	}
	apiKey := os.Getenv("SKYVERN_API_KEY")
	if apiKey == "" {
		log.Fatal("set SKYVERN_API_KEY")
	}
	client, err := skyvern.NewClient(apiKey)
	if err != nil {
		log.Fatal(err)
	}

	// Skyvern answers after its own delivery attempt, which may take a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run, err := client.GetRun(ctx, *runID)
	if err != nil {
		log.Fatal(err)
	}
	if !run.IsTerminal() {
		log.Fatalf("run %s is %s; only finished runs have a webhook to replay", run.RunID, run.Status)
	}

	var req *skyvern.RetryRunWebhookRequest
	if *url != "" {
		req = &skyvern.RetryRunWebhookRequest{WebhookURL: *url}
	}
	replay, err := client.RetryRunWebhook(ctx, *runID, req)
	switch {
	case errors.Is(err, skyvern.ErrOutcomeUnknown):
		log.Fatalf("the replay may have been delivered; a deduplicating receiver makes sending it again harmless: %v", err)
	case err != nil:
		log.Fatal(err)
	}

	switch {
	case replay.Delivered():
		fmt.Printf("delivered to %s: HTTP %d in %d ms\n", replay.TargetWebhookURL, *replay.StatusCode, deref(replay.LatencyMS))
	case replay.StatusCode != nil:
		fmt.Printf("receiver %s answered HTTP %d: %s\n", replay.TargetWebhookURL, *replay.StatusCode, replay.ResponseBody)
	case replay.Error != "":
		fmt.Printf("delivery failed: %s\n", replay.Error)
	default:
		fmt.Println("replay requested; the server did not report the delivery")
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
