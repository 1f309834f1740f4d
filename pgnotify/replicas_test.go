package pgnotify_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/pgnotify"
	"github.com/skyvern-go/skyvern/skyverntest"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// replica is one receiver process: its own pools, hub, relay and handler,
// sharing the idempotency table and the events table with the others.
type replica struct {
	hub      *skyvern.RunHub
	relay    *pgnotify.Relay
	receiver *httptest.Server
	listen   string // application_name of its listening connection
}

// replicaSet is a fake Skyvern whose webhooks reach replicas of a receiver.
type replicaSet struct {
	srv      *skyverntest.Server
	client   *skyvern.Client
	replicas []*replica
	admin    *sql.DB

	processed sync.Map // run id -> time.Time when a replica's handler finished with it
}

func newReplicaSet(t *testing.T, n int) *replicaSet {
	t.Helper()
	dsn := testDSN(t)
	admin := openDB(t, dsn)
	events := newEventsTable(t, admin)
	keys := randomName(t, "pgnotify_keys_")
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), `DROP TABLE IF EXISTS "`+keys+`"`) })

	srv := skyverntest.NewServer()
	t.Cleanup(srv.Close)
	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()), skyvern.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	wh, err := skyvern.NewWebhook(srv.APIKey())
	require.NoError(t, err)

	rs := &replicaSet{srv: srv, client: client, admin: admin}
	for i := range n {
		prefix := randomName(t, fmt.Sprintf("replica%d_", i))
		db := openDB(t, withParam(t, dsn, "application_name", prefix+"_pool"))
		store, err := sqlstore.New(db, sqlstore.WithTable(keys))
		require.NoError(t, err)
		require.NoError(t, store.CreateSchema(context.Background()))
		hub, err := skyvern.NewRunHub()
		require.NoError(t, err)
		listen := prefix + "_listen"
		relay := startRelay(t, db, withParam(t, dsn, "application_name", listen), hub, pgnotify.WithTable(events))
		process := func(context.Context, *skyvern.WebhookPayload) error { return nil }
		h := wh.Handler(process,
			skyvern.WithIdempotencyStore(store),
			skyvern.WithNotify(func(p *skyvern.WebhookPayload) { rs.processed.LoadOrStore(p.RunID, time.Now()) }),
			skyvern.WithNotify(relay.Notify))
		receiver := httptest.NewServer(h)
		t.Cleanup(receiver.Close)
		rs.replicas = append(rs.replicas, &replica{hub: hub, relay: relay, receiver: receiver, listen: listen})
	}
	return rs
}

// crossSample is one wait that a webhook on another replica ended.
type crossSample struct {
	waiter, delivery int
	latency          time.Duration // from the delivery replica's handler finishing to the wait's return
	polls            int32         // GetRun calls the wait made
	afterKill        bool          // the waiter's replica had lost its listening connection since the wait began
}

// wait starts a run whose webhook goes to replica delivery, waits on it
// from replica waiter (polls an hour apart, so only the relay can end the
// wait in time), completes the run once the wait's first poll saw it
// running, and measures.
func (rs *replicaSet) wait(ctx context.Context, waiter, delivery int) (crossSample, error) {
	run, err := rs.client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "Find the price", WebhookURL: rs.replicas[delivery].receiver.URL})
	if err != nil {
		return crossSample{}, err
	}
	var polls atomic.Int32
	first := make(chan struct{})
	var once sync.Once
	type result struct {
		run *skyvern.Run
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		got, err := rs.client.WaitForRun(ctx, run.RunID, skyvern.WaitWithHub(rs.replicas[waiter].hub),
			skyvern.WithPollInterval(time.Hour, time.Hour),
			skyvern.OnPoll(func(*skyvern.Run) { polls.Add(1); once.Do(func() { close(first) }) }))
		done <- result{got, err, time.Now()}
	}()
	select {
	case <-first:
	case r := <-done:
		return crossSample{}, fmt.Errorf("wait on %s ended before its first poll: %v", run.RunID, r.err)
	}
	if err := rs.srv.Complete(run.RunID, map[string]any{"price": 29.0}); err != nil {
		return crossSample{}, err
	}
	r := <-done
	if r.err != nil {
		return crossSample{}, fmt.Errorf("wait on %s from replica %d (delivered to %d): %w", run.RunID, waiter, delivery, r.err)
	}
	if r.run.Status != skyvern.RunStatusCompleted || r.run.RunID != run.RunID {
		return crossSample{}, fmt.Errorf("wait on %s returned %s %s", run.RunID, r.run.RunID, r.run.Status)
	}
	t0, ok := rs.processed.Load(run.RunID)
	if !ok {
		return crossSample{}, fmt.Errorf("run %s: the wait returned but no handler processed its webhook", run.RunID)
	}
	return crossSample{waiter: waiter, delivery: delivery, latency: r.at.Sub(t0.(time.Time)), polls: polls.Load()}, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// TestReplicasWakeEachOther: four replicas, waiters spread over all of them,
