package skyvern

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingFn records calls and fails while fail is set.
type countingFn struct {
	calls atomic.Int32
	fail  atomic.Bool
}

func (c *countingFn) fn(_ context.Context, _ *WebhookPayload) error {
	c.calls.Add(1)
	if c.fail.Load() {
		return errors.New("database unavailable")
	}
	return nil
}

// storeFunc is an IdempotencyStore whose Claim is programmable.
type storeFunc struct {
	claim    func(ctx context.Context, key string) (Claim, error)
	released atomic.Int32
}

func (s *storeFunc) Claim(ctx context.Context, key string) (Claim, error) {
	return s.claim(ctx, key)
}
func (s *storeFunc) Renew(context.Context, string, string) error    { return nil }
func (s *storeFunc) Complete(context.Context, string, string) error { return nil }
func (s *storeFunc) Release(context.Context, string, string) error {
	s.released.Add(1)
	return nil
}

func TestHandlerStatusCodes(t *testing.T) {
	t.Parallel()
	good := deliveryBody("tsk_ok", RunStatusCompleted)
	big := deliveryBody(strings.Repeat("x", 2048), RunStatusCompleted)
	badJSON := []byte(`{"run_id":"tsk_1",`)

	cases := []struct {
		name      string
		req       func() *http.Request
		opts      []HandlerOption
		fail      bool
		tolerance bool
		wantCode  int
		wantCalls int32
	}{
		{name: "GET", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, wantCode: http.StatusMethodNotAllowed},
		{name: "PUT", req: func() *http.Request { return httptest.NewRequest(http.MethodPut, "/", bytes.NewReader(good)) }, wantCode: http.StatusMethodNotAllowed},
		{name: "oversized with length", req: func() *http.Request { return delivery(big, testKey) }, opts: []HandlerOption{WithMaxBodyBytes(1024)}, wantCode: http.StatusRequestEntityTooLarge},
		{name: "oversized chunked", req: func() *http.Request {
			r := delivery(big, testKey)
			r.ContentLength = -1
			return r
		}, opts: []HandlerOption{WithMaxBodyBytes(1024)}, wantCode: http.StatusRequestEntityTooLarge},
		{name: "missing signature", req: func() *http.Request {
			r := delivery(good, testKey)
			r.Header.Del(SignatureHeader)
			return r
		}, wantCode: http.StatusUnauthorized},
		{name: "forged signature", req: func() *http.Request { return delivery(good, "sk_forger") }, wantCode: http.StatusUnauthorized},
		{name: "malformed signature", req: func() *http.Request {
			r := delivery(good, testKey)
			r.Header.Set(SignatureHeader, "v0="+Sign(good, testKey))
			return r
		}, wantCode: http.StatusUnauthorized},
		{name: "stale timestamp", req: func() *http.Request { return delivery(good, testKey) }, tolerance: true, wantCode: http.StatusUnauthorized},
		{name: "bad JSON", req: func() *http.Request { return delivery(badJSON, testKey) }, wantCode: http.StatusBadRequest},
		{name: "bad timestamp in payload", req: func() *http.Request {
			return delivery([]byte(`{"run_id":"r","finished_at":"soon"}`), testKey)
		}, wantCode: http.StatusBadRequest},
		{name: "fn error", req: func() *http.Request { return delivery(good, testKey) }, fail: true, wantCode: http.StatusInternalServerError, wantCalls: 1},
		{name: "store error", req: func() *http.Request { return delivery(good, testKey) }, opts: []HandlerOption{WithIdempotencyStore(&storeFunc{
			claim: func(context.Context, string) (Claim, error) { return Claim{}, errors.New("store down") },
		})}, wantCode: http.StatusServiceUnavailable},
		{name: "ok", req: func() *http.Request { return delivery(good, testKey) }, wantCode: http.StatusOK, wantCalls: 1},
		{name: "ok at the size limit", req: func() *http.Request { return delivery(good, testKey) }, opts: []HandlerOption{WithMaxBodyBytes(int64(len(good)))}, wantCode: http.StatusOK, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wh := mustWebhook(t, testKey)
			if tc.tolerance {
				wh = mustWebhook(t, testKey, WithTolerance(time.Minute), WithClock(func() time.Time { return time.Unix(1769873016+3600, 0) }))
			}
			var c countingFn
			c.fail.Store(tc.fail)
			rec := serve(wh.Handler(c.fn, tc.opts...), tc.req())
			assert.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantCalls, c.calls.Load())
			switch tc.wantCode {
			case http.StatusMethodNotAllowed:
				assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
			case http.StatusUnauthorized:
				// The body must not tell a forger what was wrong.
				assert.Equal(t, "unauthorized\n", rec.Body.String())
			case http.StatusServiceUnavailable:
				assert.Equal(t, "5", rec.Header().Get("Retry-After"))
			}
		})
	}
}

