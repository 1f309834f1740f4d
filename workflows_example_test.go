package skyvern_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/skyvern-go/skyvern"
)

// webhookEchoServer stands in for Skyvern: it prints the route it was called
// on and where the request body put a webhook, then answers with body.
func webhookEchoServer(body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, _ := io.ReadAll(r.Body)
		fmt.Println("server got", r.Method, r.URL.Path)
		for _, field := range webhookFields(payload) {
			fmt.Println("  " + field)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
}

// A workflow's default webhook is set when creating it, with
// WebhookCallbackURL inside the JSON definition: every run of the workflow
// reports there unless the run overrides it.
func ExampleClient_CreateWorkflow() {
	srv := webhookEchoServer(workflowJSON)
	defer srv.Close()
	client, err := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

	workflow, err := client.CreateWorkflow(context.Background(), &skyvern.WorkflowRequest{
		JSONDefinition: &skyvern.WorkflowDefinition{
			Title:              "Invoice Downloader",
			WebhookCallbackURL: "https://your-server.com/webhook",
			WorkflowDefinition: skyvern.WorkflowDefinitionBody{
				Blocks: skyvern.Blocks{
					&skyvern.TaskBlock{
						Label:          "download_invoice",
						URL:            "https://vendor-portal.example.com",
						NavigationGoal: "Download the latest invoice",
					},
				},
			},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created", workflow.WorkflowPermanentID, "reporting to", workflow.WebhookCallbackURL)
	// Output:
	// server got POST /v1/workflows
	//   json_definition.webhook_callback_url = https://your-server.com/webhook
	// created wpid_490440779503357998 reporting to https://your-server.com/webhook
}

// One run can report to another URL: WebhookURL at the top level of the run
// request overrides the workflow's WebhookCallbackURL.
func ExampleClient_RunWorkflow() {
	srv := webhookEchoServer(`{"run_id":"wr_490440779503358000","status":"created","run_type":"workflow_run","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:20:42.160725"}`)
	defer srv.Close()
	client, err := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

	run, err := client.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{
		WorkflowID: "wpid_490440779503357998", // Workflow.WorkflowPermanentID
		WebhookURL: "https://your-server.com/different-webhook",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("run", run.RunID, run.Status)
	// Output:
	// server got POST /v1/run/workflows
	//   webhook_url = https://your-server.com/different-webhook
	// run wr_490440779503358000 created
}

// AllWorkflows walks every page of the workflow list.
func ExampleClient_AllWorkflows() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page") == "1" {
			_, _ = io.WriteString(w, `[{"workflow_permanent_id":"wpid_1","title":"Invoice Downloader"},{"workflow_permanent_id":"wpid_2","title":"Receipt Finder"}]`)
			return
		}
		_, _ = io.WriteString(w, `[{"workflow_permanent_id":"wpid_3","title":"Statement Parser"}]`)
	}))
	defer srv.Close()
	client, err := skyvern.NewClient("sk_example", skyvern.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

	params := &skyvern.GetWorkflowsParams{PageSize: 2, Status: []skyvern.WorkflowStatus{skyvern.WorkflowStatusPublished}}
	for wf, err := range client.AllWorkflows(context.Background(), params) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(wf.WorkflowPermanentID, wf.Title)
	}
	// Output:
	// wpid_1 Invoice Downloader
	// wpid_2 Receipt Finder
	// wpid_3 Statement Parser
}