// every webhook delivered to a replica other than the waiter's, round-robin.
// The relay must end each wait: the waits poll an hour apart. Halfway
// through, one replica's listening connection is killed on the server; its
// waiters must still be woken.
func TestReplicasWakeEachOther(t *testing.T) {
	const (
		replicas    = 4
		runs        = 400
		parallelism = 4
		victim      = 2
	)
	rs := newReplicaSet(t, replicas)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	samples := make([]crossSample, runs)
	errs := make([]error, runs)
	var killed atomic.Bool
	var started atomic.Int32
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i := range runs {
		if i == runs/2 {
			// Kill while waits are in flight on every replica.
			n := terminate(t, rs.admin, rs.replicas[victim].listen)
			require.Equal(t, 1, n, "the victim's listening connection")
			killed.Store(true)
		}
		delivery := i % replicas
		waiter := (delivery + 1 + (i/replicas)%(replicas-1)) % replicas
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			started.Add(1)
			afterKill := killed.Load()
			samples[i], errs[i] = rs.wait(ctx, waiter, delivery)
			samples[i].afterKill = afterKill && waiter == victim
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	var all, victimAfter []time.Duration
	perWaiter := make([]int, replicas)
	for _, s := range samples {
		require.NotEqual(t, s.waiter, s.delivery)
		assert.EqualValues(t, 1, s.polls, "only the wait's opening check polls; the relay ends it")
		all = append(all, s.latency)
		perWaiter[s.waiter]++
		if s.afterKill {
			victimAfter = append(victimAfter, s.latency)
		}
	}
	slices.Sort(all)
	slices.Sort(victimAfter)
	for i, r := range rs.replicas {
		// Every replica reads every other replica's events, the victim
		// included: what it missed while disconnected it read on reconnect.
		want := int64(runs - runs/replicas)
		require.Eventually(t, func() bool { return r.relay.Stats().Received == want }, 10*time.Second, 5*time.Millisecond,
			"replica %d read %d of the others' %d events", i, r.relay.Stats().Received, want)
		t.Logf("replica %d: %d waits, relay %+v", i, perWaiter[i], r.relay.Stats())
	}
	t.Logf("cross-replica wake, %d waits: p50 %v, p95 %v, p99 %v, max %v",
		len(all), percentile(all, 0.50), percentile(all, 0.95), percentile(all, 0.99), all[len(all)-1])
	t.Logf("waits on the replica whose connection was killed, begun after the kill: %d, p50 %v, p95 %v, max %v",
		len(victimAfter), percentile(victimAfter, 0.50), percentile(victimAfter, 0.95), victimAfter[len(victimAfter)-1])
	if !raceEnabled {
		assert.LessOrEqual(t, percentile(all, 0.95), 50*time.Millisecond, "p95")
	}
	assert.NotEmpty(t, victimAfter)
	assert.GreaterOrEqual(t, rs.replicas[victim].relay.Stats().Reconnects, int64(1), "the victim reconnected")
	gets := 0
	for _, req := range rs.srv.Requests() {
		if req.Route == skyverntest.RouteGetRun {
			gets++
		}
	}
	assert.Equal(t, runs, gets, "one GetRun per wait, the opening check: none after the webhook")
}