func TestHandlerRunsDuplicatesOnce(t *testing.T) {
	t.Parallel()
	var c countingFn
	var notified atomic.Int32
	h := mustWebhook(t, testKey).Handler(c.fn, WithNotify(func(*WebhookPayload) { notified.Add(1) }))
	body := deliveryBody("tsk_dup", RunStatusCompleted)
	for i := 0; i < 3; i++ {
		assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	}
	assert.Equal(t, int32(1), c.calls.Load())
	assert.Equal(t, int32(3), notified.Load(), "every verified, processed-or-done delivery notifies")

	// Another status of the same run is another event.
	assert.Equal(t, http.StatusOK, serve(h, delivery(deliveryBody("tsk_dup", RunStatusFailed), testKey)).Code)
	assert.Equal(t, int32(2), c.calls.Load())
}

func TestHandlerRedeliveryAfterFailureRunsAgain(t *testing.T) {
	t.Parallel()
	var c countingFn
	var notified atomic.Int32
	h := mustWebhook(t, testKey).Handler(c.fn, WithNotify(func(*WebhookPayload) { notified.Add(1) }))
	body := deliveryBody("tsk_retry", RunStatusCompleted)

	c.fail.Store(true)
	assert.Equal(t, http.StatusInternalServerError, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, int32(0), notified.Load(), "a failed delivery does not notify")
	c.fail.Store(false)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, int32(2), c.calls.Load())
	assert.Equal(t, int32(2), notified.Load())
}

func TestHandlerReleasesOnPanic(t *testing.T) {
	t.Parallel()
	store := MustMemoryStore(t)
	calls := 0
	h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error {
		calls++
		if calls == 1 {
			panic("boom")
		}
		return nil
	}, WithIdempotencyStore(store))
	body := deliveryBody("tsk_panic", RunStatusCompleted)
	assert.PanicsWithValue(t, "boom", func() { serve(h, delivery(body, testKey)) })
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, 2, calls)
}

// claimCounter wraps a store and counts Claim calls.
type claimCounter struct {
	IdempotencyStore
	claims atomic.Int32
}

func (c *claimCounter) Claim(ctx context.Context, key string) (Claim, error) {
	c.claims.Add(1)
	return c.IdempotencyStore.Claim(ctx, key)
}

func TestHandlerConcurrentDuplicatesRunOnce(t *testing.T) {
	t.Parallel()
	const n = 50
	store := &claimCounter{IdempotencyStore: MustMemoryStore(t)}
	var calls atomic.Int32
	release := make(chan struct{})
	h := mustWebhook(t, testKey).Handler(func(ctx context.Context, _ *WebhookPayload) error {
		calls.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, WithIdempotencyStore(store), WithBusyWait(time.Minute))

	body := deliveryBody("tsk_storm", RunStatusCompleted)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = serve(h, delivery(body, testKey)).Code
		}(i)
	}
	// Let the worker finish only once every delivery has tried to claim, so
	// that all the others really are waiting on it.
	require.Eventually(t, func() bool { return store.claims.Load() >= n }, 30*time.Second, time.Millisecond)
	close(release)
	wg.Wait()

	assert.Equal(t, int32(1), calls.Load())
	for i, code := range codes {
		assert.Equal(t, http.StatusOK, code, "delivery %d", i)
	}
}

func TestHandlerWaiterTakesOverAfterFailure(t *testing.T) {
	t.Parallel()
	store := &claimCounter{IdempotencyStore: MustMemoryStore(t)}
	var calls atomic.Int32
	release := make(chan struct{})
	h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error {
		if calls.Add(1) == 1 {
			<-release
			return errors.New("first worker fails")
		}
		return nil
	}, WithIdempotencyStore(store), WithBusyWait(time.Minute))
	body := deliveryBody("tsk_takeover", RunStatusCompleted)

	first := make(chan int)
	go func() { first <- serve(h, delivery(body, testKey)).Code }()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 30*time.Second, time.Millisecond)
	second := make(chan int)
	go func() { second <- serve(h, delivery(body, testKey)).Code }()
	require.Eventually(t, func() bool { return store.claims.Load() >= 2 }, 30*time.Second, time.Millisecond)
	close(release)

	assert.Equal(t, http.StatusInternalServerError, <-first)
	assert.Equal(t, http.StatusOK, <-second)
	assert.Equal(t, int32(2), calls.Load())
}

