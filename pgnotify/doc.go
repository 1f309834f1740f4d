// Package pgnotify wakes the waiters of every replica of a Skyvern webhook
// receiver when any one of them processes a run's webhook, over the
// PostgreSQL the replicas share (for sqlstore, typically).
//
// Behind a load balancer a webhook lands on one replica while the
// WaitForRun waiting for that run may sit on another; a skyvern.RunHub only
// hears its own process. A Relay closes the gap: its Notify method, given to
// the handler with skyvern.WithNotify, publishes each processed event to the
// local hub and writes it to an events table, with a NOTIFY per row. Every
// replica's relay LISTENs on that channel and publishes the events to its
// own hub, whose waiters return at once: a notification carries the event
// whole when its body is small enough, and otherwise only the row's id, and
// the relay then reads the rows after the last one it handled.
//
//	db, _ := sql.Open("postgres", dsn) // lib/pq
//	hub, err := skyvern.NewRunHub()
//	if err != nil { ... }
//	relay, err := pgnotify.New(db, dsn, hub)
//	if err != nil { ... }
//	if err := relay.CreateSchema(ctx); err != nil { ... } // or run relay.SchemaSQL() in a migration
//	if err := relay.Start(ctx); err != nil { ... }
//	defer relay.Close()
//
//	http.Handle("POST /skyvern/webhook", wh.Handler(process,
//		skyvern.WithIdempotencyStore(store), // a sqlstore.Store shared by the replicas
//		skyvern.WithNotify(relay.Notify)))
//	run, err := client.WaitForRun(ctx, runID, skyvern.WaitWithHub(hub))
//
// # What can go wrong, and what happens then
//
//   - NOTIFY payloads are limited to 8000 bytes and webhook bodies run to
//     megabytes: a body of up to 7900 bytes rides in the notification (which
//     spares every listener a read), a larger one travels in the table.
//     Bodies over WithMaxBody are not stored at all, nor are bodies that are
//     not valid UTF-8 text: the event still travels by run id and status,
//     and a woken waiter reads the run with one GetRun.
//   - The listening connection drops (a restart, a failover, an
//     administrator's pg_terminate_backend): lib/pq's listener reconnects
//     (WithReconnect), and on reconnecting the relay reads every row after
//     the last one it handled, so a replica that was cut off catches up
//     rather than missing what happened meanwhile. While it is down the
//     relay reads the table every WithScanInterval, and WaitForRun keeps
//     polling on its own schedule in any case: the notification path makes
//     waits faster, never necessary.
//   - Ids come from a sequence and are visible at commit, so a row may show
//     up after a higher id was read. The relay tracks the ids it has read
//     above its low-water mark and waits a few seconds for a missing one
//     before moving past it (a rolled-back insert burns its id for good).
//   - Notify never blocks the webhook handler: it queues the event for the
//     relay's writer, which batches inserts. If the queue is full or the
//     database refuses the write after a few tries, the event is counted
//     in Stats.Dropped and other replicas' waiters end at their next poll.
//   - Rows older than WithRetention are deleted by whichever relay gets to
//     it first; a replica disconnected for longer than that misses those
//     events and its waiters fall back to polling.
//
// The package uses the lib/pq driver for LISTEN; the root skyvern package
// and sqlstore stay free of drivers.
package pgnotify
