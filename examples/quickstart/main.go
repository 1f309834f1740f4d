// Command quickstart walks through the whole Skyvern story in a few seconds:
// create a workflow with a default webhook, run it, run a task with its own
// webhook, receive and verify both webhooks, repair a failed delivery with
// RetryRunWebhook, and fall back to polling with WaitForRun.
//
//	go run ./examples/quickstart
//
// By default it runs against skyverntest, an in-process fake Skyvern that
// behaves like the real service (signed webhooks included), so it needs no
// account and no network, whatever the environment holds.
//
//	SKYVERN_API_KEY=... go run ./examples/quickstart -live
//
// With -live it talks to the real service instead, with the key from
// SKYVERN_API_KEY (which -live requires). Skyvern cannot deliver webhooks to
// localhost: to receive them, expose the receiver's port (flag -listen,
// default 127.0.0.1:8089 with -live) at a public HTTPS URL (a tunnel or your
// load balancer) and set SKYVERN_WEBHOOK_BASE_URL to it. Without that, the
// quickstart still runs and learns the results by polling. Real runs use
// real browser minutes.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

func main() {
	live := flag.Bool("live", false, "use the real Skyvern API with the key in SKYVERN_API_KEY (real runs, real browser minutes)")
	listen := flag.String("listen", "", "address of the local webhook receiver (default: any free port; 127.0.0.1:8089 with -live)")
	flag.Parse()
	if err := run(*listen, *live); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// errNoLiveKey is returned by run for -live without an API key.
var errNoLiveKey = errors.New("-live needs the API key in SKYVERN_API_KEY")

// run plays the quickstart against the fake, or with live against the real
// API. An exported SKYVERN_API_KEY alone never makes it go live: real runs
// cost browser minutes and must be asked for.
func run(listen string, live bool) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var apiKey string
	if live {
		apiKey = strings.TrimSpace(os.Getenv("SKYVERN_API_KEY"))
		if apiKey == "" {
			return errNoLiveKey
		}
	}
	var opts []skyvern.Option
	if !live {
		fake := skyverntest.NewServer(
			// Runs move created -> queued -> running -> completed on their own.
			skyverntest.WithAutoAdvance(100*time.Millisecond, skyverntest.Completed(map[string]any{
				"invoice_number": "INV-2026-0117",
				"total":          "$1,284.00",
			})),
			// Skyvern waits 1-3 s between delivery attempts; a demo need not.
			skyverntest.WithDeliveryTimeScale(0.02),
		)
		defer fake.Close()
		apiKey = fake.APIKey()
		opts = append(opts, skyvern.WithBaseURL(fake.URL()))
		fmt.Println("skyvern-go quickstart, against an in-process fake Skyvern (-live for the real one)")
	} else {
		fmt.Println("skyvern-go quickstart, against the real Skyvern API")
	}

	client, err := skyvern.NewClient(apiKey, opts...)
	if err != nil {
		return err
	}

	if listen == "" {
		listen = "127.0.0.1:0"
		if live {
			listen = "127.0.0.1:8089" // a fixed port, for the tunnel to point at
		}
	}
	// The receiver: a webhook handler that verifies signatures, processes
	// each run once, and wakes WaitForRun the moment a result lands.
	recv, err := startReceiver(listen, apiKey)
	if err != nil {
		return err
	}
	defer recv.close()
	base := recv.url
	if live {
		base = strings.TrimRight(os.Getenv("SKYVERN_WEBHOOK_BASE_URL"), "/")
		if base == "" {
			fmt.Println("  (SKYVERN_WEBHOOK_BASE_URL is not set: Skyvern cannot reach this machine, so results come by polling)")
		}
	}
	hook := func(path string) string {
		if base == "" {
			return ""
		}
		return base + path
	}

	step(1, "Create a workflow with a default webhook (json_definition.webhook_callback_url)")
	wf, err := client.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
		Title:              "Invoice Downloader",
		WebhookCallbackURL: hook("/webhooks/invoices"),
		WorkflowDefinition: skyvern.WorkflowDefinitionBody{Blocks: skyvern.Blocks{
			&skyvern.TaskBlock{
				Label:          "download_invoice",
				URL:            "https://vendor-portal.example.com",
				NavigationGoal: "Download the latest invoice",
			},
		}},
	}})
	if err != nil {
		return err
	}
	fmt.Printf("   workflow %q created; its runs report to /webhooks/invoices\n", wf.Title)

	step(2, "Run it; the result arrives as a signed webhook")
	wr, err := client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID})
	if err != nil {
		return err
	}
	fmt.Printf("   run %s is %s\n", short(wr.RunID), wr.Status)
	if err := waitAndReport(ctx, client, recv, wr.RunID); err != nil {
		return err
	}

	step(3, "Run a task with its own webhook (top-level webhook_url)")
	task, err := client.RunTask(ctx, &skyvern.TaskRunRequest{
		Prompt:     "Get the total of the latest invoice",
		URL:        "https://vendor-portal.example.com/invoices",
		WebhookURL: hook("/webhooks/tasks"),
	})
	if err != nil {
		return err
	}
	fmt.Printf("   run %s is %s\n", short(task.RunID), task.Status)
	if err := waitAndReport(ctx, client, recv, task.RunID); err != nil {
		return err
	}

	if base != "" {
		step(4, "A delivery fails; RetryRunWebhook repairs it")
		broken, err := client.RunTask(ctx, &skyvern.TaskRunRequest{
			Prompt:     "Get the total of the latest invoice",
			URL:        "https://vendor-portal.example.com/invoices",
			WebhookURL: hook("/webhooks/broken"), // this endpoint answers 500
		})
		if err != nil {
			return err
		}
		if _, err := client.WaitForRun(ctx, broken.RunID, skyvern.WithPollInterval(200*time.Millisecond, 2*time.Second)); err != nil {
			return err
		}
		if err := recv.waitBrokenAttempts(ctx, broken.RunID, 3); err != nil {
			return err
		}
		fmt.Printf("   run %s finished, but /webhooks/broken answered 500 to all 3 of Skyvern's attempts\n", short(broken.RunID))
		replay, err := client.RetryRunWebhook(ctx, broken.RunID, &skyvern.RetryRunWebhookRequest{WebhookURL: hook("/webhooks/tasks")})
		if err != nil {
			return err
		}
		if !replay.Delivered() {
			return fmt.Errorf("replay not delivered: status %v, error %q", replay.StatusCode, replay.Error)
		}
		fmt.Printf("   replayed to /webhooks/tasks: HTTP %d\n", *replay.StatusCode)
		p, err := recv.waitProcessed(ctx, broken.RunID)
		if err != nil {
			return err
		}
		fmt.Printf("   ✓ received and verified: %s %s", short(p.RunID), p.Status)
		if p.WebhookFailureReason != nil && *p.WebhookFailureReason != "" {
			fmt.Printf(" (the payload says why the first delivery failed: %q)", truncate(*p.WebhookFailureReason, 40))
		}
		fmt.Println()
	}

	step(5, "No webhook at all: WaitForRun polls GetRun until the run is terminal")
	quiet, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Check the portal for new invoices", URL: "https://vendor-portal.example.com"})
	if err != nil {
		return err
	}
	var seen []string
	done, err := client.WaitForRun(ctx, quiet.RunID,
		skyvern.WithPollInterval(150*time.Millisecond, 2*time.Second),
		skyvern.OnPoll(func(r *skyvern.Run) {
			if len(seen) == 0 || seen[len(seen)-1] != string(r.Status) {
				seen = append(seen, string(r.Status))
			}
		}))
	if err != nil {
		return err
	}
	fmt.Printf("   run %s: %s\n", short(done.RunID), strings.Join(seen, " -> "))
	if err := printOutput(done); err != nil {
		return err
	}

	step(6, "A forged delivery is refused")
	forged := []byte(`{"run_id":"` + done.RunID + `","status":"completed","output":{"total":"$0.00"}}`)
	code, err := recv.post(ctx, "/webhooks/tasks", forged, skyvern.Sign(forged, "not-your-api-key"))
	if err != nil {
		return err
	}
	fmt.Printf("   a body signed with another key: HTTP %d (%s)\n", code, http.StatusText(code))

	fmt.Printf("\nDone in %.1fs: %d webhooks verified, each processed once.\n", time.Since(start).Seconds(), recv.processedCount())
	return nil
}

