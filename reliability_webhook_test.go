package skyvern_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// errTransient is the failure the webhook consumer reports now and then, as
// a database that is briefly away would.
var errTransient = errors.New("transient failure")

// flakyConsumer is the user's function behind the webhook handler: it fails
// a share of calls and counts successes per (run_id, status).
type flakyConsumer struct {
	mu        sync.Mutex
	rng       *rand.Rand
	failShare float64
	calls     map[string]int
	failures  int
	successes map[string]int
}

func newFlakyConsumer(seed uint64, failShare float64) *flakyConsumer {
	return &flakyConsumer{
		rng: rand.New(rand.NewPCG(seed, 3)), failShare: failShare,
		calls: map[string]int{}, successes: map[string]int{},
	}
}

func eventKey(runID string, status skyvern.RunStatus) string { return runID + ":" + string(status) }

func (f *flakyConsumer) consume(_ context.Context, p *skyvern.WebhookPayload) error {
	key := eventKey(p.RunID, p.Status)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[key]++
	if f.rng.Float64() < f.failShare {
		f.failures++
		return errTransient
	}
	f.successes[key]++
	return nil
}

func (f *flakyConsumer) snapshot() (calls, successes map[string]int, failures int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls, successes = make(map[string]int, len(f.calls)), make(map[string]int, len(f.successes))
	for k, v := range f.calls {
		calls[k] = v
	}
	for k, v := range f.successes {
		successes[k] = v
	}
	return calls, successes, f.failures
}

// attack is a request sent straight to the handler, and the status it must
// get.
type attack struct {
	kind string
	want int
	// send returns the status received, or 0 and an error.
	send func(ctx context.Context, url string) (int, error)
}

