package skyverntest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyvern-go/skyvern"
)

// StoreConfig is what [TestIdempotencyStore] asks of each store it builds.
type StoreConfig struct {
	// Lease is how long the store's claims must hold their key without a
	// renewal.
	Lease time.Duration
	// Now is the clock the store must judge leases by. Most cases move it by
	// hand; the ones that drive the webhook handler with real waits pass
	// time.Now.
	Now func() time.Time
}

// storeLease is the lease of the cases that move the clock by hand.
const storeLease = time.Minute

// TestIdempotencyStore checks that the stores newStore builds follow the
// [skyvern.IdempotencyStore] protocol, so that the webhook handler runs each
// event once with them: the state machine of claims, tokens, [skyvern.ErrLeaseLost]
// for stale tokens, lease expiry and takeover, renewal, concurrent claims
// (exactly one acquires), and two runs of the handler itself: a worker that
// dies mid-processing loses its event to one of Skyvern's next delivery
// attempts, and a slow one keeps it thanks to the handler's heartbeat.
//
// newStore must return a new, empty store, honouring cfg, each time it is
// called; it is called from parallel subtests. Run the suite from a test of
// your own:
//
//	func TestMyStore(t *testing.T) {
//		skyverntest.TestIdempotencyStore(t, func(t *testing.T, cfg skyverntest.StoreConfig) skyvern.IdempotencyStore {
//			return mystore.New(db, mystore.WithLease(cfg.Lease), mystore.WithClock(cfg.Now))
//		})
//	}
func TestIdempotencyStore(t *testing.T, newStore func(t *testing.T, cfg StoreConfig) skyvern.IdempotencyStore) {
	t.Helper()
	fixed := func(t *testing.T) (skyvern.IdempotencyStore, *ManualClock) {
		clock := NewManualClock(time.Date(2026, 1, 31, 15, 20, 42, 0, time.UTC))
		return newStore(t, StoreConfig{Lease: storeLease, Now: clock.Now}), clock
	}
	for _, tc := range storeTransitions() {
		t.Run("transitions/"+tc.name, func(t *testing.T) {
			t.Parallel()
			s, clock := fixed(t)
			runSteps(t, s, clock, tc.steps)
		})
	}
	t.Run("tokens are distinct", func(t *testing.T) {
		t.Parallel()
		s, _ := fixed(t)
		testDistinctTokens(t, s)
	})
	t.Run("concurrent claims", func(t *testing.T) {
		t.Parallel()
		s, clock := fixed(t)
		testConcurrentClaims(t, s, clock)
	})
	t.Run("handler recovers a crashed worker's event", func(t *testing.T) {
		t.Parallel()
		testCrashedWorker(t, newStore)
	})
	t.Run("handler heartbeat keeps a slow worker's event", func(t *testing.T) {
		t.Parallel()
		s, clock := fixed(t)
		testSlowWorker(t, s, clock)
	})
}

// ManualClock is a clock that moves only when told to, for the clock
// options of the fake server (WithClock), of skyvern.MemoryStore and of
// sqlstore. It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock that reads start until moved.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// storeStep is one call of a scripted case: a worker claims the case's key
// or uses the token of its last acquired claim, or the clock moves. Worker
// "-" never claims: its token is empty.
type storeStep struct {
	worker  string
	op      string
	advance time.Duration
	want    skyvern.ClaimResult
	wantErr error
}

func claims(w string, want skyvern.ClaimResult) storeStep {
	return storeStep{worker: w, op: "Claim", want: want}
}

func renews(w string, err error) storeStep { return uses(w, "Renew", err) }

func completes(w string, err error) storeStep { return uses(w, "Complete", err) }

func releases(w string, err error) storeStep { return uses(w, "Release", err) }

// uses is a step in which worker w calls op with its token.
func uses(w, op string, err error) storeStep { return storeStep{worker: w, op: op, wantErr: err} }

func after(d time.Duration) storeStep { return storeStep{op: "advance", advance: d} }

type storeCase struct {
	name  string
	steps []storeStep
}

