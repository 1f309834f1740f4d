package skyvern

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// ClaimResult is the answer of an IdempotencyStore to a claim.
type ClaimResult int

const (
	// ClaimAcquired means the caller now holds the key and must process the
	// event, then call Complete (on success) or Release (on failure).
	ClaimAcquired ClaimResult = iota + 1
	// ClaimDone means the event was already processed successfully.
	ClaimDone
	// ClaimBusy means another worker holds the key and its lease has not
	// expired; the caller should wait and claim again.
	ClaimBusy
)

// IdempotencyStore records which webhook events have been processed, so a
// delivery that Skyvern repeats (it makes up to three attempts, and
// RetryRunWebhook replays) runs the user's function once.
//
// Keys are opaque strings (see WebhookPayload.IdempotencyKey). A key moves
// from absent to claimed (Claim) to done (Complete), or from claimed back to
// absent (Release). Implementations must be safe for concurrent use, and a
// claim that is never completed or released must expire (a lease), so that a
// worker that dies mid-processing does not block the event forever.
type IdempotencyStore interface {
	Claim(ctx context.Context, key string) (ClaimResult, error)
	Complete(ctx context.Context, key string) error
	Release(ctx context.Context, key string) error
}

// Defaults of NewMemoryStore.
const (
	// DefaultMemoryStoreCapacity is how many completed keys a MemoryStore
	// remembers. Skyvern retries within minutes, so this covers a busy
	// receiver's recent past; replays of older runs run again.
	DefaultMemoryStoreCapacity = 10000
	// DefaultStoreLease is how long a claim lasts if it is neither completed nor
	// released. It must outlast the user's function; Skyvern gives up on a
	// delivery after 30 s without an answer.
	DefaultStoreLease = 2 * time.Minute
)

// MemoryStoreOption configures NewMemoryStore.
type MemoryStoreOption func(*MemoryStore)

// WithStoreCapacity sets how many completed keys the store remembers; the least
// recently used are forgotten first. n <= 0 keeps the default.
func WithStoreCapacity(n int) MemoryStoreOption {
	return func(s *MemoryStore) {
		if n > 0 {
			s.capacity = n
		}
	}
}

// WithStoreLease sets how long a claim holds its key before another worker may
// take it over. d <= 0 keeps the default.
func WithStoreLease(d time.Duration) MemoryStoreOption {
	return func(s *MemoryStore) {
		if d > 0 {
			s.lease = d
		}
	}
}

// WithStoreClock makes the store read the time from now, for tests of lease
// expiry. nil keeps time.Now.
func WithStoreClock(now func() time.Time) MemoryStoreOption {
	return func(s *MemoryStore) {
		if now != nil {
			s.now = now
		}
	}
}

// MemoryStore is the in-memory IdempotencyStore a Handler uses by default.
// It remembers a bounded number of completed keys (least recently used go
// first) and holds claims under a lease, so a worker that never finishes
// does not block its event forever.
//
// It lives in one process: replicas behind a load balancer each have their
// own, and a restart forgets everything. Share a database-backed store
// between replicas instead.
type MemoryStore struct {
	mu       sync.Mutex
	capacity int
	lease    time.Duration
	now      func() time.Time
	done     map[string]*list.Element // values: string keys, front = most recent
	order    *list.List
	claims   map[string]time.Time // key -> lease expiry
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...MemoryStoreOption) *MemoryStore {
	s := &MemoryStore{
		capacity: DefaultMemoryStoreCapacity,
		lease:    DefaultStoreLease,
		now:      time.Now,
		done:     make(map[string]*list.Element),
		order:    list.New(),
		claims:   make(map[string]time.Time),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return s
}

// Claim implements IdempotencyStore.
func (s *MemoryStore) Claim(_ context.Context, key string) (ClaimResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.done[key]; ok {
		s.order.MoveToFront(e)
		return ClaimDone, nil
	}
	now := s.now()
	if until, ok := s.claims[key]; ok && now.Before(until) {
		return ClaimBusy, nil
	}
	if len(s.claims) >= s.capacity {
		s.dropExpiredClaims(now)
	}
	s.claims[key] = now.Add(s.lease)
	return ClaimAcquired, nil
}

// Complete implements IdempotencyStore.
func (s *MemoryStore) Complete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, key)
	if e, ok := s.done[key]; ok {
		s.order.MoveToFront(e)
		return nil
	}
	s.done[key] = s.order.PushFront(key)
	for s.order.Len() > s.capacity {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.done, oldest.Value.(string))
	}
	return nil
}

// Release implements IdempotencyStore.
func (s *MemoryStore) Release(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, key)
	return nil
}

// dropExpiredClaims bounds the claim table when many claims were abandoned.
func (s *MemoryStore) dropExpiredClaims(now time.Time) {
	for k, until := range s.claims {
		if !now.Before(until) {
			delete(s.claims, k)
		}
	}
}
