package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/skyvern-go/skyvern/sqlstore"
)

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
