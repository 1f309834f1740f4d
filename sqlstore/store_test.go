package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// TestStoreConformance runs the SDK's store suite against a Store on each
// driver, whatever driverEnv says, each case on a table of its own.
func TestStoreConformance(t *testing.T) {
	t.Parallel()
	testDSN(t)
	for env, driverName := range drivers {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			db := openDriverDB(t, driverName)
			skyverntest.TestIdempotencyStore(t, func(t *testing.T, cfg skyverntest.StoreConfig) skyvern.IdempotencyStore {
				s, err := sqlstore.New(db, sqlstore.WithTable(newTable(t, db)), sqlstore.WithLease(cfg.Lease), sqlstore.WithClock(cfg.Now))
				require.NoError(t, err)
				return s
			})
		})
	}
}

// mustClaim claims key on s and requires want.
func mustClaim(t *testing.T, s skyvern.IdempotencyStore, key string, want skyvern.ClaimResult) skyvern.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), key)
	require.NoError(t, err)
	require.Equal(t, want, c.Result, key)
	return c
}

// TestStoreLeaseBoundary: a claim holds for exactly its lease, to the
// millisecond the table stores.
func TestStoreLeaseBoundary(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	clock := newFakeClock()
	s, err := sqlstore.New(db, sqlstore.WithTable(newTable(t, db)), sqlstore.WithLease(time.Minute), sqlstore.WithClock(clock.Now))
	require.NoError(t, err)
	mustClaim(t, s, "k", skyvern.ClaimAcquired)
	clock.Advance(time.Minute - time.Millisecond)
	mustClaim(t, s, "k", skyvern.ClaimBusy)
	clock.Advance(time.Millisecond)
	mustClaim(t, s, "k", skyvern.ClaimAcquired)
}

// TestStoreAnyReplicaFinishesAClaim: a claim is its token, not the Store
// value that made it, so a replica may complete or release what another
// claimed, and a Store keeps no claims of its own.
func TestStoreAnyReplicaFinishesAClaim(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	table := newTable(t, db)
	newStore := func() *sqlstore.Store {
		s, err := sqlstore.New(openDB(t), sqlstore.WithTable(table))
		require.NoError(t, err)
		return s
	}
	a, b := newStore(), newStore()
	ctx := context.Background()

	c := mustClaim(t, a, "released", skyvern.ClaimAcquired)
	require.NoError(t, b.Renew(ctx, "released", c.Token))
	require.NoError(t, b.Release(ctx, "released", c.Token))
	mustClaim(t, a, "released", skyvern.ClaimAcquired)

	c = mustClaim(t, a, "completed", skyvern.ClaimAcquired)
	require.NoError(t, b.Complete(ctx, "completed", c.Token))
	mustClaim(t, a, "completed", skyvern.ClaimDone)
	total, done := rowCount(t, db, table)
	assert.Equal(t, 2, total)
	assert.Equal(t, 1, done)
}

// TestStoreRoundTrips: every answer of Claim, a duplicate's included, and
// every Renew and Complete, and a Release of a held key take one statement.
func TestStoreRoundTrips(t *testing.T) {
	t.Parallel()
	var statements atomic.Int32
	db := hookedDB(t, func(string) { statements.Add(1) })
	s, err := sqlstore.New(db, sqlstore.WithTable(newTable(t, openDB(t))))
	require.NoError(t, err)
	ctx := context.Background()
	counted := func(what string, call func()) {
		t.Helper()
		before := statements.Load()
		call()
		assert.Equal(t, int32(1), statements.Load()-before, "statements for %s", what)
	}
	var c skyvern.Claim
	counted("a new key's claim", func() { c = mustClaim(t, s, "k", skyvern.ClaimAcquired) })
	counted("a busy key's claim", func() { mustClaim(t, s, "k", skyvern.ClaimBusy) })
	counted("a renewal", func() { require.NoError(t, s.Renew(ctx, "k", c.Token)) })
	counted("a stale renewal", func() { require.ErrorIs(t, s.Renew(ctx, "k", c.Token+"x"), skyvern.ErrLeaseLost) })
	counted("a completion", func() { require.NoError(t, s.Complete(ctx, "k", c.Token)) })
	counted("a stale completion", func() { require.ErrorIs(t, s.Complete(ctx, "k", c.Token+"x"), skyvern.ErrLeaseLost) })
	counted("a done key's claim", func() { mustClaim(t, s, "k", skyvern.ClaimDone) })
	c = mustClaim(t, s, "r", skyvern.ClaimAcquired)
	counted("a release", func() { require.NoError(t, s.Release(ctx, "r", c.Token)) })
}

// TestStoreKeyEdgeCases stores keys at the limits of what ErrInvalidKey
// lets through, so that the validation and the column agree.
func TestStoreKeyEdgeCases(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	table := newTable(t, db)
	s, err := sqlstore.New(db, sqlstore.WithTable(table))
	require.NoError(t, err)
	ctx := context.Background()
	for _, key := range []string{
		strings.Repeat("k", sqlstore.MaxKeyLen),
		"wr_486305187432193504:completed",
		"ключ-✓-'quoted'-\"double\"-; DROP TABLE x; --",
	} {
		c := mustClaim(t, s, key, skyvern.ClaimAcquired)
		require.NoError(t, s.Complete(ctx, key, c.Token))
		mustClaim(t, s, key, skyvern.ClaimDone)
	}
	total, done := rowCount(t, db, table)
	assert.Equal(t, 3, total)
	assert.Equal(t, 3, done)
}

