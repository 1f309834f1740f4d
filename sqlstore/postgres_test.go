package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "github.com/lib/pq"              // registers driver "postgres"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern/skyverntest"
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

// driverEnv names the variable that picks the database/sql driver of the
// tests: "pq" (github.com/lib/pq, the default) or "pgx"
// (github.com/jackc/pgx/v5/stdlib). The package itself imports neither.
const driverEnv = "SKYVERN_TEST_POSTGRES_DRIVER"

// drivers maps the values of driverEnv to registered driver names.
var drivers = map[string]string{"pq": "postgres", "pgx": "pgx"}

// testDriver is the driver name the tests use.
func testDriver(tb testing.TB) string {
	tb.Helper()
	v := os.Getenv(driverEnv)
	if v == "" {
		v = "pq"
	}
	name, ok := drivers[v]
	if !ok {
		tb.Fatalf("%s=%q: want pq or pgx", driverEnv, v)
	}
	return name
}

// openDB opens a pool of its own on the test database, as a replica would,
// with the driver driverEnv picks.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	return openDriverDB(tb, testDriver(tb))
}

// openDriverDB is openDB with a given driver.
func openDriverDB(tb testing.TB, driverName string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driverName, testDSN(tb))
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

// newFakeClock returns a clock shared by the Stores of one test, moved by
// hand.
func newFakeClock() *skyverntest.ManualClock {
	return skyverntest.NewManualClock(time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC))
}

// hookedDB opens a pool of the test driver whose connections call after
// with each statement once the database ran it (before its rows are read),
// to count round trips or to hold a goroutine up at the worst moment.
func hookedDB(tb testing.TB, after func(query string)) *sql.DB {
	tb.Helper()
	base := dsnConnector{driver: openDB(tb).Driver(), dsn: testDSN(tb)}
	db := sql.OpenDB(hookedConnector{dsnConnector: base, after: after})
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// dsnConnector opens connections of any driver from a DSN.
type dsnConnector struct {
	driver driver.Driver
	dsn    string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }

func (c dsnConnector) Driver() driver.Driver { return c.driver }

type hookedConnector struct {
	dsnConnector
	after func(query string)
}

func (c hookedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.dsnConnector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return hookedConn{Conn: conn, after: c.after}, nil
}

type hookedConn struct {
	driver.Conn
	after func(query string)
}

func (c hookedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	c.after(query)
	return res, err
}

func (c hookedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	c.after(query)
	return rows, err
}
