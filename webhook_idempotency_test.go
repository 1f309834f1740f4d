package skyvern

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
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

func claim(t *testing.T, s IdempotencyStore, key string) Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), key)
	require.NoError(t, err)
	return c
}

// The protocol itself is checked by skyverntest.TestIdempotencyStore, which
// runs against MemoryStore in package skyverntest; these tests cover what
// is particular to MemoryStore.

// TestMemoryStoreStaleReleaseKeepsTakeover: a worker whose lease expired
// must not release the key out from under the worker that took it over, or
// a third worker acquires it and runs the event a second time.
func TestMemoryStoreStaleReleaseKeepsTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(1769873016, 0)}
	s := MustMemoryStore(t, WithStoreLease(time.Minute), WithStoreClock(clock.Now))
	stale := claim(t, s, "k")
	require.Equal(t, ClaimAcquired, stale.Result)
	clock.Advance(time.Minute)
	takeover := claim(t, s, "k")
	require.Equal(t, ClaimAcquired, takeover.Result)

	assert.ErrorIs(t, s.Release(ctx, "k", stale.Token), ErrLeaseLost)
	assert.Equal(t, ClaimBusy, claim(t, s, "k").Result, "the third worker waits for the second")
	require.NoError(t, s.Complete(ctx, "k", takeover.Token))
	assert.Equal(t, ClaimDone, claim(t, s, "k").Result)
}

func TestMemoryStoreEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := MustMemoryStore(t, WithStoreCapacity(3))
	for _, k := range []string{"a", "b", "c"} {
		c := claim(t, s, k)
		require.Equal(t, ClaimAcquired, c.Result)
		require.NoError(t, s.Complete(ctx, k, c.Token))
	}
	assert.Equal(t, ClaimDone, claim(t, s, "a").Result, "touch a so b is the oldest")
	d := claim(t, s, "d")
	require.Equal(t, ClaimAcquired, d.Result)
	require.NoError(t, s.Complete(ctx, "d", d.Token))

	assert.Equal(t, ClaimAcquired, claim(t, s, "b").Result, "b was evicted")
	for _, k := range []string{"a", "c", "d"} {
		assert.Equal(t, ClaimDone, claim(t, s, k).Result, k)
	}
	assert.Len(t, s.done, 3)
}

// TestMemoryStoreBoundsClaims: the claim table never grows past its bound,
// and a store full of unexpired claims refuses new keys instead of evicting
// a claim that a worker still works under.
func TestMemoryStoreBoundsClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(0, 0)}
	s := MustMemoryStore(t, WithStoreMaxClaims(3), WithStoreLease(time.Minute), WithStoreClock(clock.Now))
	held := map[string]Claim{}
	for i := range 3 {
		key := fmt.Sprint("live", i)
		held[key] = claim(t, s, key)
		require.Equal(t, ClaimAcquired, held[key].Result)
		clock.Advance(time.Second)
	}

	_, err := s.Claim(ctx, "one-too-many")
	require.ErrorIs(t, err, ErrStoreFull)
	assert.Len(t, s.claims, 3)
	for key, c := range held {
		assert.Equal(t, ClaimBusy, claim(t, s, key).Result, "%s is still held", key)
		assert.NoError(t, s.Renew(ctx, key, c.Token), "%s still renews", key)
	}
	assert.Equal(t, ClaimDone, func() ClaimResult {
		// A full store still answers for completed keys.
		require.NoError(t, s.Complete(ctx, "live0", held["live0"].Token))
		return claim(t, s, "live0").Result
	}())

	require.Equal(t, ClaimAcquired, claim(t, s, "one-too-many").Result, "a finished claim made room")
	_, err = s.Claim(ctx, "another")
	require.ErrorIs(t, err, ErrStoreFull)
}