func TestStoreCleanup(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	table := newTable(t, db)
	clock := newFakeClock()
	newStore := func(lease time.Duration) *sqlstore.Store {
		s, err := sqlstore.New(db, sqlstore.WithTable(table), sqlstore.WithLease(lease), sqlstore.WithClock(clock.Now))
		require.NoError(t, err)
		return s
	}
	a, longLease, b := newStore(time.Minute), newStore(10*time.Hour), newStore(time.Minute)
	ctx := context.Background()
	const acquired = skyvern.ClaimAcquired

	c := mustClaim(t, a, "done-old", acquired)
	require.NoError(t, a.Complete(ctx, "done-old", c.Token))
	abandoned := mustClaim(t, a, "abandoned-old", acquired)
	unexpired := mustClaim(t, longLease, "claimed-old-unexpired", acquired)
	clock.Advance(2 * time.Hour)
	c = mustClaim(t, a, "done-new", acquired)
	require.NoError(t, a.Complete(ctx, "done-new", c.Token))
	recent := mustClaim(t, a, "claimed-new", acquired)

	n, err := b.Cleanup(ctx, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "deleted keys")
	total, done := rowCount(t, db, table)
	assert.Equal(t, 3, total)
	assert.Equal(t, 1, done)

	// The abandoned claim's row is gone; should its worker still report
	// success, that is recorded.
	assert.ErrorIs(t, a.Renew(ctx, "abandoned-old", abandoned.Token), skyvern.ErrLeaseLost)
	require.NoError(t, a.Complete(ctx, "abandoned-old", abandoned.Token))
	want := map[string]skyvern.ClaimResult{
		"done-old":              skyvern.ClaimAcquired,
		"abandoned-old":         skyvern.ClaimDone,
		"claimed-old-unexpired": skyvern.ClaimBusy,
		"done-new":              skyvern.ClaimDone,
		"claimed-new":           skyvern.ClaimBusy,
	}
	for key, wantResult := range want {
		mustClaim(t, b, key, wantResult)
	}
	assert.NoError(t, a.Complete(ctx, "claimed-new", recent.Token), "a recent claim is kept")
	assert.NoError(t, longLease.Complete(ctx, "claimed-old-unexpired", unexpired.Token), "an old claim whose lease runs is kept")
}

func TestStoreCreateSchemaConcurrently(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	table := "sqlstore_test_" + randomSuffix(t)
	t.Cleanup(func() { dropTable(t, db, `"`+table+`"`) })

	const replicas = 8
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			s, err := sqlstore.New(db, sqlstore.WithTable(table))
			if err == nil {
				err = s.CreateSchema(context.Background())
			}
			errs <- err
		}()
	}
	for range replicas {
		assert.NoError(t, <-errs)
	}
	s, err := sqlstore.New(db, sqlstore.WithTable(table))
	require.NoError(t, err)
	require.NoError(t, s.CreateSchema(context.Background()), "a second CreateSchema is a no-op")

	var indexes int
	err = db.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(updated_at_ms)%'`, table).Scan(&indexes)
	require.NoError(t, err)
	assert.Equal(t, 1, indexes, "index for Cleanup")
}

// TestStoreQualifiedQuotedTable uses a schema-qualified, mixed-case table
// named after a reserved word, which only works if every statement quotes
// the name the same way.
func TestStoreQualifiedQuotedTable(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := context.Background()
	schema := "sqlstore_test_" + randomSuffix(t)
	_, err := db.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	clock := newFakeClock()
	s, err := sqlstore.New(db, sqlstore.WithTable(schema+".Order"), sqlstore.WithClock(clock.Now))
	require.NoError(t, err)
	require.NoError(t, s.CreateSchema(ctx))

	c := mustClaim(t, s, "k", skyvern.ClaimAcquired)
	require.NoError(t, s.Complete(ctx, "k", c.Token))
	mustClaim(t, s, "k", skyvern.ClaimDone)

	var stored int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+schema+`"."Order" WHERE done_at_ms IS NOT NULL`).Scan(&stored))
	assert.Equal(t, 1, stored)

	clock.Advance(2 * time.Hour)
	n, err := s.Cleanup(ctx, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

func TestStoreDatabaseErrorsAreWrapped(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	// No CreateSchema: every statement fails with "relation does not exist".
	s, err := sqlstore.New(db, sqlstore.WithTable("sqlstore_test_missing_"+randomSuffix(t)))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Claim(ctx, "k")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sqlstore: claim:")
	_, err = s.Cleanup(ctx, time.Hour)
	assert.ErrorContains(t, err, "sqlstore: cleanup:")
}

// TestErrorsAreDistinct guards against sentinels that wrap each other, which
// would let a caller mistake one outcome for another.
func TestErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	sentinels := []error{sqlstore.ErrInvalidOption, sqlstore.ErrInvalidTable, sqlstore.ErrInvalidKey, skyvern.ErrLeaseLost, sql.ErrNoRows}
	for i, a := range sentinels {
		for j, b := range sentinels {
			assert.Equal(t, i == j, errors.Is(a, b), "%v is %v", a, b)
		}
	}
}