func TestHandlerBusyWaitTimesOut(t *testing.T) {
	t.Parallel()
	store := &storeFunc{claim: func(context.Context, string) (Claim, error) { return Claim{Result: ClaimBusy}, nil }}
	var c countingFn
	h := mustWebhook(t, testKey).Handler(c.fn, WithIdempotencyStore(store), WithBusyWait(20*time.Millisecond))
	rec := serve(h, delivery(deliveryBody("tsk_busy", RunStatusCompleted), testKey))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.Equal(t, int32(0), c.calls.Load())
	assert.Equal(t, int32(0), store.released.Load(), "a waiter never releases a claim it does not hold")

	// A request whose client went away stops waiting too.
	h = mustWebhook(t, testKey).Handler(c.fn, WithIdempotencyStore(store), WithBusyWait(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec = serve(h, delivery(deliveryBody("tsk_busy", RunStatusCompleted), testKey).WithContext(ctx))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)

	// With no busy wait, the answer is immediate.
	h = mustWebhook(t, testKey).Handler(c.fn, WithIdempotencyStore(store), WithBusyWait(0))
	assert.Equal(t, http.StatusServiceUnavailable, serve(h, delivery(deliveryBody("tsk_busy", RunStatusCompleted), testKey)).Code)
}

func TestHandlerPassesPayloadAndContext(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	var got *WebhookPayload
	var gotValue any
	h := mustWebhook(t, testKey).Handler(func(ctx context.Context, p *WebhookPayload) error {
		got, gotValue = p, ctx.Value(ctxKey{})
		return nil
	})
	body := []byte(seedPayload)
	r := delivery(body, testKey)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "request scoped"))
	require.Equal(t, http.StatusOK, serve(h, r).Code)
	require.NotNil(t, got)
	assert.Equal(t, "tsk_v2_490440779503357994", got.RunID)
	assert.Equal(t, seedPayload, string(got.Raw))
	assert.Equal(t, "request scoped", gotValue)
}

func TestHandlerNilFunctionOnlyNotifies(t *testing.T) {
	t.Parallel()
	var seen []string
	h := mustWebhook(t, testKey).Handler(nil, WithNotify(func(p *WebhookPayload) { seen = append(seen, p.RunID) }))
	assert.Equal(t, http.StatusOK, serve(h, delivery(deliveryBody("tsk_n", RunStatusCompleted), testKey)).Code)
	assert.Equal(t, []string{"tsk_n"}, seen)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	nextStatus := http.StatusNoContent
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		p, ok := PayloadFromContext(r.Context())
		if !assert.True(t, ok) {
			return
		}
		raw, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		assert.Equal(t, string(p.Raw), string(raw), "next can still read the raw body")
		assert.Equal(t, int64(len(raw)), r.ContentLength)
		w.WriteHeader(nextStatus)
	})
	h := mustWebhook(t, testKey).Middleware(next)
	body := deliveryBody("wr_mw", RunStatusCompleted)

	nextStatus = http.StatusInternalServerError
	assert.Equal(t, http.StatusInternalServerError, serve(h, delivery(body, testKey)).Code)
	nextStatus = http.StatusNoContent
	assert.Equal(t, http.StatusNoContent, serve(h, delivery(body, testKey)).Code, "a failed event is delivered again")
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code, "a done event is answered without next")
	assert.Equal(t, int32(2), calls.Load())

	assert.Equal(t, http.StatusUnauthorized, serve(h, delivery(body, "sk_forger")).Code)
	assert.Equal(t, http.StatusMethodNotAllowed, serve(h, httptest.NewRequest(http.MethodGet, "/", nil)).Code)
	assert.Equal(t, int32(2), calls.Load(), "next never sees unverified requests")

	_, ok := PayloadFromContext(context.Background())
	assert.False(t, ok)
}

func TestMiddlewareImplicitOK(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := mustWebhook(t, testKey).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		if calls.Load() == 1 {
			_, _ = io.WriteString(w, "stored") // implicit 200
		}
		// second call would write nothing: also 200
	}))
	body := deliveryBody("wr_ok", RunStatusCompleted)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, int32(1), calls.Load())
}

func TestMiddlewareJudgesFinalStatus(t *testing.T) {
	t.Parallel()
	final := http.StatusInternalServerError
	var calls atomic.Int32
	h := mustWebhook(t, testKey).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(final)
	}))
	body := deliveryBody("wr_hints", RunStatusCompleted)
	serve(h, delivery(body, testKey)) // 500 after the hint: released
	final = http.StatusOK
	serve(h, delivery(body, testKey)) // 200 after the hint: done
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, int32(2), calls.Load(), "an interim 103 is not the answer")
}

// The first final status next writes is the answer; net/http ignores any
// later WriteHeader, and so must the middleware's judgement.
func TestMiddlewareJudgesFirstFinalStatus(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := mustWebhook(t, testKey).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusInternalServerError) // superfluous
	}))
	body := deliveryBody("wr_first_status", RunStatusCompleted)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, int32(1), calls.Load(), "the event was done after the first 200")
}

