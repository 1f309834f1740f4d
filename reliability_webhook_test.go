package skyvern_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
// a share of calls and counts successes per event (by default (run_id,
// status); see withKey).
type flakyConsumer struct {
	mu        sync.Mutex
	rng       *rand.Rand
	failShare float64
	key       func(*skyvern.WebhookPayload) string
	calls     map[string]int
	failures  int
	successes map[string]int
}

func newFlakyConsumer(seed uint64, failShare float64) *flakyConsumer {
	return &flakyConsumer{
		rng: rand.New(rand.NewPCG(seed, 3)), failShare: failShare,
		key:   func(p *skyvern.WebhookPayload) string { return eventKey(p.RunID, p.Status) },
		calls: map[string]int{}, successes: map[string]int{},
	}
}

// withKey makes the consumer count events by key instead.
func (f *flakyConsumer) withKey(key func(*skyvern.WebhookPayload) string) *flakyConsumer {
	f.key = key
	return f
}

func eventKey(runID string, status skyvern.RunStatus) string { return runID + ":" + string(status) }

func (f *flakyConsumer) consume(_ context.Context, p *skyvern.WebhookPayload) error {
	key := f.key(p)
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
	skipUnderShort(t, "450 runs whose webhooks fail and are replayed")
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
	resendGot := resend(ctx, t, attackClient, receiver.URL, captured)

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

// resend posts captured genuine deliveries to url again, concurrently, as
// whoever captured them could, and returns the statuses they got.
func resend(ctx context.Context, t *testing.T, hc *http.Client, url string, captured []skyverntest.DeliveryAttempt) []int {
	got := make([]int, len(captured))
	var wg sync.WaitGroup
	for i, d := range captured {
		wg.Add(1)
		go func() {
			defer wg.Done()
			header := d.Header.Clone()
			header.Del("Content-Length")
			status, err := postWith(hc, d.Body, header, false)(ctx, url)
			if err != nil {
				t.Errorf("resend: %v", err)
			}
			got[i] = status
		}()
	}
	wg.Wait()
	return got
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

// attemptKey names an attempt's outcome independently of the SDK's own
// idempotency keys: the run, its status, the attempt and whether it is
// interim.
func attemptKey(p *skyvern.WebhookPayload) string {
	return fmt.Sprintf("%s:%s:%d:%t", p.RunID, p.Status, p.Attempt, p.RetryPending)
}

// retryPlan is one retried workflow run of the reliability test: the
// status of each attempt, which the fake reads back from the run's title.
type retryPlan struct {
	id       string
	mode     string // "every", "final" (final_only) or "revoke" (canceled while a retry is pending)
	statuses []skyvern.RunStatus
	replays  int
}

const planPrefix = "plan:"

func (p *retryPlan) title() string {
	parts := make([]string, len(p.statuses))
	for i, st := range p.statuses {
		parts[i] = string(st)
	}
	return planPrefix + strings.Join(parts, ",")
}

// planOutcome is the fake's outcome function: attempt n of a run ends with
// the n-th status of the plan in its title.
func planOutcome(run skyverntest.RunSnapshot, attempt int) skyverntest.Outcome {
	var req struct {
		Title string `json:"title"`
	}
	_ = json.Unmarshal(run.Request, &req)
	statuses := strings.Split(strings.TrimPrefix(req.Title, planPrefix), ",")
	st := skyvern.RunStatus(statuses[min(attempt, len(statuses))-1])
	return skyverntest.Outcome{Status: st, Output: map[string]any{"run": run.ID, "attempt": attempt}}
}

// final is the outcome the receiver must process once, and the interim
// outcomes its hook must see once each.
func (p *retryPlan) final() (key string, interims []string) {
	n := len(p.statuses)
	if p.mode == "revoke" {
		return attemptKey(&skyvern.WebhookPayload{RunID: p.id, Status: skyvern.RunStatusCanceled, Attempt: 1}),
			[]string{attemptKey(&skyvern.WebhookPayload{RunID: p.id, Status: p.statuses[0], Attempt: 1, RetryPending: true})}
	}
	if p.mode == "every" {
		for i, st := range p.statuses[:n-1] {
			interims = append(interims, attemptKey(&skyvern.WebhookPayload{RunID: p.id, Status: st, Attempt: i + 1, RetryPending: true}))
		}
	}
	return attemptKey(&skyvern.WebhookPayload{RunID: p.id, Status: p.statuses[n-1], Attempt: n}), interims
}

// TestReliabilityRetriedWorkflowWebhooks runs workflows with retry policies
// through a flaky receiver: interim and final deliveries, Skyvern's
// redeliveries within the larger workflow budget, replays refused while a
// retry is pending and replays after the end, cancellations that revoke a
// pending retry, and resent captures. Every final outcome must be processed
// exactly once by fn, every interim one exactly once by the interim hook,
// and fn must never see an interim delivery.
func TestReliabilityRetriedWorkflowWebhooks(t *testing.T) {
	skipUnderShort(t, "320 retried workflow runs and their webhooks")
	t.Parallel()
	const (
		runs           = 320
		workers        = 8
		failShare      = 0.2
		maxAttempts    = 4 // max_retries 3
		resends        = 200
		maxRescueTries = 50
	)
	rng := rand.New(rand.NewPCG(reliabilitySeed, 5))
	// Retry delays of 0 s pass at once; the revoke workflow's 10^8 s become
	// 1000 s: its retry stays pending until the test replays and cancels.
	srv := skyverntest.NewServer(skyverntest.WithDeliveryTimeScale(0), skyverntest.WithRetryDelayScale(1e-5),
		skyverntest.WithAutoAdvanceFunc(time.Millisecond, planOutcome))
	t.Cleanup(srv.Close)

	wh, err := skyvern.NewWebhook(srv.APIKey())
	require.NoError(t, err)
	finals := newFlakyConsumer(reliabilitySeed, failShare).withKey(attemptKey)
	interims := newFlakyConsumer(reliabilitySeed+1, failShare).withKey(attemptKey)
	handler := wh.Handler(finals.consume, skyvern.WithInterimHook(interims.consume))
	receiver := httptest.NewServer(handler)
	t.Cleanup(receiver.Close)

	client, err := skyvern.NewClient(srv.APIKey(), skyvern.WithBaseURL(srv.URL()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	retryOn := []skyvern.RetryRule{{Status: skyvern.RunStatusFailed}, {Status: skyvern.RunStatusTimedOut}}
	workflows := map[string]string{}
	for mode, p := range map[string]skyvern.RetryPolicy{
		"every":  {MaxRetries: maxAttempts - 1, WebhookOnRetry: skyvern.WebhookOnRetryEveryAttempt, RetryOn: retryOn},
		"final":  {MaxRetries: maxAttempts - 1, WebhookOnRetry: skyvern.WebhookOnRetryFinalOnly, RetryOn: retryOn},
		"revoke": {MaxRetries: maxAttempts - 1, DelaySeconds: 100_000_000, WebhookOnRetry: skyvern.WebhookOnRetryEveryAttempt, RetryOn: retryOn},
	} {
		wf, err := client.CreateWorkflow(ctx, &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{
			Title: "retry reliability " + mode, WebhookCallbackURL: receiver.URL,
			WorkflowDefinition: skyvern.WorkflowDefinitionBody{RetryPolicy: &p}}})
		require.NoError(t, err)
		workflows[mode] = wf.WorkflowPermanentID
	}
	retryable := []skyvern.RunStatus{skyvern.RunStatusFailed, skyvern.RunStatusTimedOut}
	ending := []skyvern.RunStatus{skyvern.RunStatusCompleted, skyvern.RunStatusCompleted, skyvern.RunStatusTerminated}
	plans := make([]*retryPlan, runs)
	for i := range plans {
		p := &retryPlan{mode: []string{"every", "every", "every", "final", "final", "revoke"}[i%6], replays: rng.IntN(4)}
		n := 1 + rng.IntN(maxAttempts)
		if p.mode == "revoke" {
			n = 2
		}
		for a := 1; a < n; a++ {
			p.statuses = append(p.statuses, retryable[rng.IntN(len(retryable))])
		}
		if n == maxAttempts {
			// Past the budget even a retryable status is final: often the
			// same status as the interim deliveries before it.
			p.statuses = append(p.statuses, append(ending, retryable...)[rng.IntN(len(ending)+len(retryable))])
		} else {
			p.statuses = append(p.statuses, ending[rng.IntN(len(ending))])
		}
		run, err := client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: workflows[p.mode], Title: p.title()})
		require.NoError(t, err)
		p.id = run.RunID
		plans[i] = p
	}

	var errs syncCounter
	var refusedWhilePending, replaysAfterEnd syncCounter
	jobs := make(chan *retryPlan)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if p.mode == "revoke" {
					snap, err := srv.WaitForStatus(ctx, p.id, p.statuses[0])
					if err != nil || !snap.RetryPending {
						errs.add(fmt.Sprintf("%s: no pending retry (%v)", p.id, err))
						continue
					}
					if _, err := client.RetryRunWebhook(ctx, p.id, nil); errors.Is(err, skyvern.ErrRunNotFinal) {
						refusedWhilePending.add("")
					} else {
						errs.add(fmt.Sprintf("%s: replay while pending: %v", p.id, err))
					}
					if err := client.CancelRun(ctx, p.id); err != nil {
						errs.add(fmt.Sprintf("%s: cancel: %v", p.id, err))
					}
				}
				if _, err := srv.WaitForFinal(ctx, p.id); err != nil {
					errs.add(fmt.Sprintf("%s: %v", p.id, err))
					continue
				}
				_, want := p.final()
				if _, err := srv.WaitForDeliveries(ctx, p.id, len(want)+1); err != nil {
					errs.add(fmt.Sprintf("%s: deliveries: %v", p.id, err))
					continue
				}
				for n := 0; n < p.replays; n++ {
					if _, err := client.RetryRunWebhook(ctx, p.id, nil); err != nil {
						errs.add(fmt.Sprintf("%s: replay: %v", p.id, err))
					}
					replaysAfterEnd.add("")
				}
			}
		}()
	}
	for _, p := range plans {
		jobs <- p
	}
	close(jobs)
	wg.Wait()

	// Outcomes whose deliveries all failed are replayed until processed, as
	// an operator would (a replay carries the final outcome only).
	_, successes, _ := finals.snapshot()
	rescued, rescueReplays := 0, 0
	for _, p := range plans {
		key, _ := p.final()
		needed := successes[key] == 0
		for try := 0; try < maxRescueTries && successes[key] == 0; try++ {
			_, err := client.RetryRunWebhook(ctx, p.id, nil)
			require.NoError(t, err)
			rescueReplays++
			_, successes, _ = finals.snapshot()
		}
		if needed && successes[key] > 0 {
			rescued++
		}
	}

	// Captured genuine deliveries, interim ones included, resent
	// concurrently, change nothing.
	captured := srv.Deliveries()
	rng.Shuffle(len(captured), func(i, j int) { captured[i], captured[j] = captured[j], captured[i] })
	captured = captured[:min(resends, len(captured))]
	finalCallsBefore, _, _ := finals.snapshot()
	interimCallsBefore, _, _ := interims.snapshot()
	resendClient := &http.Client{Transport: &http.Transport{}}
	defer resendClient.CloseIdleConnections()
	resendGot := resend(ctx, t, resendClient, receiver.URL, captured)

	// The figures.
	finalCalls, finalOK, finalFailures := finals.snapshot()
	interimCalls, interimOK, interimFailures := interims.snapshot()
	var bad violations
	for _, e := range errs.all() {
		bad.add("%s", e)
	}
	type figures struct{ events, once, lost, duplicated int }
	count := func(f *figures, ok map[string]int, key string) {
		f.events++
		switch n := ok[key]; {
		case n == 1:
			f.once++
		case n == 0:
			f.lost++
			bad.add("%s: never processed", key)
		default:
			f.duplicated++
			bad.add("%s: processed %d times", key, n)
		}
	}
	var fin, inter figures
	expected := map[string]bool{}
	modes := tally{}
	sameStatusFinals := 0
	for _, p := range plans {
		modes[p.mode]++
		key, want := p.final()
		expected[key] = true
		count(&fin, finalOK, key)
		for _, k := range want {
			expected[k] = true
			count(&inter, interimOK, k)
		}
		if n := len(p.statuses); p.mode == "every" && n > 1 && p.statuses[n-1] == p.statuses[n-2] {
			sameStatusFinals++
		}
	}
	for key := range finalCalls {
		if !expected[key] || strings.HasSuffix(key, ":true") {
			bad.add("%s: fn ran for an event that is not a final outcome", key)
		}
	}
	for key := range interimCalls {
		if !expected[key] || strings.HasSuffix(key, ":false") {
			bad.add("%s: the interim hook ran for an event that is not interim", key)
		}
	}
	for key, n := range finalCalls {
		if finalCallsBefore[key] != n {
			bad.add("%s: a resent capture ran fn again", key)
		}
	}
	for key, n := range interimCalls {
		if interimCallsBefore[key] != n {
			bad.add("%s: a resent capture ran the interim hook again", key)
		}
	}
	for i, status := range resendGot {
		if status != http.StatusOK {
			bad.add("resend %d (%s): got %d, want 200", i, captured[i].RunID, status)
		}
	}
	deliveries := srv.Deliveries()
	interimDeliveries, finalDeliveries, replays, redeliveries := 0, 0, 0, 0
	for _, d := range deliveries {
		switch {
		case d.Replay:
			replays++
		case d.Attempt > 1:
			redeliveries++
		case bytes.Contains(d.Body, []byte(`"retry_pending":true`)):
			interimDeliveries++
		default:
			finalDeliveries++
		}
	}
	assert.GreaterOrEqual(t, len(deliveries), 1000, "the test must deliver at least 1000 webhooks to count")
	bad.check(t, "retried workflow webhooks")
	t.Logf("reliability: retried workflow webhooks runs=%d modes%v deliveries=%d (interim=%d final=%d skyvern_redeliveries=%d replays=%d rescue=%d) "+
		"replays_refused_while_pending=%d replays_after_end=%d same_status_finals=%d "+
		"final_events=%d processed_once=%d lost=%d duplicated=%d fn_calls=%d fn_failures=%d "+
		"interim_events=%d interim_processed_once=%d interim_lost=%d interim_duplicated=%d hook_calls=%d hook_failures=%d "+
		"rescued_by_replay=%d captured_resends=%d violations=%d",
		len(plans), modes, len(deliveries), interimDeliveries, finalDeliveries, redeliveries, replays, rescueReplays,
		refusedWhilePending.n(), replaysAfterEnd.n(), sameStatusFinals,
		fin.events, fin.once, fin.lost, fin.duplicated, sumValues(finalCalls), finalFailures,
		inter.events, inter.once, inter.lost, inter.duplicated, sumValues(interimCalls), interimFailures,
		rescued, len(captured), len(bad))
}
