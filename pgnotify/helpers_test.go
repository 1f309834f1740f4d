package pgnotify_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/pgnotify"
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

// withParam returns dsn with one query parameter set, e.g. application_name
// (which the tests use to find a connection to kill) or a host and port.
func withParam(tb testing.TB, dsn, key, value string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	require.NoError(tb, err)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// withHost points dsn at another host:port.
func withHost(tb testing.TB, dsn, hostport string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	require.NoError(tb, err)
	u.Host = hostport
	return u.String()
}

func openDB(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", dsn)
	require.NoError(tb, err)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	tb.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(tb, db.PingContext(ctx), "PostgreSQL at $%s does not answer", dsnEnv)
	return db
}

func randomName(tb testing.TB, prefix string) string {
	tb.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return prefix + hex.EncodeToString(b[:])
}

// newEventsTable names a table of the test's own and drops it when the
// test ends.
func newEventsTable(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	table := randomName(tb, "pgnotify_test_")
	tb.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), `DROP TABLE IF EXISTS "`+table+`"`)
		if err != nil {
			tb.Errorf("drop %s: %v", table, err)
		}
	})
	return table
}

// startRelay makes, sets up and starts a relay, closed when the test ends.
func startRelay(tb testing.TB, db *sql.DB, dsn string, pub pgnotify.Publisher, opts ...pgnotify.Option) *pgnotify.Relay {
	tb.Helper()
	r, err := pgnotify.New(db, dsn, pub, opts...)
	require.NoError(tb, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(tb, r.CreateSchema(ctx))
	require.NoError(tb, r.Start(ctx))
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// terminate kills the server backends of connections named app, as an
// administrator or a failover would, and returns how many it killed.
func terminate(tb testing.TB, db *sql.DB, app string) int {
	tb.Helper()
	var n int
	err := db.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) AS killed`, app).Scan(&n)
	require.NoError(tb, err)
	return n
}

// recorder is a Publisher that remembers what it got.
type recorder struct {
	mu   sync.Mutex
	got  map[string]*skyvern.WebhookPayload // by run id
	wake chan struct{}
}

func newRecorder() *recorder {
	return &recorder{got: make(map[string]*skyvern.WebhookPayload), wake: make(chan struct{}, 1)}
}

func (r *recorder) PublishPayload(p *skyvern.WebhookPayload) {
	r.mu.Lock()
	r.got[p.RunID] = p
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) payload(id string) (*skyvern.WebhookPayload, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.got[id]
	return p, ok
}

// waitFor waits until the recorder has every id, or fails the test.
func (r *recorder) waitFor(tb testing.TB, timeout time.Duration, ids ...string) {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		missing := 0
		for _, id := range ids {
			if _, ok := r.payload(id); !ok {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		select {
		case <-r.wake:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("%d of %d events did not arrive within %v", missing, len(ids), timeout)
		}
	}
}

// proxy forwards loopback TCP connections to PostgreSQL and can cut them:
// a network partition between one replica and the database.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go p.serve()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.cut(false)
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go pipe(c, up)
		go pipe(up, c)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// cut closes every forwarded connection; while down, new ones are refused.
func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// openDBLazy opens a pool without connecting, for tests that need no
// server.
func openDBLazy(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", "postgres://127.0.0.1:1/none?sslmode=disable")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}
