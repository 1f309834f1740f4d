// Command receiver takes Skyvern webhooks into River jobs and processes
// them in the background: the handler answers once the job is committed,
// and River's workers run the processing with retries.
//
//	DATABASE_URL=postgres://... SKYVERN_API_KEY=... go run ./examples/receiver -addr :8080
//
// It applies River's migrations to the database, starts a River client
// with the event worker, and serves POST /skyvern/webhook. Point a run's
// webhook_url at https://<your public host>/skyvern/webhook.
//
// With -demo it needs only DATABASE_URL: it starts skyverntest's fake
// Skyvern, runs a task whose webhook reaches this receiver, finishes the
// run, waits until the worker has processed the event, and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/riverhook"
	"github.com/skyvern-go/skyvern/skyverntest"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	demo := flag.Bool("demo", false, "run one task on a fake Skyvern through this receiver, then exit")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger, *addr, *demo); err != nil {
		logger.Error("receiver", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger, addr string, demo bool) error {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		return errors.New("DATABASE_URL must name the PostgreSQL database for River's jobs")
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}

	var fake *skyverntest.Server
	apiKey := os.Getenv("SKYVERN_API_KEY")
	if demo {
		fake = skyverntest.NewServer()
		defer fake.Close()
		apiKey = fake.APIKey()
	}
	wh, err := skyvern.NewWebhook(apiKey)
	if err != nil {
		return errors.New("SKYVERN_API_KEY must be set: webhooks are signed with it")
	}

	processed := make(chan string, 16)
	process := func(ctx context.Context, p *skyvern.WebhookPayload) error {
		// Act on the run here: store its output, notify someone. An error
		// makes River retry this event later; a nil return completes it.
		logger.Info("processing run", "run_id", p.RunID, "status", p.Status)
		select {
		case processed <- p.RunID:
		default:
		}
		return nil
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, riverhook.NewWorker(process))
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
		Workers: workers,
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	if err := rc.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Stop(sctx)
	}()

	mux := http.NewServeMux()
	mux.Handle("POST /skyvern/webhook", riverhook.NewHandler(wh, rc,
		riverhook.WithHandlerOptions(skyvern.WithHandlerLogger(logger))))
	if demo {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("receiving webhooks", "addr", ln.Addr().String())

	if demo {
		return runDemo(ctx, fake, "http://"+ln.Addr().String()+"/skyvern/webhook", processed)
	}
	<-ctx.Done()
	return nil
}

// runDemo runs one task on the fake with its webhook pointed at the
// receiver, finishes it, and waits for the worker to process the event.
func runDemo(ctx context.Context, fake *skyverntest.Server, webhookURL string, processed <-chan string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, err := skyvern.NewClient(fake.APIKey(), skyvern.WithBaseURL(fake.URL()), skyvern.WithHTTPClient(fake.Client()))
	if err != nil {
		return err
	}
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Find the price", WebhookURL: webhookURL})
	if err != nil {
		return err
	}
	if err := fake.Complete(run.RunID, map[string]any{"price": 29.0}); err != nil {
		return err
	}
	for {
		select {
		case id := <-processed:
			if id == run.RunID {
				fmt.Printf("run %s: webhook answered, job committed and processed by a River worker\n", id)
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("run %s was not processed: %w", run.RunID, ctx.Err())
		}
	}
}
