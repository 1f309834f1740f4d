package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// waitPath is how a sampled wait learns that its run ended.
type waitPath int

const (
	// viaWebhook waits with WaitWithHub while the run's webhook reaches a
	// handler made with WithRunHub. The poll interval is the default, so
	// the first poll after the one that saw the run unfinished is at least
	// 500 ms away: a faster answer can only come from the webhook.
	viaWebhook waitPath = iota
	// viaPolling waits with WaitForRun's default polling alone (1 s,
	// growing to 10 s); the run has no webhook.
	viaPolling
)

// waitSample is one measured wait.
type waitSample struct {
	latency time.Duration // from just before the run was finished to WaitForRun's return
	polls   int32         // GetRun calls the wait made
}

// sampleWait starts a run, lets WaitForRun begin (its first poll sees the
// run unfinished), finishes the run after delay and measures from just
// before the fake's Complete to WaitForRun's return. It reports failures as
// errors, since samples run on several goroutines.
func (f *hubFixture) sampleWait(ctx context.Context, path waitPath, delay time.Duration) (waitSample, error) {
	req := &skyvern.TaskRunRequest{Prompt: "Find the price"}
	onPoll, polls, first := pollSignal()
	opts := []skyvern.WaitOption{onPoll}
	if path == viaWebhook {
		req.WebhookURL = f.receiver.URL
		opts = append(opts, skyvern.WaitWithHub(f.hub))
	}
	run, err := f.client.RunTask(ctx, req)
	if err != nil {
		return waitSample{}, err
	}
	type result struct {
		run *skyvern.Run
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		got, err := f.client.WaitForRun(ctx, run.RunID, opts...)
		done <- result{got, err, time.Now()}
	}()
	select {
	case <-first:
	case r := <-done:
		return waitSample{}, fmt.Errorf("wait on %s ended before its first poll: %v", run.RunID, r.err)
	}
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return waitSample{}, ctx.Err()
		}
	}

	t0 := time.Now()
	if err := f.srv.Complete(run.RunID, map[string]any{"price": 29.0}); err != nil {
		return waitSample{}, err
	}
	r := <-done
	switch {
	case r.err != nil:
		return waitSample{}, r.err
	case r.run.RunID != run.RunID || r.run.Status != skyvern.RunStatusCompleted:
		return waitSample{}, fmt.Errorf("wait on %s returned run %s with status %q", run.RunID, r.run.RunID, r.run.Status)
	}
	return waitSample{latency: r.at.Sub(t0), polls: polls.Load()}, nil
}

// sampleWaits takes n samples, parallelism at a time, each run finishing a
// random delay in [0, maxDelay) after its wait began.
func sampleWaits(f *hubFixture, path waitPath, n, parallelism int, maxDelay time.Duration) ([]waitSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	samples := make([]waitSample, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i := range samples {
		var delay time.Duration
		if maxDelay > 0 {
			delay = rand.N(maxDelay)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			samples[i], errs[i] = f.sampleWait(ctx, path, delay)
		}()
	}
	wg.Wait()
	return samples, errors.Join(errs...)
}

// latencyStats summarises samples: the median, the 95th percentile (nearest
// rank) and how many waits made a single poll, the one that saw the run
// unfinished, so that something other than polling ended them.
type latencyStats struct {
	n          int
	p50, p95   time.Duration
	firstPolls int
}

func summarise(samples []waitSample) latencyStats {
	lat := make([]time.Duration, len(samples))
	st := latencyStats{n: len(samples)}
	for i, s := range samples {
		lat[i] = s.latency
		if s.polls == 1 {
			st.firstPolls++
		}
	}
	slices.Sort(lat)
	rank := func(p int) time.Duration { return lat[max((p*len(lat)+99)/100-1, 0)] }
	st.p50, st.p95 = rank(50), rank(95)
	return st
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s latencyStats) String() string {
	return fmt.Sprintf("p50 %.1f ms, p95 %.1f ms over %d samples", ms(s.p50), ms(s.p95), s.n)
}

func (s latencyStats) report(b *testing.B) {
	b.ReportMetric(0, "ns/op") // a sample's cost is not the point; its latency is
	b.ReportMetric(ms(s.p50), "ms/p50")
	b.ReportMetric(ms(s.p95), "ms/p95")
}

// Sample sizes of TestWaitLatencyReport and the benchmarks.
const (
	webhookSamples     = 200
	webhookParallelism = 16
	pollingSamples     = 16 // all at once: each takes one to a few seconds
	pollingMaxDelay    = 3 * time.Second
)

// TestWaitLatencyReport measures, on the fake, how long WaitForRun takes to
// return once a run has ended: through the webhook and the hub, and by
// polling alone. It reports the figures and asserts only that every wait
// returned the finished run.
func TestWaitLatencyReport(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes a few seconds of polling")
	}
	hubbed, polled := newHubFixture(t), newHubFixture(t)
	var (
		webhook, polling, late          []waitSample
		webhookErr, pollingErr, lateErr error
		wg                              sync.WaitGroup
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		// Runs that end seconds after their wait began, as real ones do:
		// with a hub, polling is only the fallback and should not go on.
		late, lateErr = sampleWaits(hubbed, viaWebhook, pollingSamples, pollingSamples, pollingMaxDelay)
	}()
	go func() {
		defer wg.Done()
		webhook, webhookErr = sampleWaits(hubbed, viaWebhook, webhookSamples, webhookParallelism, 0)
	}()
	go func() {
		defer wg.Done()
		polling, pollingErr = sampleWaits(polled, viaPolling, pollingSamples, pollingSamples, pollingMaxDelay)
	}()
	wg.Wait()
	require.NoError(t, webhookErr, "webhook path")
	require.NoError(t, pollingErr, "polling only")
	require.NoError(t, lateErr, "webhook path, runs ending later")
	viaHub, viaPolls := summarise(webhook), summarise(polling)
	t.Logf("time from a run ending to WaitForRun returning: webhook path (WithRunHub + WaitWithHub): %v, %d of them ended before a second poll; polling only (1 s growing to 10 s): %v",
		viaHub, viaHub.firstPolls, viaPolls)
	t.Logf("GetRun calls per wait for runs ending up to %v after the wait began: webhook path %.2f, polling only %.2f",
		pollingMaxDelay, meanPolls(late), meanPolls(polling))
}

// meanPolls is the mean number of GetRun calls per wait.
func meanPolls(samples []waitSample) float64 {
	var n int32
	for _, s := range samples {
		n += s.polls
	}
	return float64(n) / float64(max(len(samples), 1))
}

// BenchmarkWaitWebhookPath reports the median and 95th percentile time from
// a run ending to WaitForRun returning, when a handler made with WithRunHub
// receives the run's webhook and the wait uses WaitWithHub.
func BenchmarkWaitWebhookPath(b *testing.B) {
	f := newHubFixture(b)
	b.ResetTimer()
	samples, err := sampleWaits(f, viaWebhook, b.N, webhookParallelism, 0)
	require.NoError(b, err)
	summarise(samples).report(b)
}

// BenchmarkWaitPollingOnly reports the same figures for WaitForRun's
// default polling alone. Each iteration is a batch of concurrent runs that
// end at random moments within a few seconds of their waits beginning.
func BenchmarkWaitPollingOnly(b *testing.B) {
	f := newHubFixture(b)
	b.ResetTimer()
	samples, err := sampleWaits(f, viaPolling, pollingSamples*b.N, pollingSamples, pollingMaxDelay)
	require.NoError(b, err)
	summarise(samples).report(b)
}
