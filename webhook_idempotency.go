package skyvern

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// ClaimResult is what an [IdempotencyStore] decided about a claim.
type ClaimResult int

const (
	// ClaimAcquired means the caller now holds the key under the claim's
	// token and must process the event, renewing the lease while it works,
	// then call Complete (on success) or Release (on failure).
	ClaimAcquired ClaimResult = iota + 1
	// ClaimDone means the event was already processed successfully.
	ClaimDone
	// ClaimBusy means another worker holds the key and its lease has not
	// expired; the caller should wait and claim again.
	ClaimBusy
)

// String returns the constant's name, such as "ClaimAcquired".
func (r ClaimResult) String() string {
	switch r {
	case ClaimAcquired:
		return "ClaimAcquired"
	case ClaimDone:
		return "ClaimDone"
	case ClaimBusy:
		return "ClaimBusy"
	}
	return "ClaimResult(" + strconv.Itoa(int(r)) + ")"
}

// Claim is the answer of [IdempotencyStore] Claim.
type Claim struct {
	// Result says what the store decided.
	Result ClaimResult
	// Token identifies this claim when Result is ClaimAcquired; it is empty
	// otherwise. Renew, Complete and Release take it, so that a worker whose
	// lease was taken over cannot touch the new holder's claim.
	Token string
	// Lease is how long, from the Claim, the key stays held without a
	// Renew; zero unless Result is ClaimAcquired. The webhook handler renews
	// every third of it. A store that leaves it zero is renewed every third
	// of [DefaultStoreLease].
	Lease time.Duration
}

// IdempotencyStore records which webhook events have been processed, so
// that a delivery Skyvern repeats (it makes up to three attempts per
// delivery, and [Client.RetryRunWebhook] replays) runs the user's function
// once. Implementations must be safe for concurrent use. Check one with
// skyverntest.TestIdempotencyStore.
//
// Keys are opaque strings (see [WebhookPayload.IdempotencyKey]). A key is
// absent, held under a claim token until its lease expires, or done:
//
//	absent        Claim                   -> held(t)  ClaimAcquired, new token t
//	held(t)       Claim, lease running    -> held(t)  ClaimBusy
//	held(t)       Claim, lease expired    -> held(u)  ClaimAcquired, new token u (a takeover)
//	held(t)       Renew(t), lease running -> held(t)  the lease starts again
//	held(t)       Complete(t)             -> done(t)
//	held(t)       Release(t)              -> absent
//	done          Claim                   -> done     ClaimDone
//
// A token that does not hold the key gets [ErrLeaseLost] and changes
// nothing: a stale worker cannot complete, release or renew a key that
// another worker took over. Three cases make retries and lost answers
// harmless instead:
//
//   - Complete(t) of a key that t already completed returns nil;
//   - Complete(t) of an absent key (the lease expired and the claim was
//     forgotten, or the worker that took it over released it) records it
//     done, because the work did succeed and nobody else holds the key;
//   - Release(t) of an absent key, or of a key t completed, returns nil and
//     changes nothing: Release never undoes a completion.
//
// Renew of an expired lease returns ErrLeaseLost even when nobody took the
// key over, because a store may already have forgotten the claim. The empty
// token never holds a key.
//
// The lease is what saves an event from a worker that dies mid-processing:
// once it lapses, the next delivery takes the key over and runs the
// function. It is kept short (see [DefaultStoreLease]) and renewed while
// the function runs, so that a live worker keeps its event however long it
// works and a dead one loses it within Skyvern's retries.
type IdempotencyStore interface {
	// Claim tries to take key for the caller.
	Claim(ctx context.Context, key string) (Claim, error)
	// Renew restarts the lease of the claim token holds on key.
	Renew(ctx context.Context, key, token string) error
	// Complete records key as done by the claim token.
	Complete(ctx context.Context, key, token string) error
	// Release gives key back after the processing under token failed, so
	// that the next delivery can claim it at once.
	Release(ctx context.Context, key, token string) error
}

// Defaults of NewMemoryStore.
const (
	// DefaultMemoryStoreCapacity is how many completed keys a MemoryStore
	// remembers. Skyvern retries within minutes, so this covers a busy
	// receiver's recent past; replays of older runs run again.
	DefaultMemoryStoreCapacity = 10000
	// DefaultMemoryStoreMaxClaims is how many unexpired claims a MemoryStore
	// holds at once: events being processed right now, plus those of
	// workers that died within the last lease.
	DefaultMemoryStoreMaxClaims = 10000
	// DefaultStoreLease is how long a claim holds its key without a renewal.
	// The handler renews it every third of that while the function runs, so
	// a slow function keeps its event; the lease only decides how soon the
	// event of a worker that died mid-processing is delivered again.
	//
	// It is sized against Skyvern's delivery of a task's webhook: three
	// attempts. A worker that dies drops its connection, so Skyvern's second
	// attempt comes 1 to 2 s later, finds the key held, waits out the busy
	// wait ([DefaultBusyWait], 5 s) and is answered 503 with Retry-After: 5;
	// the third comes 11 to 12 s after the death and busy-waits until 16 to
	// 17 s. A lease of 10 s has lapsed before the third attempt arrives, so
	// it runs the function, with 6 s to spare for slow answers and for clock
	// differences between replicas. (A workflow's webhook has a larger
	// budget, up to 15 calls of three attempts each.) A lease of 30 s or
	// more would let all three attempts fail and the event wait for a
	// replay. The price of a short lease is that a worker stalled for two
	// thirds of it (a paused VM, a store unreachable for that long) loses
	// its event to a redelivery: its function's context is then cancelled
	// with cause ErrLeaseLost.
	DefaultStoreLease = 10 * time.Second
)

