package skyvern

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock for lease tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
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

func claim(t *testing.T, s IdempotencyStore, key string) ClaimResult {
	t.Helper()
	res, err := s.Claim(context.Background(), key)
	require.NoError(t, err)
	return res
}

func TestMemoryStoreProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemoryStore()
	assert.Equal(t, ClaimAcquired, claim(t, s, "a"))
	assert.Equal(t, ClaimBusy, claim(t, s, "a"))
	assert.Equal(t, ClaimAcquired, claim(t, s, "b"), "keys are independent")

	require.NoError(t, s.Release(ctx, "a"))
	assert.Equal(t, ClaimAcquired, claim(t, s, "a"), "a released key can be claimed again")

	require.NoError(t, s.Complete(ctx, "a"))
	assert.Equal(t, ClaimDone, claim(t, s, "a"))
	assert.Equal(t, ClaimDone, claim(t, s, "a"))
	require.NoError(t, s.Release(ctx, "a"))
	assert.Equal(t, ClaimDone, claim(t, s, "a"), "release does not undo completion")
	require.NoError(t, s.Complete(ctx, "a"), "completing twice is harmless")
}

func TestMemoryStoreLeaseExpires(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1769873016, 0)}
	s := NewMemoryStore(WithStoreLease(time.Minute), WithStoreClock(clock.Now))
	assert.Equal(t, ClaimAcquired, claim(t, s, "k"))
	clock.Advance(59 * time.Second)
	assert.Equal(t, ClaimBusy, claim(t, s, "k"))
	clock.Advance(time.Second)
	assert.Equal(t, ClaimAcquired, claim(t, s, "k"), "a crashed worker's claim expires")
	assert.Equal(t, ClaimBusy, claim(t, s, "k"), "and the new claim has its own lease")
}

func TestMemoryStoreEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemoryStore(WithStoreCapacity(3))
	for _, k := range []string{"a", "b", "c"} {
		require.Equal(t, ClaimAcquired, claim(t, s, k))
		require.NoError(t, s.Complete(ctx, k))
	}
	assert.Equal(t, ClaimDone, claim(t, s, "a"), "touch a so b is the oldest")
	require.Equal(t, ClaimAcquired, claim(t, s, "d"))
	require.NoError(t, s.Complete(ctx, "d"))

	assert.Equal(t, ClaimAcquired, claim(t, s, "b"), "b was evicted")
	for _, k := range []string{"a", "c", "d"} {
		assert.Equal(t, ClaimDone, claim(t, s, k), k)
	}
	assert.Len(t, s.done, 3)
}

func TestMemoryStoreDropsAbandonedClaims(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(0, 0)}
	s := NewMemoryStore(WithStoreCapacity(4), WithStoreLease(time.Second), WithStoreClock(clock.Now))
	for i := 0; i < 4; i++ {
		require.Equal(t, ClaimAcquired, claim(t, s, fmt.Sprint("abandoned", i)))
	}
	clock.Advance(2 * time.Second)
	require.Equal(t, ClaimAcquired, claim(t, s, "fresh"))
	assert.Len(t, s.claims, 1, "expired claims are swept when the table is full")
}

func TestMemoryStoreOptionsIgnoreBadValues(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore(WithStoreCapacity(0), WithStoreLease(-time.Second), WithStoreClock(nil), nil)
	assert.Equal(t, DefaultMemoryStoreCapacity, s.capacity)
	assert.Equal(t, DefaultStoreLease, s.lease)
	assert.NotNil(t, s.now)
}

func TestMemoryStoreConcurrentClaimsAcquireOnce(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acquired int
	)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Claim(context.Background(), "same")
			if err == nil && res == ClaimAcquired {
				mu.Lock()
				acquired++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, acquired)
}