func storeTransitions() []storeCase {
	const (
		acquired = skyvern.ClaimAcquired
		done     = skyvern.ClaimDone
		busy     = skyvern.ClaimBusy
		lease    = storeLease
	)
	lost := skyvern.ErrLeaseLost
	return []storeCase{
		{"absent key is acquired", []storeStep{claims("a", acquired)}},
		{"held key is busy for everyone", []storeStep{claims("a", acquired), claims("b", busy), claims("a", busy)}},
		{"completed key is done for everyone, long after its lease", []storeStep{
			claims("a", acquired), completes("a", nil), claims("b", done), after(100 * lease), claims("b", done),
		}},
		{"released key can be claimed at once", []storeStep{
			claims("a", acquired), releases("a", nil), claims("b", acquired), completes("b", nil), claims("a", done),
		}},
		{"completing twice is harmless, renewing after it is not", []storeStep{
			claims("a", acquired), completes("a", nil), completes("a", nil), renews("a", lost), claims("b", done),
		}},
		{"releasing twice is harmless, renewing after it is not", []storeStep{
			claims("a", acquired), releases("a", nil), releases("a", nil), renews("a", lost), claims("b", acquired),
		}},
		{"release does not undo a completion", []storeStep{
			claims("a", acquired), completes("a", nil), releases("a", nil), claims("b", done),
		}},
		{"lease holds until it expires", []storeStep{
			claims("a", acquired), after(lease * 9 / 10), claims("b", busy), after(lease / 5), claims("b", acquired),
		}},
		{"renewal restarts the lease", []storeStep{
			claims("a", acquired), after(lease * 2 / 3), renews("a", nil), after(lease * 2 / 3), claims("b", busy),
			renews("a", nil), after(lease * 9 / 10), claims("b", busy), after(lease / 5), claims("b", acquired),
		}},
		{"expired lease cannot be renewed", []storeStep{
			claims("a", acquired), after(lease * 11 / 10), renews("a", lost), claims("b", acquired),
		}},
		{"taken-over holder cannot renew, complete or release", []storeStep{
			claims("a", acquired), after(lease), claims("b", acquired),
			renews("a", lost), completes("a", lost), releases("a", lost), claims("c", busy),
			completes("b", nil), claims("c", done),
		}},
		{"stale release leaves the new claim alone", []storeStep{
			claims("a", acquired), after(lease), claims("b", acquired), releases("a", lost),
			claims("c", busy), renews("b", nil), completes("b", nil), claims("c", done),
		}},
		{"stale holder cannot touch a key the new holder completed", []storeStep{
			claims("a", acquired), after(lease), claims("b", acquired), completes("b", nil),
			completes("a", lost), releases("a", lost), renews("a", lost), claims("c", done),
		}},
		{"expired lease nobody took over still completes", []storeStep{
			claims("a", acquired), after(3 * lease), completes("a", nil), claims("b", done),
		}},
		{"expired lease nobody took over still releases", []storeStep{
			claims("a", acquired), after(3 * lease), releases("a", nil), claims("b", acquired),
		}},
		{"stale success is recorded once the new holder released", []storeStep{
			claims("a", acquired), after(lease), claims("b", acquired), releases("b", nil),
			completes("a", nil), claims("c", done),
		}},
		{"taken-over key can be taken over again", []storeStep{
			claims("a", acquired), after(lease), claims("b", acquired), after(lease), claims("a", acquired),
			completes("b", lost), completes("a", nil), claims("c", done),
		}},
		{"the empty token holds nothing", []storeStep{
			renews("-", lost), completes("-", lost), releases("-", lost), claims("a", acquired),
			renews("-", lost), completes("-", lost), releases("-", lost), claims("b", busy),
			completes("a", nil), releases("-", lost), claims("b", done),
		}},
	}
}

// runSteps plays a scripted case against s.
func runSteps(t *testing.T, s skyvern.IdempotencyStore, clock *ManualClock, steps []storeStep) {
	t.Helper()
	ctx := context.Background()
	key := "run:" + t.Name()
	tokens := map[string]string{}
	for i, st := range steps {
		where := fmt.Sprintf("step %d (%s %s)", i, st.worker, st.op)
		var err error
		switch st.op {
		case "advance":
			clock.Advance(st.advance)
			continue
		case "Claim":
			var c skyvern.Claim
			c, err = s.Claim(ctx, key)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			checkClaim(t, where, c, st.want)
			if c.Result == skyvern.ClaimAcquired {
				tokens[st.worker] = c.Token
			}
			continue
		case "Renew":
			err = s.Renew(ctx, key, tokens[st.worker])
		case "Complete":
			err = s.Complete(ctx, key, tokens[st.worker])
		case "Release":
			err = s.Release(ctx, key, tokens[st.worker])
		default:
			t.Fatalf("%s: unknown op", where)
		}
		switch {
		case st.wantErr == nil && err != nil:
			t.Errorf("%s: got error %v, want none", where, err)
		case st.wantErr != nil && !errors.Is(err, st.wantErr):
			t.Errorf("%s: got error %v, want %v", where, err, st.wantErr)
		}
	}
}