// waitAndReport waits for a run webhook-first (polling stays on as the
// fallback) and prints how the result arrived.
func waitAndReport(ctx context.Context, client *skyvern.Client, recv *receiver, runID string) error {
	run, err := client.WaitForRun(ctx, runID, skyvern.WaitWithHub(recv.hub), skyvern.WithPollInterval(time.Second, 10*time.Second))
	if err != nil {
		return err
	}
	if p, ok := recv.processed(runID); ok {
		fmt.Printf("   ✓ webhook received at %s and verified: %s %s\n", p.path, short(runID), p.payload.Status)
	} else {
		fmt.Printf("   ✓ polled: %s %s\n", short(runID), run.Status)
	}
	return printOutput(run)
}

func printOutput(run *skyvern.Run) error {
	var out struct {
		InvoiceNumber string `json:"invoice_number"`
		Total         string `json:"total"`
	}
	if !run.HasOutput() {
		return nil
	}
	if err := run.DecodeOutput(&out); err != nil {
		return err
	}
	if out.InvoiceNumber != "" {
		fmt.Printf("     output: invoice %s, total %s\n", out.InvoiceNumber, out.Total)
	}
	return nil
}

// receiver is the local webhook endpoint.
type receiver struct {
	url  string
	srv  *http.Server
	hub  *skyvern.RunHub
	mu   sync.Mutex
	seen map[string]received // by run id
	// brokenHits counts deliveries to the endpoint that always fails.
	brokenHits map[string]int
	changed    chan struct{}
}

