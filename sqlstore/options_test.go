package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// unreachableDB is a pool that is never dialled: the tests that use it
// must fail before any statement is sent.
func unreachableDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestTableNameValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		table string
		ok    bool
	}{
		{"default", sqlstore.DefaultTable, true},
		{"leading underscore", "_events", true},
		{"mixed case and digits", "Webhook_Events_2", true},
		{"reserved word", "order", true},
		{"schema qualified", "hooks.events", true},
		{"longest part", strings.Repeat("a", 48) + "." + strings.Repeat("b", 48), true},
		{"empty selects the default", "", true},
		{"part too long", strings.Repeat("a", 49), false},
		{"leading digit", "1events", false},
		{"hyphen", "webhook-events", false},
		{"space", "webhook events", false},
		{"dollar", "events$", false},
		{"non-ASCII letter", "événements", false},
		{"two dots", "db.hooks.events", false},
		{"empty schema", ".events", false},
		{"empty table", "hooks.", false},
		{"statement injection", "events; DROP TABLE users; --", false},
		{"quote injection", `events" (x int); DROP TABLE users; --`, false},
		{"comment injection", "events/**/", false},
		{"already quoted", `"events"`, false},
		{"newline", "events\n", false},
		{"NUL", "events\x00", false},
	}
	db := unreachableDB(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sqlstore.New(db, sqlstore.WithTable(tt.table))
			schema, schemaErr := sqlstore.SchemaSQL(tt.table)
			if tt.ok {
				assert.NoError(t, err)
				assert.NoError(t, schemaErr)
				assert.Contains(t, schema, "CREATE TABLE IF NOT EXISTS ")
				return
			}
			assert.ErrorIs(t, err, sqlstore.ErrInvalidTable)
			assert.ErrorIs(t, schemaErr, sqlstore.ErrInvalidTable)
			assert.Empty(t, schema)
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	db := unreachableDB(t)
	tests := []struct {
		name string
		db   *sql.DB
		opts []sqlstore.Option
	}{
		{"nil db", nil, nil},
		{"negative lease", db, []sqlstore.Option{sqlstore.WithLease(-time.Minute)}},
		{"negative lease of a nanosecond", db, []sqlstore.Option{sqlstore.WithLease(-1)}},
		{"lease below a millisecond", db, []sqlstore.Option{sqlstore.WithLease(999 * time.Microsecond)}},
		{"unknown placeholder", db, []sqlstore.Option{sqlstore.WithPlaceholder(3)}},
		{"negative placeholder", db, []sqlstore.Option{sqlstore.WithPlaceholder(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlstore.New(tt.db, tt.opts...)
			assert.ErrorIs(t, err, sqlstore.ErrInvalidOption)
			assert.Nil(t, s)
		})
	}

	s, err := sqlstore.New(db, sqlstore.WithLease(time.Millisecond), sqlstore.WithClock(time.Now),
		sqlstore.WithPlaceholder(sqlstore.PlaceholderQuestion), sqlstore.WithPlaceholder(sqlstore.PlaceholderDollar))
	require.NoError(t, err)
	assert.NotNil(t, s)
}

// TestStoreRejectsBadInputWithoutDatabase checks that bad keys, a bad
// retention and a cancelled context are answered before the (unreachable)
// database is asked anything.
func TestStoreRejectsBadInputWithoutDatabase(t *testing.T) {
	t.Parallel()
	s, err := sqlstore.New(unreachableDB(t))
	require.NoError(t, err)
	ctx := context.Background()

	for name, key := range map[string]string{
		"empty":        "",
		"too long":     strings.Repeat("k", sqlstore.MaxKeyLen+1),
		"invalid UTF8": "run\xff",
		"NUL byte":     "run\x00id",
	} {
		_, err := s.Claim(ctx, key)
		assert.ErrorIs(t, err, sqlstore.ErrInvalidKey, "Claim %s", name)
		assert.ErrorIs(t, s.Renew(ctx, key, "t"), sqlstore.ErrInvalidKey, "Renew %s", name)
		assert.ErrorIs(t, s.Complete(ctx, key, "t"), sqlstore.ErrInvalidKey, "Complete %s", name)
		assert.ErrorIs(t, s.Release(ctx, key, "t"), sqlstore.ErrInvalidKey, "Release %s", name)
	}

	// The empty token never holds a key, so the database need not be asked.
	assert.ErrorIs(t, s.Renew(ctx, "k", ""), skyvern.ErrLeaseLost)
	assert.ErrorIs(t, s.Complete(ctx, "k", ""), skyvern.ErrLeaseLost)
	assert.ErrorIs(t, s.Release(ctx, "k", ""), skyvern.ErrLeaseLost)

	for _, d := range []time.Duration{0, -time.Hour} {
		n, err := s.Cleanup(ctx, d)
		assert.ErrorIs(t, err, sqlstore.ErrInvalidOption, "Cleanup(%v)", d)
		assert.Zero(t, n)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Claim(cancelled, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Renew(cancelled, "k", "t"), context.Canceled)
	assert.ErrorIs(t, s.Complete(cancelled, "k", "t"), context.Canceled)
	assert.ErrorIs(t, s.Release(cancelled, "k", "t"), context.Canceled)
	_, err = s.Cleanup(cancelled, time.Hour)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.CreateSchema(cancelled), context.Canceled)
}