// MemoryStoreOption configures [NewMemoryStore]. The options follow the
// package's one rule (see "Options" in the package documentation): a nil
// option is ignored, a zero value selects the documented default, and a
// negative value makes NewMemoryStore return an error matching
// [ErrInvalidOption].
type MemoryStoreOption func(*memoryStoreConfig)

type memoryStoreConfig struct {
	capacity  int
	maxClaims int
	lease     time.Duration
	now       func() time.Time
	firstInvalid
}

// WithStoreCapacity sets how many completed keys the store remembers; the
// least recently used are forgotten first. 0 selects
// [DefaultMemoryStoreCapacity]; a negative n is invalid.
func WithStoreCapacity(n int) MemoryStoreOption {
	return func(c *memoryStoreConfig) { setPositive(&c.firstInvalid, "WithStoreCapacity", n, &c.capacity) }
}

// WithStoreMaxClaims sets how many unexpired claims the store holds at once;
// beyond that, Claim of a new key returns [ErrStoreFull] rather than evict a
// claim a worker still works under. 0 selects
// [DefaultMemoryStoreMaxClaims]; a negative n is invalid.
func WithStoreMaxClaims(n int) MemoryStoreOption {
	return func(c *memoryStoreConfig) { setPositive(&c.firstInvalid, "WithStoreMaxClaims", n, &c.maxClaims) }
}

// WithStoreLease sets how long a claim holds its key without a renewal
// before another worker may take it over. 0 selects [DefaultStoreLease],
// which explains the trade-off; a negative d is invalid.
func WithStoreLease(d time.Duration) MemoryStoreOption {
	return func(c *memoryStoreConfig) { setPositive(&c.firstInvalid, "WithStoreLease", d, &c.lease) }
}

// WithStoreClock makes the store read the time from now, for tests of lease
// expiry. The clock must not go backwards. nil selects time.Now.
func WithStoreClock(now func() time.Time) MemoryStoreOption {
	return func(c *memoryStoreConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// MemoryStore is the in-memory [IdempotencyStore] a Handler uses by
// default. It remembers a bounded number of completed keys (least recently
// used go first) and a bounded number of claims, each under a lease, so a
// worker that never finishes does not block its event for long. Every
// operation takes constant time.
//
// It lives in one process: replicas behind a load balancer each have their
// own, and a restart forgets everything. Share a database-backed store
// between replicas instead (package sqlstore).
type MemoryStore struct {
	capacity  int
	maxClaims int
	lease     time.Duration
	now       func() time.Time

	mu     sync.Mutex
	seq    uint64                   // the last token handed out
	done   map[string]*list.Element // of *doneKey; order, front = most recently used
	order  *list.List
	claims map[string]*heldKey
	expiry heldList // front = soonest to expire
}

// heldKey is a claim of a MemoryStore, linked into its expiry list (which
// is intrusive to save an allocation per claim).
type heldKey struct {
	key, token string
	until      time.Time
	prev, next *heldKey
}

// heldList is a doubly linked list of claims.
type heldList struct{ front, back *heldKey }

func (l *heldList) pushBack(h *heldKey) {
	h.prev, h.next = l.back, nil
	if l.back != nil {
		l.back.next = h
	} else {
		l.front = h
	}
	l.back = h
}

func (l *heldList) remove(h *heldKey) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		l.front = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		l.back = h.prev
	}
	h.prev, h.next = nil, nil
}

func (l *heldList) moveToBack(h *heldKey) {
	if l.back != h {
		l.remove(h)
		l.pushBack(h)
	}
}

// doneKey is a completed key and the token that completed it.
type doneKey struct {
	key, token string
}