// checkClaim checks a claim's result, and that only an acquired claim has
// a token and a lease.
func checkClaim(t *testing.T, where string, c skyvern.Claim, want skyvern.ClaimResult) {
	t.Helper()
	if c.Result != want {
		t.Errorf("%s: Claim got %v, want %v", where, c.Result, want)
	}
	switch {
	case c.Result == skyvern.ClaimAcquired && (c.Token == "" || c.Lease <= 0):
		t.Errorf("%s: an acquired claim needs a token and a lease, got %+v", where, c)
	case c.Result != skyvern.ClaimAcquired && c.Token != "":
		t.Errorf("%s: a claim that was not acquired carries token %q", where, c.Token)
	}
}

// testDistinctTokens: no two acquired claims share a token, whether of
// different keys or of one key claimed again.
func testDistinctTokens(t *testing.T, s skyvern.IdempotencyStore) {
	ctx := context.Background()
	seen := map[string]string{}
	for i := range 20 {
		for round := range 2 {
			key := fmt.Sprintf("run:%s:%d", t.Name(), i)
			c, err := s.Claim(ctx, key)
			if err != nil || c.Result != skyvern.ClaimAcquired {
				t.Fatalf("Claim %s: %+v, %v", key, c, err)
			}
			if other, ok := seen[c.Token]; ok {
				t.Errorf("token %q of %s (round %d) was given before, to %s", c.Token, key, round, other)
			}
			seen[c.Token] = fmt.Sprintf("%s (round %d)", key, round)
			if err := s.Release(ctx, key, c.Token); err != nil {
				t.Fatalf("Release %s: %v", key, err)
			}
		}
	}
}

// testConcurrentClaims: of workers racing for a key, exactly one acquires
// it, whether it is new, released or expired, and none once it is done.
func testConcurrentClaims(t *testing.T, s skyvern.IdempotencyStore, clock *ManualClock) {
	const workers = 16
	ctx := context.Background()
	key := "run:" + t.Name()
	race := func(stage string) skyvern.Claim {
		t.Helper()
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			won      []skyvern.Claim
			counts   = map[skyvern.ClaimResult]int{}
			failures []error
		)
		start := make(chan struct{})
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c, err := s.Claim(ctx, key)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err)
					return
				}
				counts[c.Result]++
				if c.Result == skyvern.ClaimAcquired {
					won = append(won, c)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("%s: Claim failed: %v", stage, errors.Join(failures...))
		}
		if len(won) != 1 || counts[skyvern.ClaimBusy] != workers-1 {
			t.Fatalf("%s: %d workers acquired the key and %d found it busy, want 1 and %d (results %v)", stage, len(won), counts[skyvern.ClaimBusy], workers-1, counts)
		}
		return won[0]
	}

	first := race("new key")
	if err := s.Release(ctx, key, first.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	second := race("released key")
	clock.Advance(storeLease)
	third := race("expired lease")
	if err := s.Complete(ctx, key, second.Token); !errors.Is(err, skyvern.ErrLeaseLost) {
		t.Errorf("Complete with the taken-over token: got %v, want ErrLeaseLost", err)
	}
	if err := s.Complete(ctx, key, third.Token); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := s.Claim(ctx, key); err != nil || c.Result != skyvern.ClaimDone {
				t.Errorf("done key: Claim got %+v, %v, want ClaimDone", c, err)
			}
		}()
	}
	wg.Wait()
}

// crashScale shrinks Skyvern's delivery waits, the handler's busy wait and
// the lease alike, so the crash case runs Skyvern's real schedule in a
// fiftieth of the time.
const crashScale = 0.02

