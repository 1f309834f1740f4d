package riverhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/riverhook"
)

// dsnEnv names the variable that points the tests at a PostgreSQL database
// they may create and drop schemas in.
const dsnEnv = "SKYVERN_TEST_POSTGRES_DSN"

// testKey signs the test deliveries; it is not a real key.
const testKey = "riverhook-test-signing-value"

// riverEnv is a River schema of the test's own on the test database, with
// its pool and driver.
type riverEnv struct {
	pool   *pgxpool.Pool
	schema string
}

func newRiverEnv(t *testing.T) *riverEnv {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip(dsnEnv + ` not set: run eval "$(bash .ci/postgres.sh start)" from the repository root to start a throwaway PostgreSQL, then go test again`)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var b [6]byte
	_, err = rand.Read(b[:])
	require.NoError(t, err)
	schema := "riverhook_test_" + hex.EncodeToString(b[:])
	_, err = pool.Exec(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	require.NoError(t, err)
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	require.NoError(t, err)
	return &riverEnv{pool: pool, schema: schema}
}

// quickRetry retries a failed job after a short fixed pause, so that tests
// see River's retries without its production backoff of attempt^4 seconds.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(50 * time.Millisecond)
}

// client returns a River client on the env's schema working with workers.
func (e *riverEnv) client(t *testing.T, workers *river.Workers, tweak func(*river.Config)) *river.Client[pgx.Tx] {
	t.Helper()
	cfg := &river.Config{
		Schema:            e.schema,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       quickRetry{},
		TestOnly:          true,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)), // River logs the test's deliberate panics
	}
	if tweak != nil {
		tweak(cfg)
	}
	c, err := river.NewClient(riverpgxv5.New(e.pool), cfg)
	require.NoError(t, err)
	return c
}

