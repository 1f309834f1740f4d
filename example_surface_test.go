package skyvern_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// exampleWorkflow is a two-block workflow: a loop over months whose body
// downloads each invoice, then a step that sums them.
func exampleWorkflow() *skyvern.WorkflowRequest {
	return &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
		Title: "Invoices",
		WorkflowDefinition: skyvern.WorkflowDefinitionBody{
			Parameters: skyvern.Parameters{&skyvern.WorkflowParameter{Key: "months", WorkflowParameterType: skyvern.WorkflowParameterJSON}},
			Blocks: skyvern.Blocks{
				&skyvern.ForLoopBlock{Label: "each_month", LoopVariableReference: "months", LoopBlocks: skyvern.Blocks{
					&skyvern.TaskBlock{Label: "download_invoice", URL: "https://portal.example.com", NavigationGoal: "Download the invoice for {{ current_value }}"},
				}},
				&skyvern.TaskBlock{Label: "sum_totals", URL: "https://portal.example.com", NavigationGoal: "Add up the totals"},
			},
		},
	}}
}

// Walk what a workflow run did, block by block, nested blocks indented.
func ExampleClient_GetRunTimeline() {
	fake := skyverntest.NewServer()
	defer fake.Close()
	client, _ := skyvern.NewClient(fake.APIKey(), skyvern.WithBaseURL(fake.URL()))
	ctx := context.Background()

	wf, err := client.CreateWorkflow(ctx, exampleWorkflow())
	if err != nil {
		panic(err)
	}
	run, err := client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, Parameters: map[string]any{"months": []string{"jan", "feb"}}})
	if err != nil {
		panic(err)
	}
	_ = fake.Complete(run.RunID, map[string]any{"total": "19.50"}) // the fake finishes the run

	timeline, err := client.GetRunTimeline(ctx, run.RunID)
	if err != nil {
		panic(err)
	}
	skyvern.WalkTimeline(timeline, func(item *skyvern.TimelineItem, depth int) bool {
		if item.Block != nil {
			fmt.Printf("%s%s (%s): %s\n", strings.Repeat("  ", depth), item.Block.Label, item.Block.BlockType, item.Block.Status)
		}
		return true
	})
	// Output:
	// each_month (for_loop): completed
	//   download_invoice (task): completed
	// sum_totals (task): completed
}

// Save a finished run's browser recording. The recording comes from the
// storage host's presigned URL, which never sees the API key; an expired URL
// is refreshed once.
func ExampleClient_DownloadRecording() {
	fake := skyverntest.NewServer()
	defer fake.Close()
	client, _ := skyvern.NewClient(fake.APIKey(), skyvern.WithBaseURL(fake.URL()))
	ctx := context.Background()

	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Get the price", URL: "https://example.com"})
	if err != nil {
		panic(err)
	}
	// The fake records a recording and finishes the run.
	_, _ = fake.AddArtifact(run.RunID, skyvern.ArtifactTypeRecording, "recording.webm", bytes.Repeat([]byte{0x1a, 0x45, 0xdf, 0xa3}, 256))
	_ = fake.Complete(run.RunID, map[string]any{"price": "$29.99"})

	finished, err := client.GetRun(ctx, run.RunID)
	if err != nil {
		panic(err)
	}
	f, err := os.CreateTemp("", "recording-*.webm")
	if err != nil {
		panic(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := client.DownloadRecording(ctx, finished, f, skyvern.WithMaxDownloadBytes(512<<20))
	if err != nil {
		panic(err)
	}
	fmt.Println("saved", n, "bytes")
	// Output:
	// saved 1024 bytes
}

// Upload a file and hand it to a run that needs it: the run gets the file
// by its id, and the server deletes it when the run ends.
func ExampleClient_UploadFile() {
	fake := skyverntest.NewServer()
	defer fake.Close()
	client, _ := skyvern.NewClient(fake.APIKey(), skyvern.WithBaseURL(fake.URL()))
	ctx := context.Background()

	csv := strings.NewReader("name,email\nAda,ada@example.com\n") // an *os.File streams the same way
	up, err := client.UploadFile(ctx, "contacts.csv", csv, &skyvern.UploadFileParams{RetentionDays: skyvern.Ptr(1)})
	if err != nil {
		panic(err)
	}
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{
		Prompt:  "Import the attached contacts into the CRM",
		URL:     "https://crm.example.com/import",
		FileIDs: []string{up.FileID},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(up.FileID, "file_"), up.ExpiresAt != nil, run.Status)
	// Output:
	// true true created
}
