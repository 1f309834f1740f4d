package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// claimCounters tallies what the workers of the concurrency test saw.
type claimCounters struct {
	claims, acquired, done, busy, failures, successes atomic.Int64
}

// TestStoreExactlyOnceAcrossReplicas runs replicas, each a Store on a pool
// of its own, whose workers all race for the same keys as a webhook handler
// would: a worker that acquires a key runs the user's function, which fails
// now and then (Release, so the event is retried) and otherwise succeeds
// (Complete). Every worker keeps coming back to every key until it sees
// ClaimDone, so a lost key would keep the test from ending (the context
// bounds it, and the claims then fail). The lease is long enough never to expire here, so every key
// must have been processed successfully exactly once, and never by two
// workers at the same time.
func TestStoreExactlyOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	const (
		replicas          = 4
		workersPerReplica = 8
		keyCount          = 200
		failureRate       = 0.2
	)
	table := newTable(t, openDB(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	keys := make([]string, keyCount)
	for i := range keys {
		keys[i] = fmt.Sprintf("wr_%018d:completed", i)
	}
	var (
		successes [keyCount]atomic.Int32 // successful runs of the function per key
		inFlight  [keyCount]atomic.Int32 // workers running the function per key right now
		overlaps  atomic.Int32
		counters  claimCounters
	)
	run := func(s *sqlstore.Store, rng *rand.Rand, k int) error {
		c, err := s.Claim(ctx, keys[k])
		counters.claims.Add(1)
		if err != nil {
			return err
		}
		switch c.Result {
		case skyvern.ClaimDone:
			counters.done.Add(1)
			return nil
		case skyvern.ClaimBusy:
			counters.busy.Add(1)
			return errRetryLater
		case skyvern.ClaimAcquired:
			counters.acquired.Add(1)
		default:
			return fmt.Errorf("claim %s: unexpected result %d", keys[k], c.Result)
		}
		if inFlight[k].Add(1) > 1 {
			overlaps.Add(1)
		}
		// The function takes a moment, so that other workers find the key
		// busy while it runs.
		time.Sleep(time.Duration(rng.IntN(10000)) * time.Microsecond)
		failed := rng.Float64() < failureRate
		inFlight[k].Add(-1)
		if failed {
			counters.failures.Add(1)
			if err := s.Release(ctx, keys[k], c.Token); err != nil {
				return fmt.Errorf("release %s: %w", keys[k], err)
			}
			return errRetryLater
		}
		successes[k].Add(1)
		counters.successes.Add(1)
		if err := s.Complete(ctx, keys[k], c.Token); err != nil {
			return fmt.Errorf("complete %s: %w", keys[k], err)
		}
		return nil
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, replicas*workersPerReplica)
	for r := range replicas {
		store, err := sqlstore.New(openDB(t), sqlstore.WithTable(table))
		require.NoError(t, err)
		for w := range workersPerReplica {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(r), uint64(w)))
				// Half the workers behave like the webhook handler: they
				// take the keys in the same order and poll a busy key until
				// it is done, so they collide on every key. The others
				// wander and come back to busy keys later.
				poller := w%2 == 0
				pending := rng.Perm(keyCount)
				if poller {
					for i := range pending {
						pending[i] = i
					}
				}
				for len(pending) > 0 {
					var later []int
					for _, k := range pending {
						err := run(store, rng, k)
						for poller && err == errRetryLater {
							time.Sleep(100 * time.Microsecond)
							err = run(store, rng, k)
						}
						if err == errRetryLater {
							later = append(later, k)
							continue
						}
						if err != nil {
							errs <- err
							return
						}
					}
					pending = later
					if len(pending) > 0 {
						time.Sleep(time.Millisecond) // the holders are mid-function
					}
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for k := range keys {
		assert.Equal(t, int32(1), successes[k].Load(), "successful runs of %s", keys[k])
	}
	assert.Zero(t, overlaps.Load(), "runs of one key by two workers at once")
	assert.Equal(t, int64(keyCount), counters.successes.Load())
	assert.Equal(t, counters.successes.Load()+counters.failures.Load(), counters.acquired.Load(), "every acquired claim ran the function once")
	assert.Positive(t, counters.failures.Load(), "the function failed at least once")
	total, done := rowCount(t, openDB(t), table)
	assert.Equal(t, keyCount, total)
	assert.Equal(t, keyCount, done)

	t.Logf("%d replicas x %d workers, %d keys: %d claims in %v (%.0f claims/s): %d acquired, %d done, %d busy; function ran %d times: %d successes (exactly once per key: %v), %d failures released",
		replicas, workersPerReplica, keyCount, counters.claims.Load(), elapsed.Round(time.Millisecond),
		float64(counters.claims.Load())/elapsed.Seconds(), counters.acquired.Load(), counters.done.Load(), counters.busy.Load(),
		counters.successes.Load()+counters.failures.Load(), counters.successes.Load(), !t.Failed(), counters.failures.Load())
}

// errRetryLater tells a worker to come back to a key that is busy or whose
// processing just failed.
var errRetryLater = errors.New("retry later")