// Only a 2xx from next marks the event done: a redirect or a 304 is not a
// processed event, and the event must be released for redelivery.
func TestMiddlewareReleasesOnEveryNon2xx(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		first int
		done  bool
	}{
		{http.StatusOK, true},
		{http.StatusNoContent, true},
		{299, true},
		{http.StatusMultipleChoices, false},
		{301, false},
		{http.StatusFound, false},
		{http.StatusNotModified, false},
		{http.StatusTemporaryRedirect, false},
		{399, false},
		{http.StatusBadRequest, false},
		{http.StatusServiceUnavailable, false},
	} {
		t.Run(strconv.Itoa(tc.first), func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			h := mustWebhook(t, testKey).Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if calls.Add(1) == 1 {
					w.WriteHeader(tc.first)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			body := deliveryBody("wr_status_"+strconv.Itoa(tc.first), RunStatusCompleted)
			assert.Equal(t, tc.first, serve(h, delivery(body, testKey)).Code, "next's answer is passed on")
			assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
			want := int32(2) // released: the redelivery reaches next
			if tc.done {
				want = 1 // done: the redelivery is answered without next
			}
			assert.Equal(t, want, calls.Load())
		})
	}
}

func TestHandlerLogsWithoutKey(t *testing.T) {
	t.Parallel()
	var buf safeBuffer
	logger := newTestLogger(&buf)
	var c countingFn
	c.fail.Store(true)
	h := mustWebhook(t, testKey).Handler(c.fn, WithHandlerLogger(logger))
	body := deliveryBody("tsk_log", RunStatusCompleted)
	serve(h, delivery(body, "sk_forger"))
	serve(h, delivery([]byte(`{`), testKey))
	serve(h, delivery(body, testKey))
	out := buf.String()
	assert.Contains(t, out, "rejected webhook")
	assert.Contains(t, out, "undecodable webhook")
	assert.Contains(t, out, "database unavailable")
	assert.NotContains(t, out, testKey)
}

// safeBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHandlerPublishesToRunHub(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		polls.Add(1)
		http.Error(w, `{"detail":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	client, err := NewClient(testKey, WithBaseURL(srv.URL))
	require.NoError(t, err)

	hub := MustRunHub(t)
	var c countingFn
	var notified atomic.Int32
	h := mustWebhook(t, testKey).Handler(c.fn, WithRunHub(hub), WithNotify(func(*WebhookPayload) { notified.Add(1) }), WithRunHub(nil))

	// A failed delivery publishes nothing.
	failed := deliveryBody("tsk_hub_fail", RunStatusCompleted)
	c.fail.Store(true)
	require.Equal(t, http.StatusInternalServerError, serve(h, delivery(failed, testKey)).Code)
	events, unsubscribe := hub.subscribe("tsk_hub_fail")
	select {
	case ev := <-events:
		t.Fatalf("unexpected hub event %+v", ev)
	default:
	}
	unsubscribe()

	c.fail.Store(false)
	body := deliveryBody("tsk_hub", RunStatusCompleted)
	require.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	assert.Equal(t, int32(1), notified.Load(), "WithRunHub and WithNotify compose")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := client.WaitForRun(ctx, "tsk_hub", WaitWithHub(hub))
	require.NoError(t, err)
	assert.Equal(t, "tsk_hub", run.RunID)
	assert.Equal(t, RunStatusCompleted, run.Status)
	assert.Equal(t, int32(0), polls.Load(), "the webhook answered the wait; no poll was needed")
}

// completionLog wraps a store and records the keys completed so far.
type completionLog struct {
	IdempotencyStore
	mu   sync.Mutex
	done map[string]bool
}

func (c *completionLog) Complete(ctx context.Context, key, token string) error {
	err := c.IdempotencyStore.Complete(ctx, key, token)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[key] = true
	return err
}

func (c *completionLog) completed(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[key]
}

// TestHandlerNotifiesAfterStoreCompletes: a waiter woken through the hub
// must not run ahead of the store, or a replica that takes the replay could
// process the event a second time.
func TestHandlerNotifiesAfterStoreCompletes(t *testing.T) {
	t.Parallel()
	store := &completionLog{IdempotencyStore: MustMemoryStore(t), done: map[string]bool{}}
	var seen []bool // whether the store had completed the key at each notification
	h := mustWebhook(t, testKey).Handler(func(context.Context, *WebhookPayload) error { return nil },
		WithIdempotencyStore(store),
		WithNotify(func(p *WebhookPayload) { seen = append(seen, store.completed(p.IdempotencyKey())) }))
	body := deliveryBody("tsk_order", RunStatusCompleted)
	for range 2 { // the event, then a duplicate
		require.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	}
	assert.Equal(t, []bool{true, true}, seen)
}
