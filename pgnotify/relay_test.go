package pgnotify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/pgnotify"
)

// payload decodes a run webhook body for id with an output of outputBytes.
func payload(tb testing.TB, id string, status skyvern.RunStatus, outputBytes int) *skyvern.WebhookPayload {
	tb.Helper()
	body := fmt.Sprintf(`{"run_id":%q,"status":%q,"run_type":"task_v1","output":{"text":%q},"created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:00:01"}`,
		id, status, strings.Repeat("x", outputBytes))
	var p skyvern.WebhookPayload
	require.NoError(tb, json.Unmarshal([]byte(body), &p))
	return &p
}

func TestRelayCarriesBodiesPastTheNotifyLimit(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	db := openDB(t, dsn)
	table := newEventsTable(t, db)
	localA, atB := newRecorder(), newRecorder()
	a := startRelay(t, db, dsn, localA, pgnotify.WithTable(table), pgnotify.WithMaxBody(64<<10))
	startRelay(t, db, dsn, atB, pgnotify.WithTable(table))

	big := payload(t, "tsk_big", skyvern.RunStatusCompleted, 20_000) // over NOTIFY's 8000 bytes
	huge := payload(t, "tsk_huge", skyvern.RunStatusFailed, 100<<10) // over this relay's body limit
	a.Notify(big)
	a.Notify(huge)
	a.Notify(payload(t, "tsk_running", skyvern.RunStatusRunning, 10)) // not terminal: not relayed

	atB.waitFor(t, 10*time.Second, "tsk_big", "tsk_huge")
	got, _ := atB.payload("tsk_big")
	assert.Equal(t, string(big.Raw), string(got.Raw), "the body arrives whole")
	assert.Equal(t, skyvern.RunStatusCompleted, got.Status)
	got, _ = atB.payload("tsk_huge")
	assert.Nil(t, got.Raw, "a body over the limit is not relayed")
	assert.Equal(t, skyvern.RunStatusFailed, got.Status)
	assert.Equal(t, skyvern.RunTypeTaskV1, got.RunType)

	_, local := localA.payload("tsk_big")
	assert.True(t, local, "Notify publishes to its own replica at once")
	// Sent counts a write once its statement returns, which may be after b
	// has read the rows.
	require.Eventually(t, func() bool { return a.Stats().Sent == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.Zero(t, a.Stats().Received, "a relay does not read back its own events")
	_, ok := atB.payload("tsk_running")
	assert.False(t, ok)
}

// TestRelayCatchesUpAfterPartition cuts one replica's listening connection,
// writes events while it is down, and checks that it reads all of them when
// it reconnects, with no scan timer to help.
func TestRelayCatchesUpAfterPartition(t *testing.T) {
	t.Parallel()
	a, b, atB, px := partitionedPair(t, pgnotify.WithScanInterval(time.Hour), pgnotify.WithReconnect(20*time.Millisecond, 100*time.Millisecond))

	a.Notify(payload(t, "tsk_before", skyvern.RunStatusCompleted, 10))
	atB.waitFor(t, 10*time.Second, "tsk_before")

	px.cut(true)
	require.Eventually(t, func() bool { return !b.Stats().Listening }, 10*time.Second, 5*time.Millisecond)
	// A read that the notification of tsk_before asked for may still be
	// pending; let it happen before the events that b must miss.
	time.Sleep(100 * time.Millisecond)
	var during []string
	for i := range 20 {
		id := fmt.Sprintf("tsk_during_%d", i)
		during = append(during, id)
		a.Notify(payload(t, id, skyvern.RunStatusCompleted, 10))
	}
	require.Eventually(t, func() bool { return a.Stats().Sent == 21 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	for _, id := range during {
		_, ok := atB.payload(id)
		require.False(t, ok, "%s arrived while the replica was cut off: %+v", id, b.Stats())
	}

	px.cut(false)
	atB.waitFor(t, 10*time.Second, during...)
	assert.True(t, b.Stats().Listening)
	assert.GreaterOrEqual(t, b.Stats().Reconnects, int64(1))
}

// TestRelayScansWhileListenerIsDown: with the listening connection gone for
// good, the relay still reads new events every scan interval.
// partitionedPair starts relay a, and relay b (with bOpts) whose listening
// connection goes through a proxy the test can cut; b's writes and reads go
// straight to the database.
func partitionedPair(t *testing.T, bOpts ...pgnotify.Option) (a, b *pgnotify.Relay, atB *recorder, px *proxy) {
	t.Helper()
	dsn := testDSN(t)
	db := openDB(t, dsn)
	table := newEventsTable(t, db)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	px = newProxy(t, u.Host)
	a = startRelay(t, db, dsn, newRecorder(), pgnotify.WithTable(table))
	atB = newRecorder()
	b = startRelay(t, db, withHost(t, dsn, px.addr()), atB, append([]pgnotify.Option{pgnotify.WithTable(table)}, bOpts...)...)
	return a, b, atB, px
}

func TestRelayScansWhileListenerIsDown(t *testing.T) {
	t.Parallel()
	a, b, atB, px := partitionedPair(t, pgnotify.WithScanInterval(100*time.Millisecond))
	px.cut(true)
	require.Eventually(t, func() bool { return !b.Stats().Listening }, 10*time.Second, 5*time.Millisecond)
	a.Notify(payload(t, "tsk_1", skyvern.RunStatusCompleted, 10))
	atB.waitFor(t, 10*time.Second, "tsk_1")
	assert.False(t, b.Stats().Listening)
}

// TestRelayWaitsForALateCommit: ids are taken at insert and seen at commit,
// so a row can appear after a higher id was read. The relay must not skip
// it.
func TestRelayWaitsForALateCommit(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	db := openDB(t, dsn)
	table := newEventsTable(t, db)
	a := startRelay(t, db, dsn, newRecorder(), pgnotify.WithTable(table))
	atB := newRecorder()
	startRelay(t, db, dsn, atB, pgnotify.WithTable(table), pgnotify.WithScanInterval(time.Hour))

	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	var lateID int64
	require.NoError(t, tx.QueryRowContext(ctx, `INSERT INTO "`+table+`" (run_id, status, origin) VALUES ('tsk_late', 'completed', 'elsewhere') RETURNING id`).Scan(&lateID))

	a.Notify(payload(t, "tsk_early", skyvern.RunStatusCompleted, 10))
	atB.waitFor(t, 10*time.Second, "tsk_early")
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, table, fmt.Sprint(lateID))
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	atB.waitFor(t, 10*time.Second, "tsk_late")
	got, _ := atB.payload("tsk_late")
	assert.Nil(t, got.Raw)
	assert.Equal(t, skyvern.RunStatusCompleted, got.Status)
}

func TestNewRejectsBadArguments(t *testing.T) {
	t.Parallel()
	db := openDBLazy(t)
	tests := []struct {
		name string
		fn   func() (*pgnotify.Relay, error)
	}{
		{"nil db", func() (*pgnotify.Relay, error) { return pgnotify.New(nil, "postgres://x", newRecorder()) }},
		{"empty dsn", func() (*pgnotify.Relay, error) { return pgnotify.New(db, "", newRecorder()) }},
		{"nil publisher", func() (*pgnotify.Relay, error) { return pgnotify.New(db, "postgres://x", nil) }},
		{"quoted table", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithTable(`a"; DROP TABLE x; --`))
		}},
		{"negative body", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithMaxBody(-1))
		}},
		{"negative scan", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithScanInterval(-time.Second))
		}},
		{"negative retention", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithRetention(-time.Hour))
		}},
		{"retention under a second", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithRetention(time.Millisecond))
		}},
		{"negative queue", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithQueue(-1))
		}},
		{"negative reconnect", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithReconnect(-time.Second, time.Second))
		}},
		{"reconnect order", func() (*pgnotify.Relay, error) {
			return pgnotify.New(db, "postgres://x", newRecorder(), pgnotify.WithReconnect(time.Second, time.Millisecond))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.fn()
			assert.Nil(t, r)
			assert.ErrorIs(t, err, pgnotify.ErrInvalidOption)
		})
	}
}

