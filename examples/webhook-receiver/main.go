// Command webhook-receiver is a production-style receiver for Skyvern
// webhooks: it verifies every delivery's signature, processes each run's
// result exactly once, and answers fast so Skyvern never times out.
//
//	SKYVERN_API_KEY=... go run ./examples/webhook-receiver -addr :8080
//
// Point a run's webhook_url (or a workflow's webhook_callback_url) at
// https://<your public host>/skyvern/webhook. Skyvern cannot reach
// localhost: expose the port through your load balancer or a tunnel.
//
// Key rotation: set SKYVERN_PREVIOUS_API_KEY while runs created with the old
// key may still deliver.
//
// Several replicas: replace the in-memory idempotency store with the
// database-backed one from the sqlstore package, so a redelivery that lands
// on another replica is recognised too:
//
//	store, _ := sqlstore.New(db)            // db is your *sql.DB (PostgreSQL)
//	_ = store.CreateSchema(ctx)             // once, or run sqlstore.SchemaSQL in your migrations
//	wh.Handler(process, skyvern.WithIdempotencyStore(store))
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/skyvern-go/skyvern"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	var opts []skyvern.WebhookOption
	if prev := os.Getenv("SKYVERN_PREVIOUS_API_KEY"); prev != "" {
		opts = append(opts, skyvern.WithAdditionalKeys(prev))
	}
	wh, err := skyvern.NewWebhook(os.Getenv("SKYVERN_API_KEY"), opts...)
	if err != nil {
		logger.Error("SKYVERN_API_KEY must be set: webhooks are signed with it", "err", err)
		os.Exit(1)
	}

	// Work is handed to a queue and done in the background, so the handler
	// answers well within Skyvern's delivery timeout. The queue here is a
	// channel; in production use a durable queue or a database table, and
	// return its error: a non-nil error answers 500 and Skyvern redelivers.
	jobs := make(chan *skyvern.WebhookPayload, 1024)
	enqueue := func(ctx context.Context, p *skyvern.WebhookPayload) error {
		select {
		case jobs <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
			return errors.New("queue full") // 500: Skyvern tries again shortly
		}
	}

	store, err := skyvern.NewMemoryStore()
	if err != nil {
		logger.Error("idempotency store", "err", err)
		os.Exit(1)
	}
	handlerOpts := []skyvern.HandlerOption{
		skyvern.WithIdempotencyStore(store),
		skyvern.WithHandlerLogger(logger),
	}
	// A handler given an invalid option answers every request 500; refuse
	// to start instead.
	if err := wh.CheckHandlerOptions(handlerOpts...); err != nil {
		logger.Error("webhook handler options", "err", err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /skyvern/webhook", wh.Handler(enqueue, handlerOpts...))
	// Runs that log in behind two-factor authentication ask this URL (their
	// totp_url) for the current code.
	mux.Handle("POST /skyvern/totp", wh.TOTPHandler(func(ctx context.Context, req *skyvern.TOTPRequest) (string, error) {
		return os.Getenv("DEMO_TOTP_CODE"), nil // look the code up in your own system
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go worker(ctx, jobs, logger)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()

	logger.Info("listening", "addr", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("server failed", "err", err)
		os.Exit(1)
	}
}

// worker processes verified, deduplicated results.
func worker(ctx context.Context, jobs <-chan *skyvern.WebhookPayload, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-jobs:
			attrs := []any{"run_id", p.RunID, "status", p.Status, "run_type", p.RunType}
			if p.WebhookFailureReason != nil && *p.WebhookFailureReason != "" {
				// This is a redelivery or a replay of a webhook whose
				// earlier delivery failed; the outcome it reports is
				// the same.
				attrs = append(attrs, "earlier_delivery_failed", *p.WebhookFailureReason)
			}
			if p.WebhookDeliveryFailed() {
				// The run was marked failed only because a webhook could
				// not be delivered: its data may still be in the output.
				attrs = append(attrs, "note", "failed on webhook delivery, output may be complete")
			}
			var out map[string]any
			if err := p.DecodeOutput(&out); err == nil {
				attrs = append(attrs, "output_keys", len(out))
			}
			logger.Info("run finished", attrs...)
		}
	}
}
