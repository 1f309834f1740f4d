package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// pausingConnector opens lib/pq connections whose statements can be held
// up after the database ran them, to replay a goroutine being descheduled
// at the worst moment.
type pausingConnector struct {
	driver.Connector
	afterExec func(query string)
}

func (c pausingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return pausingConn{Conn: conn, afterExec: c.afterExec}, nil
}

type pausingConn struct {
	driver.Conn
	afterExec func(query string)
}

func (c pausingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	c.afterExec(query)
	return res, err
}

func (c pausingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

// TestReleaseRacingReclaimOnOneStore: a goroutine releases a key and is held
// up after the row is deleted; meanwhile another goroutine of the same Store
// claims the key anew, fails too and releases it. That second claim must be
// deleted, not left to the first goroutine as if the two shared it: a row
// left behind blocks the event for a whole lease, and Skyvern's retries run
// out against 503s in the meantime.
func TestReleaseRacingReclaimOnOneStore(t *testing.T) {
	t.Parallel()
	table := newTable(t, openDB(t))
	base, err := pq.NewConnector(testDSN(t))
	require.NoError(t, err)

	var (
		mu      sync.Mutex
		armed   = true
		deleted = make(chan struct{})
		resume  = make(chan struct{})
	)
	db := sql.OpenDB(pausingConnector{Connector: base, afterExec: func(query string) {
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
	}})
	t.Cleanup(func() { _ = db.Close() })
	replica, err := sqlstore.New(db, sqlstore.WithTable(table))
	require.NoError(t, err)
	other, err := sqlstore.New(openDB(t), sqlstore.WithTable(table))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const key = "tsk_v2_1:completed"

	got, err := replica.Claim(ctx, key)
	require.NoError(t, err)
	require.Equal(t, skyvern.ClaimAcquired, got)
	firstRelease := make(chan error, 1)
	go func() { firstRelease <- replica.Release(ctx, key) }()
	select {
	case <-deleted:
	case <-ctx.Done():
		t.Fatal("the first release never deleted its row")
	}

	got, err = replica.Claim(ctx, key)
	require.NoError(t, err)
	require.Equal(t, skyvern.ClaimAcquired, got, "the row is gone, so the key is free")
	require.NoError(t, replica.Release(ctx, key))
	close(resume)
	require.NoError(t, <-firstRelease)

	got, err = other.Claim(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, skyvern.ClaimAcquired, got, "both claims were released, so the key is free")
	total, _ := rowCount(t, openDB(t), table)
	assert.Equal(t, 1, total, "only the last claim's row")
}
