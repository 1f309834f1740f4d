package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

const testLease = time.Minute

// step is one call in a scripted sequence: a Store ("a" or "b") claims,
// completes or releases the case's key, or the shared clock moves.
type step struct {
	store   string
	op      string
	advance time.Duration
	want    skyvern.ClaimResult
	wantErr error
}

func claim(store string, want skyvern.ClaimResult) step {
	return step{store: store, op: "claim", want: want}
}
func complete(store string, wantErr error) step {
	return step{store: store, op: "complete", wantErr: wantErr}
}
func release(store string, wantErr error) step {
	return step{store: store, op: "release", wantErr: wantErr}
}
func advance(d time.Duration) step { return step{op: "advance", advance: d} }

func TestStoreStateTransitions(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	table := newTable(t, db)

	const (
		acquired = skyvern.ClaimAcquired
		done     = skyvern.ClaimDone
		busy     = skyvern.ClaimBusy
	)
	tests := []struct {
		name  string
		steps []step
	}{
		{"absent key is acquired", []step{claim("a", acquired)}},
		{"held key is busy for everyone", []step{
			claim("a", acquired), claim("b", busy), claim("a", busy),
		}},
		{"completed key is done for everyone", []step{
			claim("a", acquired), complete("a", nil), claim("b", done), claim("a", done),
		}},
		{"completed key stays done long after its lease", []step{
			claim("a", acquired), complete("a", nil), advance(100 * testLease), claim("b", done),
		}},
		{"released key can be claimed at once", []step{
			claim("a", acquired), release("a", nil), claim("b", acquired), complete("b", nil), claim("a", done),
		}},
		{"released key can be claimed again by the same store", []step{
			claim("a", acquired), release("a", nil), claim("a", acquired), complete("a", nil),
		}},
		{"complete and release need a claim", []step{
			complete("a", sqlstore.ErrNotClaimed), release("a", sqlstore.ErrNotClaimed), claim("b", acquired),
		}},
		{"another store's claim cannot be completed or released", []step{
			claim("a", acquired), complete("b", sqlstore.ErrNotClaimed), release("b", sqlstore.ErrNotClaimed), claim("b", busy),
		}},
		{"second complete is refused", []step{
			claim("a", acquired), complete("a", nil), complete("a", sqlstore.ErrNotClaimed), release("a", sqlstore.ErrNotClaimed), claim("b", done),
		}},
		{"lease holds until its last millisecond", []step{
			claim("a", acquired), advance(testLease - time.Millisecond), claim("b", busy),
			advance(time.Millisecond), claim("b", acquired),
		}},
		{"expired lease is taken over and the old holder cannot complete", []step{
			claim("a", acquired), advance(testLease), claim("b", acquired),
			complete("a", sqlstore.ErrLeaseLost), claim("a", busy), complete("b", nil), claim("a", done),
		}},
		{"old holder's release leaves the new claim alone", []step{
			claim("a", acquired), advance(testLease), claim("b", acquired),
			release("a", sqlstore.ErrLeaseLost), claim("a", busy), complete("b", nil), claim("a", done),
		}},
		{"old holder cannot complete a key the new holder completed", []step{
			claim("a", acquired), advance(testLease), claim("b", acquired), complete("b", nil),
			complete("a", sqlstore.ErrLeaseLost), claim("a", done),
		}},
		{"expired lease nobody took over still completes", []step{
			claim("a", acquired), advance(3 * testLease), complete("a", nil), claim("b", done),
		}},
		{"expired lease nobody took over still releases", []step{
			claim("a", acquired), advance(3 * testLease), release("a", nil), claim("b", acquired),
		}},
		{"old holder's success is recorded after the new holder released", []step{
			claim("a", acquired), advance(testLease), claim("b", acquired), release("b", nil),
			complete("a", nil), claim("b", done),
		}},
		{"taken-over key can be taken over again", []step{
			claim("a", acquired), advance(testLease), claim("b", acquired), advance(testLease),
			claim("a", acquired), complete("b", sqlstore.ErrLeaseLost), complete("a", nil), claim("b", done),
		}},
		// One Store, two goroutines: the second takes over the first's
		// expired claim, and the two share it.
		{"same store takeover: first release leaves the key to the other holder", []step{
			claim("a", acquired), advance(testLease), claim("a", acquired),
			release("a", nil), claim("b", busy), complete("a", nil), claim("b", done),
		}},
		{"same store takeover: first complete records the event, second learns it lost", []step{
			claim("a", acquired), advance(testLease), claim("a", acquired),
			complete("a", nil), claim("b", done), complete("a", sqlstore.ErrLeaseLost), complete("a", sqlstore.ErrNotClaimed),
		}},
		{"same store takeover: both release, the key is free", []step{
			claim("a", acquired), advance(testLease), claim("a", acquired),
			release("a", nil), release("a", nil), release("a", sqlstore.ErrNotClaimed), claim("b", acquired),
		}},
		{"same store takeover: all local holders lose to another store", []step{
			claim("a", acquired), advance(testLease), claim("a", acquired), advance(testLease), claim("b", acquired),
			complete("a", sqlstore.ErrLeaseLost), release("a", sqlstore.ErrLeaseLost), complete("b", nil), claim("a", done),
		}},
		{"same store takeover: a new claim after a lost one is usable", []step{
			claim("a", acquired), advance(testLease), claim("a", acquired), advance(testLease), claim("b", acquired),
			complete("a", sqlstore.ErrLeaseLost), release("b", nil), claim("a", acquired), complete("a", nil), claim("b", done),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			stores := map[string]*sqlstore.Store{}
			for _, name := range []string{"a", "b"} {
				s, err := sqlstore.New(db, sqlstore.WithTable(table), sqlstore.WithLease(testLease), sqlstore.WithClock(clock.Now))
				require.NoError(t, err)
				stores[name] = s
			}
			ctx := context.Background()
			key := "run:" + tt.name
			for i, st := range tt.steps {
				where := fmt.Sprintf("step %d (%s %s)", i, st.store, st.op)
				s := stores[st.store]
				switch st.op {
				case "advance":
					clock.Advance(st.advance)
				case "claim":
					got, err := s.Claim(ctx, key)
					require.NoError(t, err, where)
					assert.Equal(t, st.want, got, where)
				case "complete":
					assertErrorIs(t, st.wantErr, s.Complete(ctx, key), where)
				case "release":
					assertErrorIs(t, st.wantErr, s.Release(ctx, key), where)
				default:
					t.Fatalf("%s: unknown op", where)
				}
			}
		})
	}
}

