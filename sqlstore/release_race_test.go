package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// TestReleaseRacingReclaimOnOneStore: a goroutine releases a key and is held
// up after the row is deleted; meanwhile another goroutine of the same Store
// claims the key anew, fails too and releases it. Each release must delete
// its own claim only: a row left behind blocks the event for a whole lease,
// and Skyvern's retries run out against 503s in the meantime.
func TestReleaseRacingReclaimOnOneStore(t *testing.T) {
	t.Parallel()
	table := newTable(t, openDB(t))
	var (
		mu      sync.Mutex
		armed   = true
		deleted = make(chan struct{})
		resume  = make(chan struct{})
	)
	db := hookedDB(t, func(query string) {
		mu.Lock()
		pause := armed && strings.HasPrefix(query, "DELETE")
		if pause {
			armed = false
		}
		mu.Unlock()
		if pause {
			close(deleted)
			<-resume
		}
	})
	replica, err := sqlstore.New(db, sqlstore.WithTable(table))
	require.NoError(t, err)
	other, err := sqlstore.New(openDB(t), sqlstore.WithTable(table))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const key = "tsk_v2_1:completed"

	first := mustClaim(t, replica, key, skyvern.ClaimAcquired)
	firstRelease := make(chan error, 1)
	go func() { firstRelease <- replica.Release(ctx, key, first.Token) }()
	select {
	case <-deleted:
	case <-ctx.Done():
		t.Fatal("the first release never deleted its row")
	}

	second := mustClaim(t, replica, key, skyvern.ClaimAcquired)
	require.NoError(t, replica.Release(ctx, key, second.Token))
	close(resume)
	require.NoError(t, <-firstRelease)

	mustClaim(t, other, key, skyvern.ClaimAcquired)
	total, _ := rowCount(t, openDB(t), table)
	assert.Equal(t, 1, total, "only the last claim's row")
}
