package pgnotify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/pgnotify"
)

// TestCloseFlushesAndStops: Close writes what Notify queued, stops every
// goroutine of the relay and its listener, and later Notify calls drop.
func TestCloseFlushesAndStops(t *testing.T) {
	dsn := testDSN(t)
	db := openDB(t, dsn)
	table := newEventsTable(t, db)
	ignore := goleak.IgnoreCurrent()

	atB := newRecorder()
	b := startRelay(t, db, dsn, atB, pgnotify.WithTable(table))
	a, err := pgnotify.New(db, dsn, newRecorder(), pgnotify.WithTable(table))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Start(ctx))
	assert.Error(t, a.Start(ctx), "a relay starts once")
	for i := range 50 {
		a.Notify(payload(t, "tsk_"+string(rune('a'+i%26))+string(rune('a'+i/26)), skyvern.RunStatusCompleted, 10))
	}
	require.NoError(t, a.Close())
	assert.EqualValues(t, 50, a.Stats().Sent, "Close writes what was queued")
	a.Notify(payload(t, "tsk_late", skyvern.RunStatusCompleted, 10))
	assert.EqualValues(t, 1, a.Stats().Dropped)
	require.NoError(t, a.Close(), "Close twice is harmless")

	require.Eventually(t, func() bool { return b.Stats().Received == 50 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, b.Close())
	// The pool's own connection goroutines stay; the relays' are gone.
	goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}