// NewMemoryStore returns an empty MemoryStore, or an error matching
// [ErrInvalidOption] if an option is invalid.
func NewMemoryStore(opts ...MemoryStoreOption) (*MemoryStore, error) {
	cfg := memoryStoreConfig{
		capacity:  DefaultMemoryStoreCapacity,
		maxClaims: DefaultMemoryStoreMaxClaims,
		lease:     DefaultStoreLease,
		now:       time.Now,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	return &MemoryStore{
		capacity:  cfg.capacity,
		maxClaims: cfg.maxClaims,
		lease:     cfg.lease,
		now:       cfg.now,
		done:      make(map[string]*list.Element),
		order:     list.New(),
		claims:    make(map[string]*heldKey),
	}, nil
}

var _ IdempotencyStore = (*MemoryStore)(nil)

// Claim implements [IdempotencyStore]. It returns [ErrStoreFull] when key is
// new and the store holds its maximum of unexpired claims.
func (s *MemoryStore) Claim(_ context.Context, key string) (Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.done[key]; ok {
		s.order.MoveToFront(e)
		return Claim{Result: ClaimDone}, nil
	}
	now := s.now()
	s.dropExpired(now)
	if h, ok := s.claims[key]; ok {
		if now.Before(h.until) {
			return Claim{Result: ClaimBusy}, nil
		}
		// Expired but not yet dropped: only possible when the clock went
		// backwards. Take it over like any expired claim.
		h.token, h.until = s.newToken(), now.Add(s.lease)
		s.expiry.moveToBack(h)
		return s.acquired(h), nil
	}
	if len(s.claims) >= s.maxClaims {
		return Claim{}, ErrStoreFull
	}
	h := &heldKey{key: key, token: s.newToken(), until: now.Add(s.lease)}
	s.claims[key] = h
	s.expiry.pushBack(h)
	return s.acquired(h), nil
}

func (s *MemoryStore) acquired(h *heldKey) Claim {
	return Claim{Result: ClaimAcquired, Token: h.token, Lease: s.lease}
}

// newToken hands out a token no claim of this store had before. Tokens
// need not be secret: they tell workers of one process apart.
func (s *MemoryStore) newToken() string {
	s.seq++
	return strconv.FormatUint(s.seq, 36)
}

// dropExpired forgets the claims whose lease ran out. Every claim lasts the
// same lease from its last claim or renewal, and both move it to the back,
// so the expiry list is in order and the expired ones are at its front.
func (s *MemoryStore) dropExpired(now time.Time) {
	for h := s.expiry.front; h != nil && !now.Before(h.until); h = s.expiry.front {
		s.expiry.remove(h)
		delete(s.claims, h.key)
	}
}

// Renew implements [IdempotencyStore].
func (s *MemoryStore) Renew(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	h, ok := s.claims[key]
	if !ok || token == "" || h.token != token || !now.Before(h.until) {
		return ErrLeaseLost
	}
	h.until = now.Add(s.lease)
	s.expiry.moveToBack(h)
	return nil
}

// Complete implements [IdempotencyStore].
func (s *MemoryStore) Complete(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done, err := s.finish(key, token); err != nil || done {
		return err
	}
	s.done[key] = s.order.PushFront(&doneKey{key: key, token: token})
	for s.order.Len() > s.capacity {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.done, oldest.Value.(*doneKey).key)
	}
	return nil
}

// Release implements [IdempotencyStore].
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.finish(key, token)
	return err
}

// finish ends the claim token holds on key, if any, for Complete and
// Release. It returns ErrLeaseLost when another token holds or completed
// the key, and done when token completed it already.
func (s *MemoryStore) finish(key, token string) (done bool, err error) {
	if token == "" {
		return false, ErrLeaseLost
	}
	if e, ok := s.done[key]; ok {
		if e.Value.(*doneKey).token != token {
			return false, ErrLeaseLost
		}
		s.order.MoveToFront(e)
		return true, nil
	}
	if h, ok := s.claims[key]; ok {
		if h.token != token {
			return false, ErrLeaseLost
		}
		s.expiry.remove(h)
		delete(s.claims, key)
	}
	return false, nil
}

// heartbeatInterval is how often the handler renews a claim of lease.
func heartbeatInterval(lease time.Duration) time.Duration {
	if lease <= 0 {
		lease = DefaultStoreLease
	}
	return max(lease/3, time.Millisecond)
}

// heartbeat renews the claim c on key every third of its lease until stop
// is called, and returns the context for the user's function: ctx, also
// cancelled with cause [ErrLeaseLost] when a renewal finds the lease lost
// (another worker may then be processing the event too). stop waits for
// the renewals to end, so none reaches the store after it returns.
func (rc *receiver) heartbeat(ctx context.Context, key string, c Claim) (fnCtx context.Context, stop func()) {
	fnCtx, cancelFn := context.WithCancelCause(ctx)
	// Renewals outlive the request: fn may work on after Skyvern hung up,
	// and while it does the event is still its own.
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(heartbeatInterval(c.Lease))
		defer tick.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-tick.C:
			}
			if renewCtx.Err() != nil {
				return
			}
			err := rc.cfg.store.Renew(renewCtx, key, c.Token)
			switch {
			case err == nil:
			case errors.Is(err, ErrLeaseLost):
				rc.log(ctx, slog.LevelError, "skyvern: idempotency lease lost while processing; another worker may process the event too", "key", key)
				cancelFn(ErrLeaseLost)
				return
			case renewCtx.Err() == nil:
				rc.log(ctx, slog.LevelWarn, "skyvern: idempotency store renew failed", "key", key, "error", err)
			}
		}
	}()
	return fnCtx, func() {
		stopRenew()
		<-ended
		cancelFn(nil)
	}
}
