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
//
//		_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"; or lib/pq, driver "postgres"
//
//		"github.com/skyvern-go/skyvern"
//		"github.com/skyvern-go/skyvern/sqlstore"
//	)
//
//	func newWebhookHandler(ctx context.Context, apiKey, dsn string) (http.Handler, error) {
//		db, err := sql.Open("pgx", dsn)
//		if err != nil {
//			return nil, err
//		}
//		store, err := sqlstore.New(db)
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
// Claim is one statement: it inserts the key with a lease and a new random
// claim token, or, if the key exists, takes it over when it is not done and
// its lease has expired, and returns the row as it now is, from which it
// answers ClaimAcquired (the row carries the new token), ClaimDone or
// ClaimBusy. Renew extends the lease, Complete marks the key done and
// Release deletes it, each only while the row carries the caller's token
// (Release also only while the key is not done). The token is all a worker
// needs: any Store on the table, in any replica, may renew, complete or
// release a claim whose token it is given. The states and the answers to
// stale tokens are those of skyvern.IdempotencyStore, and the tests run
// skyverntest.TestIdempotencyStore against a Store on lib/pq and on pgx.
//
// # Leases: at least once, not exactly once
//
// A lease is what keeps a crashed replica from blocking an event: once it
// expires, the next delivery of the event takes the key over and runs the
// function. The webhook handler renews its claim every third of the lease
// while the function runs, so a live replica keeps its event however long
// the function takes, and the lease can be short: DefaultLease (10 s)
// lapses within Skyvern's retries of the delivery that the dead replica was
// answering (see skyvern.DefaultStoreLease for the timing).
//
// A replica that stalls for longer than two thirds of the lease (a paused
// VM, a database it cannot reach) is indistinguishable from a dead one:
// its event may be taken over while its function still runs, the
// function's context is cancelled with cause skyvern.ErrLeaseLost at the
// next renewal, and its Complete or Release returns ErrLeaseLost without
// touching the new holder's claim. Delivery is at least once. So:
//
//   - make the function itself idempotent where a second run would do harm
//     (for example with a unique constraint in your own tables): that is
//     the only way to exactly-once effects;
//   - a completed key is never processed again while its row exists, and a
//     released key can be claimed again at once;
//   - leases compare times written by different replicas, so their clocks
//     must agree to well within the lease (NTP does this);
//   - Cleanup deletes completed keys after the retention you give it, after
//     which a replay of that event would be processed again.
package sqlstore