// TestMemoryStoreDropsExpiredClaims: abandoned claims leave the table once
// their lease runs out, oldest first, and renewed ones stay.
func TestMemoryStoreDropsExpiredClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(0, 0)}
	s := MustMemoryStore(t, WithStoreMaxClaims(4), WithStoreLease(10*time.Second), WithStoreClock(clock.Now))
	var kept Claim
	for i := range 4 {
		c := claim(t, s, fmt.Sprint("abandoned", i))
		require.Equal(t, ClaimAcquired, c.Result)
		if i == 0 {
			kept = c
		}
	}
	clock.Advance(6 * time.Second)
	require.NoError(t, s.Renew(ctx, "abandoned0", kept.Token), "the oldest claim is renewed and goes last")
	clock.Advance(6 * time.Second)

	require.Equal(t, ClaimAcquired, claim(t, s, "fresh").Result, "expired claims made room")
	assert.Len(t, s.claims, 2, "only the renewed claim and the fresh one are left")
	assert.Equal(t, ClaimBusy, claim(t, s, "abandoned0").Result)
	assert.Equal(t, ClaimAcquired, claim(t, s, "abandoned1").Result)
}

func TestMemoryStoreZeroOptionsSelectDefaults(t *testing.T) {
	t.Parallel()
	s := MustMemoryStore(t, WithStoreCapacity(0), WithStoreMaxClaims(0), WithStoreLease(0), WithStoreClock(nil), nil)
	assert.Equal(t, DefaultMemoryStoreCapacity, s.capacity)
	assert.Equal(t, DefaultMemoryStoreMaxClaims, s.maxClaims)
	assert.Equal(t, DefaultStoreLease, s.lease)
	assert.NotNil(t, s.now)
	assert.Equal(t, DefaultStoreLease, claim(t, s, "k").Lease)
}

func TestMemoryStoreRejectsNegativeOptions(t *testing.T) {
	t.Parallel()
	cases := map[string]MemoryStoreOption{
		"WithStoreCapacity":  WithStoreCapacity(-1),
		"WithStoreMaxClaims": WithStoreMaxClaims(-1),
		"WithStoreLease":     WithStoreLease(-time.Second),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := NewMemoryStore(WithStoreCapacity(5), opt)
			require.ErrorIs(t, err, ErrInvalidOption)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), name)
		})
	}
}