func postWith(hc *http.Client, body []byte, header http.Header, chunked bool) func(context.Context, string) (int, error) {
	return func(ctx context.Context, url string) (int, error) {
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
		if err != nil {
			return 0, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
}

func signed(body []byte, key string) http.Header {
	return http.Header{
		"Content-Type":          {"application/json"},
		skyvern.SignatureHeader: {skyvern.Sign(body, key)},
		skyvern.TimestampHeader: {strconv.FormatInt(time.Now().Unix(), 10)},
	}
}

// sendShortBody declares a Content-Length, sends half of the body and
// half-closes the connection, as a client that dies mid-upload.
func sendShortBody(body []byte, key string) func(context.Context, string) (int, error) {
	return func(ctx context.Context, url string) (int, error) {
		addr := strings.TrimPrefix(url, "http://")
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s\r\n\r\n",
			addr, len(body), skyvern.SignatureHeader, skyvern.Sign(body, key))
		if _, err := io.WriteString(conn, head); err != nil {
			return 0, err
		}
		if _, err := conn.Write(body[:len(body)/2]); err != nil {
			return 0, err
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
}

// attacks builds n requests of every hostile kind. Forged ones name runs
// that do not exist, so that one slipping through shows up as an event no
// run produced.
func attacks(hc *http.Client, key string, maxBody int, n int) []attack {
	var out []attack
	for i := 0; i < n; i++ {
		runID := fmt.Sprintf("tsk_attack_%d", i)
		body := []byte(fmt.Sprintf(`{"run_id":%q,"status":"completed","output":{"amount":"1000000"},"run_type":"task_v1","created_at":"2026-01-31T15:20:42","modified_at":"2026-01-31T15:20:42"}`, runID))
		other := []byte(fmt.Sprintf(`{"run_id":%q,"status":"failed"}`, runID))
		big := []byte(fmt.Sprintf(`{"run_id":%q,"status":"completed","output":%q}`, runID, strings.Repeat("x", maxBody)))
		withSig := func(sig string) http.Header {
			return http.Header{"Content-Type": {"application/json"}, skyvern.SignatureHeader: {sig}}
		}
		out = append(out,
			attack{"forged_random_signature", http.StatusUnauthorized, postWith(hc, body, withSig(strings.Repeat("0123456789abcdef", 4)), false)},
			attack{"forged_signature_of_other_body", http.StatusUnauthorized, postWith(hc, body, signed(other, key), false)},
			attack{"forged_empty_key_signature", http.StatusUnauthorized, postWith(hc, body, withSig(skyvern.Sign(body, "")), false)},
			attack{"forged_other_key", http.StatusUnauthorized, postWith(hc, body, signed(body, "sk_attacker_key"), false)},
			attack{"forged_no_signature", http.StatusUnauthorized, postWith(hc, body, http.Header{"Content-Type": {"application/json"}}, false)},
			attack{"forged_malformed_signature", http.StatusUnauthorized, postWith(hc, body, withSig("sha256="+strings.Repeat("z", 64)), false)},
			attack{"truncated_after_signing", http.StatusUnauthorized, postWith(hc, body[:len(body)/2], signed(body, key), false)},
			attack{"short_body_then_eof", http.StatusServiceUnavailable, sendShortBody(body, key)},
			attack{"oversized", http.StatusRequestEntityTooLarge, postWith(hc, big, signed(big, key), false)},
			attack{"oversized_chunked", http.StatusRequestEntityTooLarge, postWith(hc, big, signed(big, key), true)},
			attack{"malformed_not_json", http.StatusBadRequest, postWith(hc, []byte("run finished, all good"), signed([]byte("run finished, all good"), key), false)},
			attack{"malformed_cut_json", http.StatusBadRequest, postWith(hc, body[:40], signed(body[:40], key), false)},
			attack{"malformed_array", http.StatusBadRequest, postWith(hc, []byte(`[1,2,3]`), signed([]byte(`[1,2,3]`), key), false)},
		)
		for _, wrong := range []string{
			fmt.Sprintf(`{"run_id":%q,"status":42}`, runID),
			fmt.Sprintf(`{"run_id":[%q],"status":"completed"}`, runID),
			fmt.Sprintf(`{"run_id":%q,"status":"completed","created_at":"yesterday"}`, runID),
			fmt.Sprintf(`{"run_id":%q,"status":"completed","step_count":"three"}`, runID),
		} {
			out = append(out, attack{"malformed_wrong_types", http.StatusBadRequest, postWith(hc, []byte(wrong), signed([]byte(wrong), key), false)})
		}
	}
	return out
}

// webhookRun is one run of the webhook test and how it ends.
type webhookRun struct {
	id     string
	status skyvern.RunStatus
	// replays is how many retry_webhook calls the test makes; concurrent
	// says whether the first goes out while the original delivery runs.
	replays    int
	concurrent bool
}

func TestReliabilityWebhooks(t *testing.T) {
	t.Parallel()
	const (
		runs           = 450
		workers        = 8
		failShare      = 0.2
		maxBody        = 64 << 10
		attackRounds   = 20
		resends        = 200
		maxRescueTries = 50
	)
	rng := rand.New(rand.NewPCG(reliabilitySeed, 4))
	srv := skyverntest.NewServer(skyverntest.WithDeliveryTimeScale(0))
	t.Cleanup(srv.Close)

	wh, err := skyvern.NewWebhook(srv.APIKey())
	require.NoError(t, err)
	consumer := newFlakyConsumer(reliabilitySeed, failShare)
	handler := wh.Handler(consumer.consume, skyvern.WithMaxBodyBytes(maxBody))
	var panics syncCounter
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				panics.add(fmt.Sprintf("handler panic: %v", v))
				panic(http.ErrAbortHandler)
			}
		}()
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(receiver.Close)

	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Runs of three kinds: tasks, workflow runs on the workflow's webhook,
	// workflow runs with their own webhook_url.
	wf, err := client.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
		Title: "webhook reliability", WebhookCallbackURL: receiver.URL + "/workflow-default"}})
	require.NoError(t, err)
	statuses := []skyvern.RunStatus{skyvern.RunStatusCompleted, skyvern.RunStatusCompleted, skyvern.RunStatusFailed,
		skyvern.RunStatusTimedOut, skyvern.RunStatusTerminated, skyvern.RunStatusCanceled}
	plan := make([]*webhookRun, runs)
	for i := range plan {
		var run *skyvern.Run
		switch i % 3 {
		case 0:
			run, err = client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: fmt.Sprintf("webhook %d", i), WebhookURL: receiver.URL + "/task"})
		case 1:
			run, err = client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID})
		default:
			run, err = client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wf.WorkflowPermanentID, WebhookURL: receiver.URL + "/override"})
		}
		require.NoError(t, err)
		r := &webhookRun{id: run.RunID, status: statuses[rng.IntN(len(statuses))]}
		switch x := rng.Float64(); {
		case x < 0.3:
		case x < 0.6:
			r.replays = 1
		case x < 0.85:
			r.replays = 2
		default:
			r.replays = 3
		}
		r.concurrent = r.replays > 0 && rng.IntN(2) == 0
		plan[i] = r
	}
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })

	// Attacks run alongside the genuine traffic.
	attackClient := &http.Client{Transport: &http.Transport{}}
	defer attackClient.CloseIdleConnections()
	hostile := attacks(attackClient, srv.APIKey(), maxBody, attackRounds)
	rng.Shuffle(len(hostile), func(i, j int) { hostile[i], hostile[j] = hostile[j], hostile[i] })
	attackGot := make([]int, len(hostile))
	attackErrs := make([]error, len(hostile))
	var attackWG sync.WaitGroup
	attackJobs := make(chan int)
	for w := 0; w < workers/2; w++ {
		attackWG.Add(1)
		go func() {
			defer attackWG.Done()
			for i := range attackJobs {
				actx, cancel := context.WithTimeout(ctx, 30*time.Second)
				attackGot[i], attackErrs[i] = hostile[i].send(actx, receiver.URL)
				cancel()
			}
		}()
	}
	go func() {
		defer close(attackJobs)
		for i := range hostile {
			attackJobs <- i
		}
	}()

	// Finish the runs in random order from several goroutines; replay some
	// webhooks while the original is still being delivered.
	var replayErrs, concurrentReplays syncCounter
	jobs := make(chan *webhookRun)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				if err := srv.Finish(r.id, skyverntest.Outcome{Status: r.status, Output: map[string]any{"run": r.id}}); err != nil {
					replayErrs.add(fmt.Sprintf("finish %s: %v", r.id, err))
					continue
				}
				for n := 0; n < r.replays; n++ {
					if n == 0 && !r.concurrent {
						if _, err := srv.WaitForDelivery(ctx, r.id); err != nil {
							replayErrs.add(fmt.Sprintf("wait %s: %v", r.id, err))
						}
					}
					if n == 0 && r.concurrent {
						concurrentReplays.add("")
					}
					if _, err := client.RetryRunWebhook(ctx, r.id, nil); err != nil {
						replayErrs.add(fmt.Sprintf("replay %s: %v", r.id, err))
					}
				}
			}
		}()
	}
	for _, r := range plan {
		jobs <- r
	}
	close(jobs)
	wg.Wait()
	attackWG.Wait()
	for _, r := range plan {
		_, err := srv.WaitForDelivery(ctx, r.id)
		require.NoError(t, err)
	}

	// Events that Skyvern's three attempts and the replays did not get
	// through are replayed until processed, as an operator would.
	_, successes, _ := consumer.snapshot()
	lostAfterRetries, rescued, rescueReplays := 0, 0, 0
	for _, d := range srv.Webhooks() {
		if d.FailureReason != "" {
			lostAfterRetries++
		}
	}
	answered := map[string]tally{}
	for _, d := range srv.Deliveries() {
		if answered[d.RunID] == nil {
			answered[d.RunID] = tally{}
		}
		answered[d.RunID][strconv.Itoa(d.StatusCode)]++
	}
	var unprocessed violations
	for _, r := range plan {
		key := eventKey(r.id, r.status)
		if successes[key] > 0 {
			continue
		}
		// Only an event whose every delivery was told to come back may
		// still be unprocessed; a 200 for it would have lost it.
		if answered[r.id]["200"] > 0 {
			unprocessed.add("%s: answered %v, never processed", key, answered[r.id])
		}
		for try := 0; try < maxRescueTries && successes[key] == 0; try++ {
			_, err := client.RetryRunWebhook(ctx, r.id, nil)
			require.NoError(t, err)
			rescueReplays++
			_, successes, _ = consumer.snapshot()
		}
		if successes[key] > 0 {
			rescued++
		}
	}

	// Resend captured genuine deliveries, shuffled and concurrently: a
	// replay by whoever captured them must change nothing.
	captured := srv.Deliveries()
	rng.Shuffle(len(captured), func(i, j int) { captured[i], captured[j] = captured[j], captured[i] })
	captured = captured[:min(resends, len(captured))]
	callsBefore, _, _ := consumer.snapshot()
	resendGot := make([]int, len(captured))
	var resendWG sync.WaitGroup
	for i, d := range captured {
		resendWG.Add(1)
		go func() {
			defer resendWG.Done()
			header := d.Header.Clone()
			header.Del("Content-Length")
			status, err := postWith(attackClient, d.Body, header, false)(ctx, receiver.URL)
			if err != nil {
				t.Errorf("resend: %v", err)
			}
			resendGot[i] = status
		}()
	}
	resendWG.Wait()

	// The figures.
	calls, successes, failures := consumer.snapshot()
	var bad violations
	genuine := map[string]bool{}
	finalStatuses := tally{}
	processedOnce, lost, duplicated := 0, 0, 0
	for _, r := range plan {
		key := eventKey(r.id, r.status)
		genuine[key] = true
		finalStatuses[string(r.status)]++
		switch n := successes[key]; {
		case n == 1:
			processedOnce++
		case n == 0:
			lost++
			bad.add("%s: never processed", key)
		default:
			duplicated++
			bad.add("%s: processed %d times", key, n)
		}
	}
	for key, n := range calls {
		if !genuine[key] {
			bad.add("%s: the consumer ran %d times for an event no run produced", key, n)
		}
	}
	for key, n := range calls {
		if callsBefore[key] != n {
			bad.add("%s: a resent capture ran the consumer again", key)
		}
	}
	for i, status := range resendGot {
		if status != http.StatusOK {
			bad.add("resend %d (%s): got %d, want 200", i, captured[i].RunID, status)
		}
	}
	rejected := tally{}
	for i, a := range hostile {
		if attackErrs[i] != nil || attackGot[i] != a.want {
			bad.add("attack %s: got %d (%v), want %d", a.kind, attackGot[i], attackErrs[i], a.want)
			continue
		}
		rejected[strconv.Itoa(a.want)]++
	}
	attackKinds := tally{}
	for _, a := range hostile {
		attackKinds[a.kind]++
	}
	bad = append(bad, unprocessed...)
	for _, e := range replayErrs.all() {
		bad.add("%s", e)
	}
	for _, p := range panics.all() {
		bad.add("%s", p)
	}

	deliveries := srv.Deliveries()
	answers := tally{}
	originals, retries, replays := 0, 0, 0
	// A replay overlaps the original delivery when it starts between the
	// original's first attempt and the end of its last.
	origStart, origEnd := map[string]time.Time{}, map[string]time.Time{}
	for _, d := range deliveries {
		if d.Replay {
			continue
		}
		if start, ok := origStart[d.RunID]; !ok || d.Time.Before(start) {
			origStart[d.RunID] = d.Time
		}
		if end := d.Time.Add(d.Duration); end.After(origEnd[d.RunID]) {
			origEnd[d.RunID] = end
		}
	}
	overlapping := 0
	for _, d := range deliveries {
		if d.Replay && !d.Time.Before(origStart[d.RunID]) && !d.Time.After(origEnd[d.RunID]) {
			overlapping++
		}
	}
	for _, d := range deliveries {
		answers[strconv.Itoa(d.StatusCode)]++
		switch {
		case d.Replay:
			replays++
		case d.Attempt == 1:
			originals++
		default:
			retries++
		}
	}
	assert.GreaterOrEqual(t, len(deliveries), 1000, "the test must deliver at least 1000 webhooks to count")
	bad.check(t, "webhooks")
	t.Logf("reliability: webhooks runs=%d statuses%v deliveries=%d (original=%d skyvern_retries=%d replays=%d of which sent_without_waiting=%d overlapping_original=%d rescue=%d) "+
		"receiver_answers%v consumer_calls=%d consumer_failures=%d events=%d processed_once=%d lost=%d duplicated=%d "+
		"lost_after_3_attempts=%d rescued_by_replay=%d captured_resends=%d attacks=%d kinds%v rejected%v attack_mismatches=%d panics=%d violations=%d",
		len(plan), finalStatuses, len(deliveries), originals, retries, replays, concurrentReplays.n(), overlapping, rescueReplays,
		answers, sumValues(calls), failures, len(genuine), processedOnce, lost, duplicated,
		lostAfterRetries, rescued, len(captured), len(hostile), attackKinds, rejected, len(hostile)-sumValues(rejected), panics.n(), len(bad))
}

func sumValues[M ~map[string]int](m M) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// syncCounter counts events from several goroutines and keeps messages.
type syncCounter struct {
	mu   sync.Mutex
	msgs []string
	cnt  int
}

func (c *syncCounter) add(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cnt++
	if msg != "" {
		c.msgs = append(c.msgs, msg)
	}
}

func (c *syncCounter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cnt
}

func (c *syncCounter) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}
