package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// schemaStatements returns the DDL for a validated table name, one statement
// per element, because not every driver runs several statements in one
// Exec.
//
// Times are Unix milliseconds in BIGINT columns rather than timestamps: the
// comparisons the store makes are then exact and identical on every
// database, whatever the driver does with time zones.
func schemaStatements(table string) []string {
	t := quoteTable(table)
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
    idempotency_key TEXT PRIMARY KEY,
    claim_token     TEXT NOT NULL,
    lease_until_ms  BIGINT NOT NULL,
    done_at_ms      BIGINT,
    updated_at_ms   BIGINT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS ` + indexName(table) + ` ON ` + t + ` (updated_at_ms)`,
	}
}

// SchemaSQL returns the statements that CreateSchema runs for table, ended
// by semicolons, for a migration tool; "" is DefaultTable, as in WithTable.
// It returns ErrInvalidTable for a name that WithTable would refuse.
func SchemaSQL(table string) (string, error) {
	table = tableOrDefault(table)
	if err := validateTable(table); err != nil {
		return "", err
	}
	return strings.Join(schemaStatements(table), ";\n\n") + ";\n", nil
}

// schemaAttempts covers replicas that create the table at the same moment:
// PostgreSQL may then fail one CREATE ... IF NOT EXISTS with a unique
// violation, and running it again finds the table made.
const schemaAttempts = 3

// CreateSchema creates the Store's table and its index if they do not exist
// (the SQL is SchemaSQL's). Every replica may call it at start-up; users who
// manage their schema with migrations run SchemaSQL's output instead and
// need not call it.
func (s *Store) CreateSchema(ctx context.Context) error {
	var err error
	for range schemaAttempts {
		if err = s.execSchema(ctx); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create schema: %w", err)
	}
	return nil
}

func (s *Store) execSchema(ctx context.Context) error {
	for _, stmt := range s.queries.schema {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup deletes completed keys whose completion is older than olderThan,
// and abandoned claims made more than olderThan ago whose lease has expired.
// It returns how many keys it deleted. A deleted completed key can be
// processed again if its event is delivered again, so olderThan must exceed
// the time within which deliveries repeat: Skyvern's own retries come within
// minutes, but RetryRunWebhook can replay a run's webhook at any later time,
// which suggests days rather than hours. olderThan must be positive.
//
// Run it periodically from one replica (or from all: it is idempotent).
func (s *Store) Cleanup(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, fmt.Errorf("%w: cleanup retention %v is not positive", ErrInvalidOption, olderThan)
	}
	now := s.nowMS()
	cutoff := now - olderThan.Milliseconds()
	return s.execCount(ctx, "cleanup", s.queries.cleanup, cutoff, now)
}