// testCrashedWorker: the worker that receives Skyvern's first attempt
// claims the event and dies (its connection drops, it never completes,
// releases or renews). Another replica, with the SDK's default lease, busy
// wait and Retry-After, must run the function within Skyvern's remaining
// attempts.
func testCrashedWorker(t *testing.T, newStore func(t *testing.T, cfg StoreConfig) skyvern.IdempotencyStore) {
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) * crashScale) }
	store := newStore(t, StoreConfig{Lease: scaled(skyvern.DefaultStoreLease), Now: time.Now})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	fake := NewServer(WithDeliveryTimeScale(crashScale))
	defer fake.Close()
	wh, err := skyvern.NewWebhook(fake.APIKey())
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	replica := wh.Handler(func(context.Context, *skyvern.WebhookPayload) error {
		calls.Add(1)
		return nil
	}, skyvern.WithIdempotencyStore(store), skyvern.WithBusyWait(scaled(skyvern.DefaultBusyWait)))

	var crashed atomic.Bool
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if crashed.Swap(true) {
			replica.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var p *skyvern.WebhookPayload
			if p, err = wh.Parse(body, r.Header); err == nil {
				var c skyvern.Claim
				c, err = store.Claim(r.Context(), p.IdempotencyKey())
				if err == nil && c.Result != skyvern.ClaimAcquired {
					err = fmt.Errorf("the first delivery found the event %v", c.Result)
				}
			}
		}
		if err != nil {
			t.Errorf("crashing worker: %v", err)
		}
		// The worker dies: no answer, and its claim is left to expire.
		conn, _, herr := http.NewResponseController(w).Hijack()
		if herr != nil {
			t.Errorf("hijack: %v", herr)
			return
		}
		_ = conn.Close()
	}))
	defer receiver.Close()

	client, err := skyvern.NewClient(fake.APIKey(), skyvern.WithBaseURL(fake.URL()), skyvern.WithHTTPClient(fake.Client()))
	if err != nil {
		t.Fatal(err)
	}
	run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "crash test", WebhookURL: receiver.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.Complete(run.RunID, map[string]any{"ok": true}); err != nil {
		t.Fatal(err)
	}
	d, err := fake.WaitForDelivery(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	last := d.Attempts[len(d.Attempts)-1]
	if last.StatusCode != http.StatusOK || calls.Load() != 1 {
		for _, a := range d.Attempts {
			t.Logf("attempt %d: status %d %s, planned delay %v", a.Attempt, a.StatusCode, a.Err, a.RetryDelay)
		}
		t.Fatalf("after the crash, Skyvern's attempts ended with status %d and the function ran %d times; want 200 and once (the lease must lapse within Skyvern's retries)", last.StatusCode, calls.Load())
	}
	if d.Attempts[0].Err == "" {
		t.Errorf("the first attempt got status %d; the crashed worker should have dropped it", d.Attempts[0].StatusCode)
	}
}

// leaseReporter makes the handler renew the claims of a store every third
// of lease of real time, while the store's own clock moves only when the
// suite moves it, and notes when the last successful renewal began on that
// clock.
type leaseReporter struct {
	skyvern.IdempotencyStore
	lease   time.Duration
	clock   *ManualClock
	renewed atomic.Int64 // clock time, in Unix nanoseconds, at which the last successful renewal began
}

func (r *leaseReporter) Claim(ctx context.Context, key string) (skyvern.Claim, error) {
	c, err := r.IdempotencyStore.Claim(ctx, key)
	if c.Result == skyvern.ClaimAcquired {
		c.Lease = r.lease
	}
	return c, err
}

func (r *leaseReporter) Renew(ctx context.Context, key, token string) error {
	began := r.clock.Now().UnixNano()
	err := r.IdempotencyStore.Renew(ctx, key, token)
	if err == nil {
		r.renewed.Store(max(r.renewed.Load(), began))
	}
	return err
}

// testSlowWorker: a function that runs for several leases keeps its event,
// so a duplicate that arrives meanwhile is answered 503 instead of running
// it a second time. The store's clock moves two thirds of a lease each time
// a renewal began at the current time, which without renewals would have
// expired the claim by the second move.
func testSlowWorker(t *testing.T, s skyvern.IdempotencyStore, clock *ManualClock) {
	store := &leaseReporter{IdempotencyStore: s, lease: 30 * time.Millisecond, clock: clock}
	const apiKey = "sk_store_suite"
	wh, err := skyvern.NewWebhook(apiKey)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	finish := make(chan struct{})
	fn := func(ctx context.Context, _ *skyvern.WebhookPayload) error {
		calls.Add(1)
		select {
		case <-finish:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	slow := wh.Handler(fn, skyvern.WithIdempotencyStore(store))
	replica := wh.Handler(fn, skyvern.WithIdempotencyStore(store), skyvern.WithBusyWait(0))
	body := []byte(`{"run_id":"tsk_slow_worker","status":"completed","run_type":"task_v1"}`)
	deliver := func(h http.Handler) int {
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		req.Header.Set(skyvern.SignatureHeader, skyvern.Sign(body, apiKey))
		req.Header.Set(skyvern.TimestampHeader, fmt.Sprint(time.Now().Unix()))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	first := make(chan int, 1)
	go func() { first <- deliver(slow) }()
	waitFor(t, "the function to start", func() bool { return calls.Load() == 1 })
	for range 5 {
		now := clock.Now().UnixNano()
		waitFor(t, "a renewal", func() bool { return store.renewed.Load() >= now })
		clock.Advance(storeLease * 2 / 3)
	}
	if code := deliver(replica); code != http.StatusServiceUnavailable {
		t.Errorf("a duplicate during the slow run got %d, want 503 (the slow worker still holds the event)", code)
	}
	close(finish)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the slow worker's delivery got %d, want 200", code)
	}
	if code := deliver(replica); code != http.StatusOK {
		t.Errorf("a duplicate after the slow run got %d, want 200", code)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the function ran %d times, want once", n)
	}
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
