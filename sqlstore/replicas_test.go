package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// errTransient is the failure the replicas' function reports now and then,
// as a real one would when its own database or queue hiccups.
var errTransient = errors.New("transient failure")

// deliveryTally is what the replicas' function and the counting wrapper
// record, shared by every replica.
type deliveryTally struct {
	failureRate float64
	maxWork     time.Duration // the function takes up to this long

	mu        sync.Mutex
	rng       *rand.Rand
	successes map[string]int // successful runs of the function per run_id:status
	inFlight  map[string]int
	overlaps  int // runs of one key that overlapped another run of it
	failures  int
	codes     map[int]int // answers of the handlers, by status
	perShard  []int       // requests reaching each replica

	notified atomic.Int64 // deliveries known processed: fn succeeded, or the store said done
}

func newDeliveryTally(replicas int, failureRate float64, maxWork time.Duration, seed uint64) *deliveryTally {
	return &deliveryTally{
		failureRate: failureRate,
		maxWork:     maxWork,
		rng:         rand.New(rand.NewPCG(seed, seed^0x5eed)),
		successes:   make(map[string]int),
		inFlight:    make(map[string]int),
		codes:       make(map[int]int),
		perShard:    make([]int, replicas),
	}
}

// process is the function every replica's handler runs. It takes a moment,
// so that concurrent duplicates find the event held, and fails at random.
func (d *deliveryTally) process(_ context.Context, p *skyvern.WebhookPayload) error {
	key := p.RunID + ":" + string(p.Status)
	d.mu.Lock()
	d.inFlight[key]++
	if d.inFlight[key] > 1 {
		d.overlaps++
	}
	fail := d.rng.Float64() < d.failureRate
	var work time.Duration
	if d.maxWork > 0 {
		work = time.Duration(d.rng.Int64N(int64(d.maxWork)))
	}
	d.mu.Unlock()

	if work > 0 {
		time.Sleep(work)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight[key]--
	if fail {
		d.failures++
		return errTransient
	}
	d.successes[key]++
	return nil
}

// attempts counts the requests that reached the replicas.
func (d *deliveryTally) attempts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.perShard {
		n += c
	}
	return n
}

func (d *deliveryTally) processed(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.successes[key] > 0
}

// counted wraps replica i's handler to count the requests reaching it and
// its answers, which it buffers to read the status.
func (d *deliveryTally) counted(i int, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		d.mu.Lock()
		d.perShard[i]++
		d.codes[rec.Code]++
		d.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// claimTally wraps a replica's Store to count what its claims found.
type claimTally struct {
	skyvern.IdempotencyStore
	acquired, done, busy *atomic.Int64
}

func (c claimTally) Claim(ctx context.Context, key string) (skyvern.Claim, error) {
	res, err := c.IdempotencyStore.Claim(ctx, key)
	if err == nil {
		switch res.Result {
		case skyvern.ClaimAcquired:
			c.acquired.Add(1)
		case skyvern.ClaimDone:
			c.done.Add(1)
		case skyvern.ClaimBusy:
			c.busy.Add(1)
		}
	}
	return res, err
}

// replicaFleet is webhook receivers that each have their own pool, Store
// and handler on one shared table, behind a round-robin dispatcher.
type replicaFleet struct {
	servers     []*httptest.Server
	dispatcher  *httptest.Server
	dispatched  atomic.Int64
	proxyErrors atomic.Int64
	table       string

	// Claims made by all replicas, by result.
	claimsAcquired, claimsDone, claimsBusy atomic.Int64
}

func newReplicaFleet(t testing.TB, n int, apiKey string, tally *deliveryTally) *replicaFleet {
	t.Helper()
	f := &replicaFleet{table: newTable(t, openDB(t))}
	wh, err := skyvern.NewWebhook(apiKey)
	require.NoError(t, err)
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(transport.CloseIdleConnections)

	proxies := make([]*httputil.ReverseProxy, n)
	for i := range n {
		store, err := sqlstore.New(openDB(t), sqlstore.WithTable(f.table))
		require.NoError(t, err)
		counted := claimTally{IdempotencyStore: store, acquired: &f.claimsAcquired, done: &f.claimsDone, busy: &f.claimsBusy}
		h := wh.Handler(tally.process,
			skyvern.WithIdempotencyStore(counted),
			skyvern.WithNotify(func(*skyvern.WebhookPayload) { tally.notified.Add(1) }))
		srv := httptest.NewServer(tally.counted(i, h))
		t.Cleanup(srv.Close)
		f.servers = append(f.servers, srv)

		target, err := url.Parse(srv.URL)
		require.NoError(t, err)
		proxies[i] = httputil.NewSingleHostReverseProxy(target)
		proxies[i].Transport = transport
		proxies[i].ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
			f.proxyErrors.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}
	}
	var next atomic.Uint64
	f.dispatcher = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.dispatched.Add(1)
		proxies[(next.Add(1)-1)%uint64(n)].ServeHTTP(w, r)
	}))
	t.Cleanup(f.dispatcher.Close)
	return f
}