// BenchmarkMemoryStoreClaim measures a Claim of a new key and its Release
// while held other claims are outstanding. Before the expiry list, a store
// holding as many claims as its capacity scanned them all on every Claim.
func BenchmarkMemoryStoreClaim(b *testing.B) {
	for _, held := range []int{10, 10000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			s := MustMemoryStore(b, WithStoreMaxClaims(held+1))
			ctx := context.Background()
			for i := range held {
				if _, err := s.Claim(ctx, fmt.Sprint("held:", i)); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprint("new:", i)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := keys[i%len(keys)]
				c, err := s.Claim(ctx, k)
				if err != nil || c.Result != ClaimAcquired {
					b.Fatal(c, err)
				}
				if err := s.Release(ctx, k, c.Token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// leaseReporter makes the handler renew the claims of a store every third
// of lease, and counts the renewals that succeeded. (The suite in
// skyverntest checks with it that renewals keep a slow worker's event.)
type leaseReporter struct {
	IdempotencyStore
	lease  time.Duration
	renews atomic.Int32
}

func (r *leaseReporter) Claim(ctx context.Context, key string) (Claim, error) {
	c, err := r.IdempotencyStore.Claim(ctx, key)
	if c.Result == ClaimAcquired {
		c.Lease = r.lease
	}
	return c, err
}

func (r *leaseReporter) Renew(ctx context.Context, key, token string) error {
	err := r.IdempotencyStore.Renew(ctx, key, token)
	if err == nil {
		r.renews.Add(1)
	}
	return err
}

// TestHandlerHeartbeatEnds: the heartbeat goroutine is gone when the
// handler returns, whether the function succeeded, failed or panicked.
// Not parallel: goleak must see only this test's goroutines.
func TestHandlerHeartbeatEnds(t *testing.T) {
	leakOpt := goleak.IgnoreCurrent()
	store := &leaseReporter{IdempotencyStore: MustMemoryStore(t), lease: 3 * time.Millisecond}
	results := []func() error{
		func() error { return nil },
		func() error { return errors.New("failed") },
		func() error { panic("boom") },
	}
	for i, result := range results {
		before := store.renews.Load()
		h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error {
			// Work until the heartbeat has renewed twice, so that it is
			// running when the function ends.
			for store.renews.Load() < before+2 {
				time.Sleep(time.Millisecond)
			}
			return result()
		}, WithIdempotencyStore(store))
		req := delivery(deliveryBody(fmt.Sprint("tsk_heartbeat_", i), RunStatusCompleted), testKey)
		func() {
			defer func() { _ = recover() }()
			serve(h, req)
		}()
		require.NoError(t, goleak.Find(leakOpt), "after result %d", i)
	}
}

// slowRenew is a store whose renewals hang until their context ends, and
// that notes a Complete or Release made while a renewal is still under way.
type slowRenew struct {
	IdempotencyStore
	renewing atomic.Bool
	entered  chan struct{}
	overlaps atomic.Int32
}

func (s *slowRenew) Claim(ctx context.Context, key string) (Claim, error) {
	c, err := s.IdempotencyStore.Claim(ctx, key)
	c.Lease = 3 * time.Millisecond
	return c, err
}

func (s *slowRenew) Renew(ctx context.Context, _, _ string) error {
	if s.renewing.Swap(true) {
		return errors.New("two renewals at once")
	}
	defer s.renewing.Store(false)
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *slowRenew) finishing() {
	if s.renewing.Load() {
		s.overlaps.Add(1)
	}
}

func (s *slowRenew) Complete(ctx context.Context, key, token string) error {
	s.finishing()
	return s.IdempotencyStore.Complete(ctx, key, token)
}

func (s *slowRenew) Release(ctx context.Context, key, token string) error {
	s.finishing()
	return s.IdempotencyStore.Release(ctx, key, token)
}

// TestHandlerStopsRenewingBeforeFinishing: a renewal still under way when
// the function returns is cancelled and waited for, so that it cannot reach
// the store after the claim was completed or released.
func TestHandlerStopsRenewingBeforeFinishing(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		store := &slowRenew{IdempotencyStore: MustMemoryStore(t), entered: make(chan struct{})}
		h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error {
			<-store.entered
			if fail {
				return errors.New("failed")
			}
			return nil
		}, WithIdempotencyStore(store))
		serve(h, delivery(deliveryBody(fmt.Sprint("tsk_renewing_", fail), RunStatusCompleted), testKey))
		assert.Zero(t, store.overlaps.Load(), "fail=%v: the store finished the claim during a renewal", fail)
	}
}

// lostLease is a store whose renewals find the lease taken over.
type lostLease struct {
	IdempotencyStore
	released chan error
}

func (l *lostLease) Claim(ctx context.Context, key string) (Claim, error) {
	c, err := l.IdempotencyStore.Claim(ctx, key)
	c.Lease = 3 * time.Millisecond
	return c, err
}

func (l *lostLease) Renew(context.Context, string, string) error { return ErrLeaseLost }

func (l *lostLease) Release(ctx context.Context, key, token string) error {
	err := l.IdempotencyStore.Release(ctx, key, token)
	l.released <- err
	return err
}

// TestHandlerCancelsFunctionWhenLeaseLost: once another worker may be
// processing the event, the function is told to stop, and its failure
// releases the claim it held (the store decides whether it still can).
func TestHandlerCancelsFunctionWhenLeaseLost(t *testing.T) {
	t.Parallel()
	store := &lostLease{IdempotencyStore: MustMemoryStore(t), released: make(chan error, 1)}
	var cause error
	h := mustWebhook(t, testKey).Handler(func(ctx context.Context, _ *WebhookPayload) error {
		<-ctx.Done()
		cause = context.Cause(ctx)
		return cause
	}, WithIdempotencyStore(store))
	rec := serve(h, delivery(deliveryBody("tsk_lost", RunStatusCompleted), testKey))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.ErrorIs(t, cause, ErrLeaseLost)
	assert.NoError(t, <-store.released)
}

// finishGuard behaves like a database store: an operation on a cancelled
// context fails without reaching the store.
type finishGuard struct{ IdempotencyStore }

func (f finishGuard) Complete(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.IdempotencyStore.Complete(ctx, key, token)
}

func (f finishGuard) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.IdempotencyStore.Release(ctx, key, token)
}