func (e *riverEnv) count(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT COUNT(*) FROM `+e.schema+`.river_job WHERE `+where, args...).Scan(&n))
	return n
}

// delivery is one webhook request as Skyvern would make it.
type delivery struct {
	body []byte
}

func webhookBody(runID string, status skyvern.RunStatus, attempt int, retryPending bool) []byte {
	return fmt.Appendf(nil, `{"run_id":%q,"status":%q,"run_type":"workflow_run","workflow_run_id":%q,"attempt":%d,"retry_pending":%t,"output":{"n":%d},"created_at":"2026-01-01T00:00:00","modified_at":"2026-01-01T00:05:00"}`,
		runID, status, runID, attempt, retryPending, attempt)
}

func post(client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-skyvern-signature", skyvern.Sign(body, testKey))
	req.Header.Set("x-skyvern-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// send posts every delivery, parallelism at a time, and returns the answer
// times; every answer must be 200.
func send(t *testing.T, url string, deliveries []delivery, parallelism int) []time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	times := make([]time.Duration, len(deliveries))
	errs := make([]error, len(deliveries))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(deliveries) {
					return
				}
				start := time.Now()
				code, err := post(client, url, deliveries[i].body)
				times[i] = time.Since(start)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("delivery %d answered %d", i, code)
				}
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	return times
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// tally records what the workers did, per event key.
type tally struct {
	mu        sync.Mutex
	attempts  map[string]int
	successes map[string]int
	interim   int
}

func newTally() *tally {
	return &tally{attempts: make(map[string]int), successes: make(map[string]int)}
}

func (tl *tally) done() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.successes)
}

// TestThousandDeliveriesProcessedOnce: 1,000 deliveries of 300 workflow
// runs (the final webhook of each, 1 to 3 copies of it as Skyvern's retries
// make, interim webhooks of retried attempts, and replays after processing)
// reach the handler; River's workers process each final event exactly once.
// Some events' first attempt panics and some errs: River retries them.
func TestThousandDeliveriesProcessedOnce(t *testing.T) {
	const (
		runs        = 300
		parallelism = 16
	)
	env := newRiverEnv(t)
	tl := newTally()
	process := func(ctx context.Context, p *skyvern.WebhookPayload) error {
		key := p.IdempotencyKey()
		tl.mu.Lock()
		tl.attempts[key]++
		attempt := tl.attempts[key]
		if !riverhook.Final(p) {
			tl.interim++
		}
		tl.mu.Unlock()
		n, _ := strconv.Atoi(p.RunID[len("wr_"):])
		switch {
		case n%40 == 0 && attempt == 1:
			panic("worker crashed mid-job")
		case n%40 == 1 && attempt == 1:
			return errors.New("downstream unavailable")
		}
		tl.mu.Lock()
		tl.successes[key]++
		tl.mu.Unlock()
		return nil
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, riverhook.NewWorker(process))
	rc := env.client(t, workers, nil)
	ctx := context.Background()
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Stop(sctx)
	})

	wh, err := skyvern.NewWebhook(testKey)
	require.NoError(t, err)
	srv := httptest.NewServer(riverhook.NewHandler(wh, rc))
	t.Cleanup(srv.Close)

	// Interim deliveries of retried attempts first, then the finals with
	// their duplicates, shuffled together as concurrent retries arrive.
	var first, replays []delivery
	finalStatus := func(i int) skyvern.RunStatus {
		if i%2 == 0 {
			return skyvern.RunStatusCompleted
		}
		return skyvern.RunStatusFailed
	}
	for i := range runs {
		id := fmt.Sprintf("wr_%04d", i)
		first = append(first, delivery{webhookBody(id, skyvern.RunStatusFailed, 1, true)})
		for range 1 + i%3 {
			first = append(first, delivery{webhookBody(id, finalStatus(i), 2, false)})
		}
		if i%3 == 0 {
			replays = append(replays, delivery{webhookBody(id, finalStatus(i), 2, false)})
		}
	}
	require.Len(t, first, 900)
	require.Len(t, replays, 100)
	// Interleave: deliveries of one run are spread across the whole send.
	mixed := make([]delivery, 0, len(first))
	for stride := range 7 {
		for j := stride; j < len(first); j += 7 {
			mixed = append(mixed, first[j])
		}
	}

	start := time.Now()
	times := send(t, srv.URL, mixed, parallelism)
	answered := time.Since(start)
	require.Eventually(t, func() bool { return tl.done() == runs }, 60*time.Second, 10*time.Millisecond,
		"events processed: %d of %d", tl.done(), runs)
	processed := time.Since(start)

	times = append(times, send(t, srv.URL, replays, parallelism)...)
	slices.Sort(times)
	t.Logf("%d deliveries (%d distinct final events): answered in %v, all processed %v after the first; %.0f events/s end to end",
		len(times), runs, answered.Round(time.Millisecond), processed.Round(time.Millisecond), float64(runs)/processed.Seconds())
	t.Logf("handler answer time: p50 %v, p95 %v, p99 %v, max %v",
		percentile(times, 0.50), percentile(times, 0.95), percentile(times, 0.99), times[len(times)-1])

	// Replays and duplicates inserted nothing, and nothing runs again.
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, runs, env.count(t, `kind = $1`, riverhook.EventKind), "one job per final event")
	assert.Equal(t, runs, env.count(t, `kind = $1 AND state = 'completed'`, riverhook.EventKind))
	tl.mu.Lock()
	defer tl.mu.Unlock()
	assert.Len(t, tl.successes, runs)
	for key, n := range tl.successes {
		assert.Equal(t, 1, n, "event %s processed %d times", key, n)
	}
	assert.Zero(t, tl.interim, "interim deliveries never reach the workers")
	crashed := 0
	for key, n := range tl.attempts {
		if n > 1 {
			crashed++
			assert.Equal(t, 2, n, key)
		}
	}
	assert.Equal(t, 2*((runs+39)/40), crashed, "each panicking or failing first attempt was retried once")
	assert.Equal(t, crashed, env.count(t, `kind = $1 AND attempt = 2`, riverhook.EventKind))
}

// TestStoppedWorkerRescued: a worker that dies mid-job leaves its job
// running in the table; another client rescues it after
// RescueStuckJobsAfter and processes it.
func TestStoppedWorkerRescued(t *testing.T) {
	env := newRiverEnv(t)
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	// The first client's worker hangs, ignoring its context, as a process
	// wedged or killed mid-job would: its job is never finished by it.
	hung := river.NewWorkers()
	river.AddWorker(hung, riverhook.NewWorker(func(context.Context, *skyvern.WebhookPayload) error {
		once.Do(func() { close(started) })
		<-release
		return errors.New("abandoned")
	}))
	first := env.client(t, hung, nil)
	require.NoError(t, first.Start(ctx))
	t.Cleanup(func() {
		// Let the hung worker go and the client finish before the schema
		// goes away.
		close(release)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = first.Stop(sctx)
	})

	wh, err := skyvern.NewWebhook(testKey)
	require.NoError(t, err)
	srv := httptest.NewServer(riverhook.NewHandler(wh, first))
	t.Cleanup(srv.Close)
	send(t, srv.URL, []delivery{{webhookBody("wr_rescue", skyvern.RunStatusCompleted, 1, false)}}, 1)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not start")
	}
	// The first client stops fetching; its hung job stays running.
	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = first.Stop(stopCtx)
	require.Equal(t, 1, env.count(t, `state = 'running'`))
	// Past the second client's rescue threshold before it starts, so its
	// rescuer's first pass finds the job stuck; later passes come only
	// every 30 s.
	time.Sleep(600 * time.Millisecond)

	var processed atomic.Int32
	good := river.NewWorkers()
	river.AddWorker(good, riverhook.NewWorker(func(_ context.Context, p *skyvern.WebhookPayload) error {
		assert.Equal(t, "wr_rescue", p.RunID)
		processed.Add(1)
		return nil
	}))
	second := env.client(t, good, func(c *river.Config) {
		c.RescueStuckJobsAfter = 500 * time.Millisecond
		c.JobTimeout = 200 * time.Millisecond
	})
	require.NoError(t, second.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = second.Stop(sctx)
	})
	require.Eventually(t, func() bool { return processed.Load() == 1 }, 60*time.Second, 20*time.Millisecond, "the stuck job was not rescued")
	require.Eventually(t, func() bool { return env.count(t, `state = 'completed'`) == 1 }, 10*time.Second, 10*time.Millisecond)
}

// TestDeadLetter: an event whose processing always fails ends discarded
// after its max attempts; a replay then inserts a fresh job.
func TestDeadLetter(t *testing.T) {
	env := newRiverEnv(t)
	ctx := context.Background()
	var attempts atomic.Int32
	workers := river.NewWorkers()
	river.AddWorker(workers, riverhook.NewWorker(func(context.Context, *skyvern.WebhookPayload) error {
		attempts.Add(1)
		return errors.New("always fails")
	}))
	rc := env.client(t, workers, nil)
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Stop(sctx)
	})
	wh, err := skyvern.NewWebhook(testKey)
	require.NoError(t, err)
	srv := httptest.NewServer(riverhook.NewHandler(wh, rc, riverhook.WithInsertOpts(&river.InsertOpts{MaxAttempts: 3})))
	t.Cleanup(srv.Close)
	body := webhookBody("wr_doomed", skyvern.RunStatusFailed, 1, false)
	send(t, srv.URL, []delivery{{body}}, 1)
	require.Eventually(t, func() bool { return env.count(t, `state = 'discarded'`) == 1 }, 30*time.Second, 10*time.Millisecond)
	assert.EqualValues(t, 3, attempts.Load())

	send(t, srv.URL, []delivery{{body}}, 1)
	assert.Equal(t, 2, env.count(t, `kind = $1`, riverhook.EventKind), "a replay of a dead-lettered event retries it")
}