// fanOut POSTs one delivery to every replica at the same moment, as
// concurrent redeliveries through a load balancer would arrive, and
// returns the answers.
func (f *replicaFleet) fanOut(ctx context.Context, hc *http.Client, body []byte, header http.Header) ([]int, error) {
	codes := make([]int, len(f.servers))
	errs := make([]error, len(f.servers))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, srv := range f.servers {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for _, k := range []string{skyvern.SignatureHeader, skyvern.TimestampHeader, "Content-Type"} {
			req.Header.Set(k, header.Get(k))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := hc.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			_ = resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	return codes, errors.Join(errs...)
}

// signedHeader is the header Skyvern sends with body.
func signedHeader(body []byte, apiKey string) http.Header {
	h := http.Header{}
	h.Set(skyvern.SignatureHeader, skyvern.Sign(body, apiKey))
	h.Set(skyvern.TimestampHeader, strconv.FormatInt(time.Now().Unix(), 10))
	h.Set("Content-Type", "application/json")
	return h
}

// What the test does with each run besides finishing it.
const (
	scenarioOriginalOnly       = iota // Skyvern's delivery and its retries alone
	scenarioReplayDuringOrigin        // a replay while the original delivery is in flight
	scenarioRepeatedReplays           // after the delivery, two concurrent replays and one more
	scenarioRecordedFanOut            // the recorded delivery POSTed to every replica at once
	scenarioSignedFanOut              // no webhook_url: a signed run body POSTed to every replica at once, twice
	scenarioOverrideReplay            // a replay to the dispatcher by URL override while the original is in flight
	scenarioCount
)

// replicaCounters tallies what the test itself sent.
type replicaCounters struct {
	replays, fanOutPosts, recoveryReplays atomic.Int64
}

// TestReplicasProcessEachEventOnce puts webhook receiver replicas, each with
// its own pool, Store and handler on one shared table, behind a round-robin
// dispatcher that the fake Skyvern delivers to. The function fails now and
// then (Skyvern then retries), the test replays finished runs (some while
// their delivery is still in flight, some repeatedly) and POSTs the same
// delivery to every replica at once. Every (run_id, status) must be
// processed successfully exactly once: none twice, and none lost once the
// runs whose every attempt failed have been replayed.
func TestReplicasProcessEachEventOnce(t *testing.T) {
	t.Parallel()
	const (
		replicas    = 4
		runCount    = 420
		parallelism = 32
		failureRate = 0.2
		seed        = 20260131
	)
	testDSN(t) // skip before starting anything
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Skyvern's waits between attempts (1-3 s, or the 5 s Retry-After of a
	// busy answer) shrink to milliseconds.
	srv := skyverntest.NewServer(skyverntest.WithDeliveryTimeScale(0.001))
	defer srv.Close()
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()), skyvern.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	tally := newDeliveryTally(replicas, failureRate, 2*time.Millisecond, seed)
	fleet := newReplicaFleet(t, replicas, srv.APIKey(), tally)
	direct := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer direct.CloseIdleConnections()

	var counters replicaCounters
	replay := func(runID string, override bool) error {
		var req *skyvern.RetryRunWebhookRequest
		if override {
			req = &skyvern.RetryRunWebhookRequest{WebhookURL: fleet.dispatcher.URL}
		}
		counters.replays.Add(1)
		_, err := client.RetryRunWebhook(ctx, runID, req)
		return err
	}
	fanOut := func(body []byte, header http.Header) error {
		counters.fanOutPosts.Add(replicas)
		codes, err := fleet.fanOut(ctx, direct, body, header)
		if err != nil {
			return err
		}
		for _, code := range codes {
			if code != http.StatusOK && code != http.StatusInternalServerError {
				return fmt.Errorf("a replica answered %d to a redelivery", code)
			}
		}
		return nil
	}
	finish := func(runID string, i int) error {
		switch i % 5 {
		case 0, 1:
			return srv.Complete(runID, map[string]any{"n": i})
		case 2:
			return srv.Fail(runID, "page did not load")
		case 3:
			return srv.TimeOut(runID)
		}
		return srv.Cancel(runID)
	}
	handle := func(i int) error {
		scenario := i % scenarioCount
		req := &skyvern.TaskRunRequest{Prompt: fmt.Sprintf("run %d", i), WebhookURL: fleet.dispatcher.URL}
		if i%2 == 1 {
			req.Engine = skyvern.RunEngineSkyvernV2
		}
		if scenario == scenarioSignedFanOut {
			req.WebhookURL = ""
		}
		run, err := client.RunTask(ctx, req)
		if err != nil {
			return err
		}
		if err := finish(run.RunID, i); err != nil {
			return err
		}
		switch scenario {
		case scenarioReplayDuringOrigin, scenarioOverrideReplay:
			if err := replay(run.RunID, scenario == scenarioOverrideReplay); err != nil {
				return err
			}
		case scenarioSignedFanOut:
			got, err := client.GetRun(ctx, run.RunID)
			if err != nil {
				return err
			}
			for range 2 {
				if err := fanOut(got.Raw, signedHeader(got.Raw, srv.APIKey())); err != nil {
					return err
				}
			}
			return nil // no original delivery to wait for
		}
		delivery, err := srv.WaitForDelivery(ctx, run.RunID)
		if err != nil {
			return err
		}
		switch scenario {
		case scenarioRepeatedReplays:
			errs := make(chan error, 2)
			for range 2 {
				go func() { errs <- replay(run.RunID, false) }()
			}
			if err := errors.Join(<-errs, <-errs); err != nil {
				return err
			}
			return replay(run.RunID, false)
		case scenarioRecordedFanOut:
			first := delivery.Attempts[0]
			return fanOut(first.Body, first.Header)
		}
		return nil
	}

	start := time.Now()
	sem := make(chan struct{}, parallelism)
	errs := make(chan error, runCount)
	var wg sync.WaitGroup
	for i := range runCount {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := handle(i); err != nil {
				errs <- fmt.Errorf("run %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	phaseDispatched := fleet.dispatched.Load()
	phaseAttempts := tally.attempts()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.False(t, t.Failed())

	// Runs whose every attempt failed are not lost: the user replays them
	// (here to the dispatcher, since some runs have no webhook_url) until
	// one is processed.
	want := make(map[string]int)
	lost := 0
	for _, r := range srv.Runs() {
		key := r.ID + ":" + string(r.Status)
		want[key] = 1
		if tally.processed(key) {
			continue
		}
		lost++
		// Ten replays that all fail would take a failure rate far above
		// 20%, or an event held by a claim nobody works under (each replay
		// then waits out the busy wait and gets 503).
		for attempt, last := 0, 0; !tally.processed(key); attempt++ {
			require.Less(t, attempt, 10, "replays of %s keep failing; the last was answered %d", key, last)
			counters.replays.Add(1)
			counters.recoveryReplays.Add(1)
			res, err := client.RetryRunWebhook(ctx, r.ID, &skyvern.RetryRunWebhookRequest{WebhookURL: fleet.dispatcher.URL})
			require.NoError(t, err)
			if res.StatusCode != nil {
				last = *res.StatusCode
			}
		}
	}

	tally.mu.Lock()
	defer tally.mu.Unlock()
	if diff := cmp.Diff(want, tally.successes); diff != "" {
		t.Errorf("successful runs of the function per run_id:status (-want +got):\n%s", diff)
	}
	assert.Zero(t, tally.overlaps, "a key processed by two replicas at once")
	assert.Zero(t, fleet.proxyErrors.Load(), "the dispatcher could not reach a replica")
	total, done := rowCount(t, openDB(t), fleet.table)
	assert.Equal(t, len(want), total, "rows in the shared table")
	assert.Equal(t, len(want), done, "completed rows in the shared table")

	attempts := 0
	for _, n := range tally.perShard {
		attempts += n
		assert.Positive(t, n, "every replica received deliveries")
	}
	dispatched := fleet.dispatched.Load()
	successes := 0
	for _, n := range tally.successes {
		successes += n
	}
	suppressed := int(tally.notified.Load()) - successes
	// Each answer has one cause: 200 is a success or a suppressed duplicate
	// (both notify), 500 a failure of the function, 503 a busy event.
	assert.Equal(t, int(tally.notified.Load()), tally.codes[http.StatusOK], "200 answers")
	assert.Equal(t, tally.failures, tally.codes[http.StatusInternalServerError], "500 answers")
	assert.Equal(t, attempts, tally.codes[http.StatusOK]+tally.codes[http.StatusInternalServerError]+tally.codes[http.StatusServiceUnavailable], "answers: %v", tally.codes)
	assert.GreaterOrEqual(t, attempts, 1000, "deliveries reaching the handlers")
	assert.Positive(t, tally.failures, "transient failures")
	assert.Positive(t, suppressed, "duplicates suppressed")
	assert.Equal(t, int64(suppressed), fleet.claimsDone.Load(), "a suppressed duplicate is a claim that found its event done")
	assert.Equal(t, int64(successes+tally.failures), fleet.claimsAcquired.Load(), "every acquired claim ran the function once")
	assert.Positive(t, fleet.claimsBusy.Load(), "concurrent deliveries found their event held by another replica")

	deliveries := srv.Deliveries()
	retries := 0
	for _, d := range deliveries {
		if !d.Replay && d.Attempt > 1 {
			retries++
		}
	}
	assert.Positive(t, retries, "Skyvern's retries after failed attempts")
	t.Logf("%d replicas, %d runs, %d keys: %d deliveries reached the handlers (per replica %v), %d of them through the dispatcher: "+
		"%d by Skyvern (%d retries), %d replays, %d concurrent redeliveries, %d recovery replays for %d lost keys; "+
		"function ran %d times: %d successes (once per key: %v), %d transient failures; %d duplicates suppressed, %d claims found the event held, %d busy answers; "+
		"main phase %v: %.0f deliveries/s to the handlers, %.0f/s through the dispatcher",
		replicas, runCount, len(want), attempts, tally.perShard, dispatched,
		len(deliveries)-int(counters.replays.Load()), retries, counters.replays.Load()-counters.recoveryReplays.Load(),
		counters.fanOutPosts.Load(), counters.recoveryReplays.Load(), lost,
		successes+tally.failures, successes, !t.Failed(), tally.failures, suppressed, fleet.claimsBusy.Load(), tally.codes[http.StatusServiceUnavailable],
		elapsed.Round(time.Millisecond), float64(phaseAttempts)/elapsed.Seconds(), float64(phaseDispatched)/elapsed.Seconds())
}

// BenchmarkReplicaDispatch measures deliveries through the round-robin
// dispatcher to replicas sharing one table: signed POSTs from concurrent
// senders, each event delivered twice (the second one a duplicate the store
// suppresses), with a function that does no work. Throughput is reported as
// deliveries/s.
func BenchmarkReplicaDispatch(b *testing.B) {
	const replicas = 4
	tally := newDeliveryTally(replicas, 0, 0, 1)
	fleet := newReplicaFleet(b, replicas, "sk_bench_key", tally)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	var next atomic.Int64

	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1) - 1
			body := []byte(`{"run_id":"tsk_` + strconv.FormatInt(n/2, 10) + `","status":"completed","run_type":"task_v1"}`)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, fleet.dispatcher.URL, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header = signedHeader(body, "sk_bench_key")
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err) // FailNow is not allowed off the benchmark's goroutine
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("delivery %d answered %d", n, resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