func assertErrorIs(t *testing.T, want, got error, where string) {
	t.Helper()
	if want == nil {
		assert.NoError(t, got, where)
		return
	}
	assert.ErrorIs(t, got, want, where)
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
		got, err := s.Claim(ctx, key)
		require.NoError(t, err)
		require.Equal(t, skyvern.ClaimAcquired, got)
		require.NoError(t, s.Complete(ctx, key))
		got, err = s.Claim(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, skyvern.ClaimDone, got)
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
	a, longLease, b := newStore(testLease), newStore(10*time.Hour), newStore(testLease)
	ctx := context.Background()
	mustClaim := func(s *sqlstore.Store, key string) {
		t.Helper()
		got, err := s.Claim(ctx, key)
		require.NoError(t, err)
		require.Equal(t, skyvern.ClaimAcquired, got, key)
	}

	mustClaim(a, "done-old")
	require.NoError(t, a.Complete(ctx, "done-old"))
	mustClaim(a, "abandoned-old")
	mustClaim(longLease, "claimed-old-unexpired")
	clock.Advance(2 * time.Hour)
	mustClaim(a, "done-new")
	require.NoError(t, a.Complete(ctx, "done-new"))
	mustClaim(a, "claimed-new")

	n, err := b.Cleanup(ctx, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "deleted keys")
	total, done := rowCount(t, db, table)
	assert.Equal(t, 3, total)
	assert.Equal(t, 1, done)

	want := map[string]skyvern.ClaimResult{
		"done-old":              skyvern.ClaimAcquired,
		"abandoned-old":         skyvern.ClaimAcquired,
		"claimed-old-unexpired": skyvern.ClaimBusy,
		"done-new":              skyvern.ClaimDone,
		"claimed-new":           skyvern.ClaimBusy,
	}
	for key, wantResult := range want {
		got, err := b.Claim(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, wantResult, got, key)
	}

	// a's own Cleanup forgets its abandoned claim, which another store's
	// Cleanup already deleted from the table.
	n, err = a.Cleanup(ctx, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	assert.ErrorIs(t, a.Complete(ctx, "abandoned-old"), sqlstore.ErrNotClaimed)
	assert.NoError(t, a.Complete(ctx, "claimed-new"), "a recent claim is kept")
	n, err = longLease.Cleanup(ctx, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	assert.NoError(t, longLease.Complete(ctx, "claimed-old-unexpired"), "an old claim whose lease runs is kept")
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

	got, err := s.Claim(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, skyvern.ClaimAcquired, got)
	require.NoError(t, s.Complete(ctx, "k"))
	got, err = s.Claim(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, skyvern.ClaimDone, got)

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
	sentinels := []error{sqlstore.ErrInvalidOption, sqlstore.ErrInvalidTable, sqlstore.ErrInvalidKey, sqlstore.ErrNotClaimed, sqlstore.ErrLeaseLost, sql.ErrNoRows}
	for i, a := range sentinels {
		for j, b := range sentinels {
			assert.Equal(t, i == j, errors.Is(a, b), "%v is %v", a, b)
		}
	}
}
