package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern/sqlstore"
)

// dsnEnv names the variable that points the tests at a PostgreSQL database
// they may create and drop tables in.
const dsnEnv = "SKYVERN_TEST_POSTGRES_DSN"

func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		tb.Skip(dsnEnv + ` not set: run eval "$(bash .ci/postgres.sh start)" from the repository root to start a throwaway PostgreSQL, then go test again (bash .ci/postgres.sh stop removes it)`)
	}
	return dsn
}

// openDB opens a pool of its own on the test database, as a replica would.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", testDSN(tb))
	require.NoError(tb, err)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	tb.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(tb, db.PingContext(ctx), "PostgreSQL at $%s does not answer", dsnEnv)
	return db
}

func randomSuffix(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return hex.EncodeToString(b[:])
}

// newTable returns the name of a table of the test's own, created through
// CreateSchema and dropped when the test ends.
func newTable(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	table := "sqlstore_test_" + randomSuffix(tb)
	s, err := sqlstore.New(db, sqlstore.WithTable(table))
	require.NoError(tb, err)
	require.NoError(tb, s.CreateSchema(context.Background()))
	tb.Cleanup(func() { dropTable(tb, db, `"`+table+`"`) })
	return table
}

func dropTable(tb testing.TB, db *sql.DB, quoted string) {
	tb.Helper()
	_, err := db.ExecContext(context.Background(), `DROP TABLE IF EXISTS `+quoted)
	if err != nil {
		tb.Errorf("drop %s: %v", quoted, err)
	}
}

// rowCount counts the keys of a table, done or claimed.
func rowCount(tb testing.TB, db *sql.DB, table string) (total, done int) {
	tb.Helper()
	err := db.QueryRowContext(context.Background(),
		`SELECT COUNT(*), COUNT(done_at_ms) FROM "`+table+`"`).Scan(&total, &done)
	require.NoError(tb, err)
	return total, done
}

// fakeClock is a clock shared by the Stores of one test, moved by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