// TestHandlerRecordsResultAfterClientLeft: Skyvern may hang up while the
// function runs (its attempt timed out); the store must still hear the
// result, or a success would run again and a failure would block the event
// for a lease.
func TestHandlerRecordsResultAfterClientLeft(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			t.Parallel()
			store := finishGuard{MustMemoryStore(t)}
			ctx, hangUp := context.WithCancel(context.Background())
			defer hangUp()
			var calls atomic.Int32
			h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error {
				if calls.Add(1) == 1 {
					hangUp()
					if fail {
						return errors.New("failed")
					}
				}
				return nil
			}, WithIdempotencyStore(store), WithBusyWait(0))
			body := deliveryBody("tsk_hangup", RunStatusCompleted)

			serve(h, delivery(body, testKey).WithContext(ctx))
			assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
			want := int32(1)
			if fail {
				want = 2 // released, so the redelivery ran it at once
			}
			assert.Equal(t, want, calls.Load())
		})
	}
}

// TestHandlerAnswers503WhenStoreFull: with every claim slot taken by a
// worker still running, a new event is answered 503 at once (Skyvern comes
// back after Retry-After) and the running worker keeps its event.
func TestHandlerAnswers503WhenStoreFull(t *testing.T) {
	t.Parallel()
	store := MustMemoryStore(t, WithStoreMaxClaims(1))
	var calls atomic.Int32
	finish := make(chan struct{})
	h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error {
		if calls.Add(1) == 1 {
			<-finish
		}
		return nil
	}, WithIdempotencyStore(store), WithBusyWait(time.Hour))
	busyBody := deliveryBody("tsk_running", RunStatusCompleted)
	first := make(chan int, 1)
	go func() { first <- serve(h, delivery(busyBody, testKey)).Code }()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 30*time.Second, time.Millisecond)

	rec := serve(h, delivery(deliveryBody("tsk_new", RunStatusCompleted), testKey))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.Equal(t, ClaimBusy, claim(t, store, payloadKey(t, busyBody)).Result, "the running worker's claim was not evicted")
	close(finish)
	assert.Equal(t, http.StatusOK, <-first)
	assert.Equal(t, http.StatusOK, serve(h, delivery(deliveryBody("tsk_new", RunStatusCompleted), testKey)).Code)
	assert.Equal(t, int32(2), calls.Load())
}

func payloadKey(t *testing.T, body []byte) string {
	t.Helper()
	p, err := decodePayload(body)
	require.NoError(t, err)
	return p.IdempotencyKey()
}

func TestClaimResultString(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "ClaimAcquired ClaimDone ClaimBusy ClaimResult(0)",
		fmt.Sprint(ClaimAcquired, " ", ClaimDone, " ", ClaimBusy, " ", ClaimResult(0)))
}

// TestMemoryStoreLeaseBoundary: a claim holds for exactly its lease.
func TestMemoryStoreLeaseBoundary(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1769873016, 0)}
	s := MustMemoryStore(t, WithStoreLease(time.Minute), WithStoreClock(clock.Now))
	require.Equal(t, ClaimAcquired, claim(t, s, "k").Result)
	clock.Advance(time.Minute - time.Nanosecond)
	assert.Equal(t, ClaimBusy, claim(t, s, "k").Result)
	clock.Advance(time.Nanosecond)
	assert.Equal(t, ClaimAcquired, claim(t, s, "k").Result)
}

// TestHeartbeatInterval: the handler renews at least three times per
// lease, so that two renewals in a row may fail or come late without the
// lease running out.
func TestHeartbeatInterval(t *testing.T) {
	t.Parallel()
	for _, lease := range []time.Duration{3 * time.Millisecond, time.Second, DefaultStoreLease, 2 * time.Minute} {
		got := heartbeatInterval(lease)
		assert.Positive(t, got, "lease %v", lease)
		assert.LessOrEqual(t, 3*got, lease, "lease %v", lease)
	}
	assert.Equal(t, heartbeatInterval(DefaultStoreLease), heartbeatInterval(0), "a store that reports no lease is renewed as if it had the default")
	assert.Equal(t, time.Millisecond, heartbeatInterval(time.Microsecond), "never a busy loop")
}