// TestRelaySmallEventsNeedNoRead: a body that fits in a notification comes
// with it, so the listeners publish it without reading the table; here the
// listener's table reads all fail.
func TestRelaySmallEventsNeedNoRead(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	db := openDB(t, dsn)
	table := newEventsTable(t, db)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	px := newProxy(t, u.Host)
	a := startRelay(t, db, dsn, newRecorder(), pgnotify.WithTable(table))
	atB := newRecorder()
	b := startRelay(t, openDB(t, withHost(t, dsn, px.addr())), dsn, atB, pgnotify.WithTable(table), pgnotify.WithScanInterval(50*time.Millisecond))
	px.cut(true) // b's pool is cut off; its listening connection is not
	require.Eventually(t, func() bool { return b.Stats().ScanErrors > 0 }, 10*time.Second, 5*time.Millisecond)

	small := payload(t, "tsk_small", skyvern.RunStatusCompleted, 7000)
	a.Notify(small)
	atB.waitFor(t, 10*time.Second, "tsk_small")
	got, _ := atB.payload("tsk_small")
	assert.Equal(t, string(small.Raw), string(got.Raw))

	// Not valid UTF-8: PostgreSQL could not turn it into notification
	// text, so it travels by id and status, and b, unable to read, misses
	// it until its pool is back.
	odd := payload(t, "tsk_odd", skyvern.RunStatusFailed, 10)
	odd.Raw = append(odd.Raw[:len(odd.Raw)-1:len(odd.Raw)-1], []byte(`,"x":"`+"\xff"+`"}`)...)
	a.Notify(odd)
	require.Eventually(t, func() bool { return a.Stats().Sent == 2 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	_, ok := atB.payload("tsk_odd")
	assert.False(t, ok, "arrived without a read of the table")
	px.cut(false)
	atB.waitFor(t, 10*time.Second, "tsk_odd")
	got, _ = atB.payload("tsk_odd")
	assert.Nil(t, got.Raw)
	assert.Equal(t, skyvern.RunStatusFailed, got.Status)
}
