package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// New takes a pool opened with the driver of your choice (here lib/pq's
// "postgres"; pgx's stdlib registers "pgx"). Every replica builds its own
// Store on its own pool and hands it to its webhook handler; they meet in
// the table, so a redelivery that reaches another replica is recognised.
func ExampleNew() {
	db, err := sql.Open("postgres", "postgres://app@127.0.0.1/app?sslmode=disable") // not dialled until used
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	store, err := sqlstore.New(db) // the default lease and table
	if err != nil {
		fmt.Println(err)
		return
	}
	// At start-up: store.CreateSchema(ctx), or SchemaSQL in a migration.

	wh, err := skyvern.NewWebhook("sk_example_org_key")
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /skyvern/webhook", wh.Handler(func(ctx context.Context, p *skyvern.WebhookPayload) error {
		return nil // persist p and return; an error answers 500 and Skyvern delivers again
	}, skyvern.WithIdempotencyStore(store)))
	fmt.Println("lease", sqlstore.DefaultLease)
	// Output: lease 10s
}

// SchemaSQL gives the statements to put in a migration when the table is
// not created with CreateSchema.
func ExampleSchemaSQL() {
	schema, err := sqlstore.SchemaSQL("webhooks.skyvern_events")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(schema)
	// Output:
	// CREATE TABLE IF NOT EXISTS "webhooks"."skyvern_events" (
	//     idempotency_key TEXT PRIMARY KEY,
	//     claim_token     TEXT NOT NULL,
	//     lease_until_ms  BIGINT NOT NULL,
	//     done_at_ms      BIGINT,
	//     updated_at_ms   BIGINT NOT NULL
	// );
	//
	// CREATE INDEX IF NOT EXISTS "skyvern_events_updated_idx" ON "webhooks"."skyvern_events" (updated_at_ms);
}

// Table names go into SQL text, so New refuses anything but identifiers.
func ExampleWithTable() {
	db, err := sql.Open("postgres", "postgres://app@127.0.0.1/app?sslmode=disable") // not dialled by New
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	_, err = sqlstore.New(db, sqlstore.WithTable("events; DROP TABLE users"))
	fmt.Println(errors.Is(err, sqlstore.ErrInvalidTable))

	store, err := sqlstore.New(db, sqlstore.WithTable("webhooks.skyvern_events"))
	fmt.Println(store != nil, err)
	// Output:
	// true
	// true <nil>
}
