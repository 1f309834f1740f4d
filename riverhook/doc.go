// Package riverhook receives Skyvern webhooks into River jobs: the handler
// answers as soon as a job for the event is committed, and River workers
// do the processing, with retries, backoff and a dead-letter state.
//
// Skyvern waits 30 s for a webhook's answer (its guide promises 10 s) and
// tells receivers to return 200 at once and process in the background.
// Doing that in memory loses the event if the process dies after answering;
// doing it on River makes the job durable first, in the PostgreSQL the
// service already runs, and then answers:
//
//	pool, _ := pgxpool.New(ctx, dsn)
//	workers := river.NewWorkers()
//	river.AddWorker(workers, riverhook.NewWorker(processRun))
//	rc, _ := river.NewClient(riverpgxv5.New(pool), &river.Config{
//		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 50}},
//		Workers: workers,
//	})
//	_ = rc.Start(ctx)
//	wh, _ := skyvern.NewWebhook(apiKey)
//	http.Handle("POST /skyvern/webhook", riverhook.NewHandler(wh, rc))
//
// # Exactly once, and where it stops
//
// The handler verifies the signature on the raw body before anything else,
// then inserts an EventArgs job that is unique by the payload's
// IdempotencyKey. Skyvern's retried deliveries and RetryRunWebhook replays of
// an event whose job exists insert nothing and are answered 200; so do
// concurrent duplicates on several replicas, since the unique index is in
// the shared database. Interim deliveries (a workflow attempt that Skyvern
// will retry under the same run id) are answered 200 without a job; see
// WithFinal. A failed insert answers 500, and Skyvern delivers again.
//
// Each job runs the user's function until it returns nil. An error or a
// panic fails the attempt and River retries it with its backoff (by
// default attempt^4 seconds, up to 25 attempts; see river.InsertOpts and
// WithInsertOpts), then discards it: that is the dead-letter state, where
// the job stays, with its errors, until River's cleaner deletes it. A
// worker process that dies mid-job leaves its job running; River's rescuer
// (see river.Config.RescueStuckJobsAfter) makes it available again, so the
// function can run twice for one event when a worker dies after its
// effects and before River recorded the completion. Make its effects
// idempotent (a unique constraint in your tables, keyed by the job's Key)
// where that matters.
//
// Uniqueness holds while the event's job row exists in one of River's
// default unique states. Completed jobs are deleted after
// river.Config.CompletedJobRetentionPeriod (24 h by default): a replay
// after that is processed again. A replay of a discarded job inserts a new
// one, which is how a dead-lettered event is retried after a fix.
//
// The package is a separate Go module, so River and pgx are requirements
// of services that use it and not of the skyvern SDK.
package riverhook