type received struct {
	path    string
	payload *skyvern.WebhookPayload
}

func startReceiver(listen, apiKey string) (*receiver, error) {
	wh, err := skyvern.NewWebhook(apiKey)
	if err != nil {
		return nil, err
	}
	hub, err := skyvern.NewRunHub()
	if err != nil {
		return nil, err
	}
	r := &receiver{
		hub:        hub,
		seen:       make(map[string]received),
		brokenHits: make(map[string]int),
		changed:    make(chan struct{}, 1),
	}
	process := func(path string) func(context.Context, *skyvern.WebhookPayload) error {
		return func(_ context.Context, p *skyvern.WebhookPayload) error {
			r.mu.Lock()
			r.seen[p.RunID] = received{path: path, payload: p}
			r.mu.Unlock()
			r.notify()
			return nil
		}
	}
	mux := http.NewServeMux()
	store, err := skyvern.NewMemoryStore() // shared: a replay to another path is still one event
	if err != nil {
		return nil, err
	}
	for _, path := range []string{"/webhooks/invoices", "/webhooks/tasks"} {
		mux.Handle("POST "+path, wh.Handler(process(path), skyvern.WithRunHub(r.hub), skyvern.WithIdempotencyStore(store)))
	}
	mux.Handle("POST /webhooks/broken", wh.Handler(func(_ context.Context, p *skyvern.WebhookPayload) error {
		r.mu.Lock()
		r.brokenHits[p.RunID]++
		r.mu.Unlock()
		r.notify()
		return errors.New("this endpoint is broken on purpose")
	}))

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	r.url = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *receiver) processed(runID string) (received, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.seen[runID]
	return p, ok
}

func (r *receiver) processedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// waitUntil blocks until cond holds or ctx ends.
func (r *receiver) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *receiver) waitBrokenAttempts(ctx context.Context, runID string, n int) error {
	return r.waitUntil(ctx, func() bool { return r.brokenHits[runID] >= n })
}

func (r *receiver) waitProcessed(ctx context.Context, runID string) (*skyvern.WebhookPayload, error) {
	err := r.waitUntil(ctx, func() bool { _, ok := r.seen[runID]; return ok })
	if err != nil {
		return nil, err
	}
	p, _ := r.processed(runID)
	return p.payload, nil
}

// post sends a delivery to the receiver as Skyvern would, with the given
// signature.
func (r *receiver) post(ctx context.Context, path string, body []byte, signature string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(skyvern.SignatureHeader, signature)
	req.Header.Set(skyvern.TimestampHeader, strconv.FormatInt(time.Now().Unix(), 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

func step(n int, title string) { fmt.Printf("\n%d. %s\n", n, title) }

// short keeps run ids readable: their numeric part varies from run to run.
func short(id string) string {
	if i := strings.LastIndexByte(id, '_'); i > 0 && len(id)-i > 7 {
		return id[:i+1] + "…" + id[len(id)-4:]
	}
	return id
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
