// Command create-and-run-workflow creates the "Invoice Downloader" workflow
// with a default webhook, then runs it once with a per-run webhook override.
//
//	SKYVERN_API_KEY=... go run ./examples/create-and-run-workflow \
//	    -webhook https://your-server.com/webhook \
//	    -run-webhook https://your-server.com/different-webhook
//
// The two webhook fields are easy to mix up, and the server silently ignores
// the wrong one. In Go the mistake does not compile:
//
//	creating a workflow  -> WorkflowDefinition.WebhookCallbackURL (json_definition.webhook_callback_url)
//	running a workflow   -> WorkflowRunRequest.WebhookURL         (top-level webhook_url, overrides the default)
//	running a task       -> TaskRunRequest.WebhookURL             (top-level webhook_url)
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
	webhook := flag.String("webhook", "https://your-server.com/webhook", "default webhook for every run of the workflow")
	runWebhook := flag.String("run-webhook", "", "webhook for this one run (overrides the default)")
	portal := flag.String("portal", "https://vendor-portal.example.com", "where the invoices are")
	flag.Parse()

	apiKey := os.Getenv("SKYVERN_API_KEY")
	if apiKey == "" {
		log.Fatal("set SKYVERN_API_KEY (or run go run ./examples/quickstart, which needs no key)")
	}
	client, err := skyvern.NewClient(apiKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// CreateWorkflow sends an Idempotency-Key, so its retries never create
	// a second workflow.
	wf, err := client.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
		Title:              "Invoice Downloader",
		WebhookCallbackURL: *webhook,
		WorkflowDefinition: skyvern.WorkflowDefinitionBody{
			Parameters: skyvern.Parameters{
				&skyvern.WorkflowParameter{Key: "invoice_month", WorkflowParameterType: skyvern.WorkflowParameterString, Description: "Month to download, YYYY-MM"},
			},
			Blocks: skyvern.Blocks{
				&skyvern.TaskBlock{
					Label:          "download_invoice",
					URL:            *portal,
					NavigationGoal: "Download the invoice for {{ invoice_month }}",
					ParameterKeys:  []string{"invoice_month"},
				},
			},
		},
	}})
	var unknown *skyvern.OutcomeUnknownError
	switch {
	case errors.As(err, &unknown):
		// Safe to repeat: the same key returns the same workflow.
		log.Fatalf("creation outcome unknown; retry with WorkflowRequest.IdempotencyKey set to %q: %v", unknown.IdempotencyKey, err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Printf("workflow %s (version %d), default webhook %s\n", wf.WorkflowPermanentID, wf.Version, wf.WebhookCallbackURL)

	run, err := client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{
		WorkflowID: wf.WorkflowPermanentID,
		Parameters: map[string]any{"invoice_month": time.Now().Format("2006-01")},
		WebhookURL: *runWebhook, // empty: the workflow's default applies
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("run %s is %s: %s\n", run.RunID, run.Status, run.AppURL)
}
