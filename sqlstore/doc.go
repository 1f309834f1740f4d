// Package sqlstore keeps the webhook idempotency keys of skyvern-go in a
// database table through database/sql, so that several replicas of a
// webhook receiver behind a load balancer process each Skyvern event once.
//
// Skyvern delivers a webhook up to three times when the receiver does not
// answer 2xx, and RetryRunWebhook replays a delivery on demand. The SDK's
// webhook handler deduplicates them with a skyvern.IdempotencyStore; its
// in-memory default only knows the requests one process has seen. A Store
// shares that knowledge through the database every replica can reach.
//
// PostgreSQL is the primary target and the one the tests run against. The
// SQL is otherwise plain (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE
// with RETURNING, text and BIGINT columns), so other databases that speak
// it work too: SQLite 3.35 or later does, with either placeholder style
// (give its driver a busy timeout so that replicas wait for each other's
// writes), though this package's tests do not cover it. MySQL lacks ON
// CONFLICT and is not supported. The package imports no driver: bring your
// own.
//
// # Wiring it into the webhook handler
//
//	import (
//		"context"
//		"database/sql"
//		"net/http"
//		"time"
//
//		_ "github.com/lib/pq" // or any other PostgreSQL driver
//
//		"github.com/skyvern-go/skyvern"
//		"github.com/skyvern-go/skyvern/sqlstore"
//	)
//
//	func newWebhookHandler(ctx context.Context, apiKey, dsn string) (http.Handler, error) {
//		db, err := sql.Open("postgres", dsn)
//		if err != nil {
//			return nil, err
//		}
//		store, err := sqlstore.New(db, sqlstore.WithLease(5*time.Minute))
//		if err != nil {
//			return nil, err
//		}
//		if err := store.CreateSchema(ctx); err != nil { // or run SchemaSQL in a migration
//			return nil, err
//		}
//		wh, err := skyvern.NewWebhook(apiKey)
//		if err != nil {
//			return nil, err
//		}
//		return wh.Handler(processRun, skyvern.WithIdempotencyStore(store)), nil
//	}
//
//	func processRun(ctx context.Context, p *skyvern.WebhookPayload) error {
//		// Act on the run; an error answers 500, the claim is released and
//		// Skyvern's next attempt runs this again.
//		return nil
//	}
//
// Each replica builds its own Store on its own pool; they meet in the table.
// Run Cleanup periodically (from any replica) to delete old keys:
//
//	n, err := store.Cleanup(ctx, 7*24*time.Hour)
//
// # Schema
//
// CreateSchema creates the table and the index Cleanup uses. To manage the
// schema with migrations instead, take the statements from SchemaSQL; for the
// default table they are:
//
//	CREATE TABLE IF NOT EXISTS "skyvern_webhook_events" (
//	    idempotency_key TEXT PRIMARY KEY,
//	    claim_token     TEXT NOT NULL,
//	    lease_until_ms  BIGINT NOT NULL,
//	    done_at_ms      BIGINT,
//	    updated_at_ms   BIGINT NOT NULL
//	);
//
//	CREATE INDEX IF NOT EXISTS "skyvern_webhook_events_updated_idx" ON "skyvern_webhook_events" (updated_at_ms);
//
// Times are Unix milliseconds. A row with done_at_ms set is a processed
// event; a row without it is a claim, held until lease_until_ms.
//
// # How a key moves
//
// Claim inserts the key with a lease and a random claim token in one
// statement; if the key exists, the same statement takes it over only when it
// is not done and its lease has expired, and otherwise Claim answers
// ClaimDone or ClaimBusy. Complete marks the key done and Release deletes it,
// both only while the row still carries this claim's token. The token stays
// in the memory of the Store that claimed, which is why the Store value (the
// replica) that claims a key must be the one that completes or releases it;
// the webhook handler does exactly that within one request. Goroutines of
// one Store that end up holding the same key share its claim (see
// Store.Complete and Store.Release).
//
// # Leases: at least once, not exactly once
//
// A lease is what keeps a crashed replica from blocking an event forever:
// once it expires, the next delivery of the event takes the key over and runs
// the function. The price is that a replica that is merely slow, still
// processing when its lease runs out, is indistinguishable from a dead one.
// The event is then processed a second time while the first run may still
// be going (one more run per lease that expires, never two within a lease),
// and the slow replica's Complete or Release returns ErrLeaseLost without
// touching the new holder's claim. Delivery is at least once. So:
//
//   - choose a lease longer than the slowest run of your function, or make
//     the function itself idempotent (for example with a unique constraint in
//     your own tables), which is the only way to exactly-once effects;
//   - a completed key is never processed again while its row exists, and a
//     released key can be claimed again at once;
//   - leases compare times written by different replicas, so their clocks
//     must agree to well within the lease (NTP does this);
//   - Cleanup deletes completed keys after the retention you give it, after
//     which a replay of that event would be processed again.
package sqlstore
