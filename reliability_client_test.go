package skyvern_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// Operations of the client reliability test.
const (
	opRunTask        = "run_task"
	opRunWorkflow    = "run_workflow"
	opGetRun         = "get_run"
	opCreateWorkflow = "create_workflow"
	opCancelRun      = "cancel_run"
)

// callMix is the order in which operations repeat over the calls: per ten
// calls, three tasks, two workflow runs, two reads, two workflow creates and
// one cancel.
func callMix() []string {
	return []string{opRunTask, opRunWorkflow, opGetRun, opRunTask, opCreateWorkflow,
		opCancelRun, opRunTask, opGetRun, opRunWorkflow, opCreateWorkflow}
}

// startsWork reports whether an operation is sent at most once unless the
// server provably did nothing.
func startsWork(op string) bool {
	return op == opRunTask || op == opRunWorkflow || op == opCancelRun
}

// clientCall is one planned call and what came of it.
type clientCall struct {
	id     string
	op     string
	key    string // unique prompt, run title or workflow title
	target string // workflow to run, or run to read or cancel
	err    error
	kind   string
	runID  string
	wpid   string
}

func (c *clientCall) perform(ctx context.Context, client *skyvern.Client) {
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, callIDKey{}, c.id), 30*time.Second)
	defer cancel()
	tag := skyvern.WithHeader(callIDHeader, c.id)
	var err error
	switch c.op {
	case opRunTask:
		var run *skyvern.Run
		if run, err = client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: c.key}, tag); err == nil {
			c.runID = run.RunID
		}
	case opRunWorkflow:
		var run *skyvern.Run
		if run, err = client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: c.target, Title: c.key}, tag); err == nil {
			c.runID = run.RunID
		}
	case opGetRun:
		var run *skyvern.Run
		if run, err = client.GetRun(ctx, c.target, tag); err == nil {
			c.runID = run.RunID
		}
	case opCreateWorkflow:
		var wf *skyvern.Workflow
		if wf, err = client.CreateWorkflow(ctx, workflowTitled(c.key), tag); err == nil {
			c.wpid = wf.WorkflowPermanentID
		}
	case opCancelRun:
		err = client.CancelRun(ctx, c.target, tag)
	}
	c.err, c.kind = err, classify(err)
}

func workflowTitled(title string) *skyvern.WorkflowRequest {
	return &skyvern.WorkflowRequest{JSONDefinition: &skyvern.WorkflowDefinition{Title: title}}
}

// runKey is the prompt (task runs) or title (workflow runs) that created a
// run, which the test makes unique per call.
func runKey(t *testing.T, r skyverntest.RunSnapshot) string {
	t.Helper()
	var body struct {
		Prompt string `json:"prompt"`
		Title  string `json:"title"`
	}
	require.NoError(t, json.Unmarshal(r.Request, &body))
	if r.Type == skyvern.RunTypeWorkflowRun {
		return body.Title
	}
	return body.Prompt
}

// violations collects broken guarantees, so that one bad call among a
// thousand is reported with its id instead of drowning in assertions.
type violations []string

func (v *violations) add(format string, args ...any) { *v = append(*v, fmt.Sprintf(format, args...)) }

func (v violations) check(t *testing.T, what string) {
	t.Helper()
	shown := v
	if len(shown) > 20 {
		shown = shown[:20]
	}
	assert.Empty(t, v, "%s: %d violations, first ones:\n%s", what, len(v), strings.Join(shown, "\n"))
}

func TestReliabilityClientUnderFaults(t *testing.T) {
	skipUnderShort(t, "1,200 client calls against a faulty server")
	// Not parallel: goleak must see only this test's goroutines.
	leakOpt := goleak.IgnoreCurrent()
	const (
		calls       = 1200
		workers     = 8
		faultShare  = 0.4  // of the requests that reach the server
		refuseShare = 0.08 // of the dials
		waits       = 6
		getTargets  = 20
		workflows   = 4
	)
	srv := skyverntest.NewServer()
	closeServer := sync.OnceFunc(srv.Close)
	t.Cleanup(closeServer)
	dialer := newFlakyDialer(reliabilitySeed, refuseShare)
	// No keep-alives: every attempt dials, so refusals hit every kind of call.
	tr := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}
	recorder := newAttemptRecorder(tr)
	client, err := skyvern.NewClient(srv.APIKey(),
		skyvern.WithBaseURL(srv.URL()),
		skyvern.WithHTTPClient(&http.Client{Transport: recorder}),
		skyvern.WithRequestTimeout(attemptTimeout),
		skyvern.WithRetryWait(time.Millisecond, 5*time.Millisecond),
		skyvern.WithMaxRetryAfter(500*time.Millisecond))
	require.NoError(t, err)
	ctx := context.Background()

	// Fault-free setup: workflows to run, and runs to read, cancel and wait
	// for. Setup and the checks after the load must not fail on a stall of
	// the machine, so they get a generous attempt timeout.
	patient := skyvern.WithRequestTimeout(10 * time.Second)
	newRuns := func(prefix string, n int) []string {
		ids := make([]string, n)
		for i := range ids {
			run, err := client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: fmt.Sprintf("setup %s %d", prefix, i)}, patient)
			require.NoError(t, err)
			ids[i] = run.RunID
		}
		return ids
	}
	workflowIDs := make([]string, workflows)
	for i := range workflowIDs {
		wf, err := client.CreateWorkflow(ctx, workflowTitled(fmt.Sprintf("setup workflow %d", i)), patient)
		require.NoError(t, err)
		workflowIDs[i] = wf.WorkflowPermanentID
	}
	mix := callMix()
	plan := make([]*clientCall, calls)
	cancels := 0
	for i := range plan {
		c := &clientCall{id: fmt.Sprintf("c%04d", i), op: mix[i%len(mix)]}
		c.key = "reliability " + c.id
		if c.op == opCancelRun {
			cancels++
		}
		plan[i] = c
	}
	readable := newRuns("get", getTargets)
	cancelable := newRuns("cancel", cancels)
	waitable := newRuns("wait", waits)
	for i, c := range plan {
		switch c.op {
		case opRunWorkflow:
			c.target = workflowIDs[i%len(workflowIDs)]
		case opGetRun:
			c.target = readable[i%len(readable)]
		case opCancelRun:
			c.target, cancelable = cancelable[0], cancelable[1:]
		}
	}

	srv.SetFaultPolicy(faultPolicy(reliabilitySeed, faultShare))
	dialer.arm(true)

	// WaitForRun alongside the load: half end with their run, half by ctx.
	waitErrs := make([]error, waits)
	waitRuns := make([]*skyvern.Run, waits)
	var waitWG sync.WaitGroup
	for i, id := range waitable {
		waitWG.Add(1)
		go func() {
			defer waitWG.Done()
			bound := 30 * time.Second
			if i%2 == 1 {
				bound = 300 * time.Millisecond
			}
			wctx, cancel := context.WithTimeout(ctx, bound)
			defer cancel()
			waitRuns[i], waitErrs[i] = client.WaitForRun(wctx, id,
				skyvern.WithPollInterval(10*time.Millisecond, 50*time.Millisecond),
				skyvern.WithPollRequestOptions(skyvern.WithHeader(callIDHeader, fmt.Sprintf("wait%d", i))))
		}()
	}

	jobs := make(chan *clientCall)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				c.perform(ctx, client)
			}
		}()
	}
	for _, c := range plan {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	for i, id := range waitable {
		if i%2 == 0 {
			require.NoError(t, srv.Complete(id, map[string]any{"wait": i}))
		}
	}
	waitWG.Wait()
	srv.SetFaultPolicy(nil)
	dialer.arm(false)

	// An unknown create is safe to send again with its key.
	before := map[string][]skyverntest.WorkflowSnapshot{}
	for _, wf := range srv.Workflows() {
		before[wf.Title] = append(before[wf.Title], wf)
	}
	var bad violations
	retriedSame, retriedCreated := 0, 0
	for _, c := range plan {
		var unknown *skyvern.OutcomeUnknownError
		if c.op != opCreateWorkflow || !errors.As(c.err, &unknown) {
			continue
		}
		if unknown.IdempotencyKey == "" {
			bad.add("%s: unknown create without an idempotency key: %v", c.id, c.err)
			continue
		}
		req := workflowTitled(c.key)
		req.IdempotencyKey = unknown.IdempotencyKey
		wf, err := client.CreateWorkflow(ctx, req, skyvern.WithHeader(callIDHeader, c.id+"-retry"), patient)
		if err != nil {
			bad.add("%s: retry with the key failed: %v", c.id, err)
			continue
		}
		switch prior := before[c.key]; {
		case len(prior) == 0:
			retriedCreated++
		case prior[0].WorkflowPermanentID == wf.WorkflowPermanentID:
			retriedSame++
		default:
			bad.add("%s: retry returned %s, the lost attempt created %s", c.id, wf.WorkflowPermanentID, prior[0].WorkflowPermanentID)
		}
		c.wpid = wf.WorkflowPermanentID
	}

	// Close everything, so in-flight handlers are done before the snapshots.
	tr.CloseIdleConnections()
	closeServer()
	dials, refused := dialer.counts()
	runsByKey := map[string][]skyverntest.RunSnapshot{}
	runByID := map[string]skyverntest.RunSnapshot{}
	for _, r := range srv.Runs() {
		runsByKey[runKey(t, r)] = append(runsByKey[runKey(t, r)], r)
		runByID[r.ID] = r
	}
	workflowsByTitle := map[string][]skyverntest.WorkflowSnapshot{}
	for _, wf := range srv.Workflows() {
		workflowsByTitle[wf.Title] = append(workflowsByTitle[wf.Title], wf)
	}
	attemptsByCall := map[string][]skyverntest.Request{}
	faults := tally{}
	serverAttempts, waitPolls := 0, 0
	for _, r := range srv.Requests() {
		id := r.Header.Get(callIDHeader)
		switch {
		case id == "":
			continue // setup
		case strings.HasPrefix(id, "wait"):
			waitPolls++
		default:
			serverAttempts++
		}
		attemptsByCall[id] = append(attemptsByCall[id], r)
		faults[faultName(r.Fault)]++
	}

	kinds, byOp := tally{}, tally{}
	var (
		okRunCalls, okWithOneRun, unknownCreated, unknownNotCreated, definitive, definitiveWithEffect int
		duplicates, unknownWithoutAmbiguity, unknownServerSaw429Only                                  int
	)
	planned := map[string]bool{}
	for _, c := range plan {
		planned[c.key] = true
		kinds[c.kind]++
		byOp[c.op]++
		attempts := attemptsByCall[c.id]
		mayHaveActed := 0 // attempts that reached the server and were not refused
		for _, a := range attempts {
			if !refusedOnly(a) {
				mayHaveActed++
			}
		}
		if c.kind == outcomeUntyped {
			bad.add("%s %s: untyped error %T: %v", c.id, c.op, c.err, c.err)
		}
		if c.kind != outcomeOK && c.kind != outcomeUnknown {
			definitive++
		}
		if c.kind == outcomeUnknown && recorder.refusedEveryTime(c.id) {
			unknownWithoutAmbiguity++
			bad.add("%s %s: outcome unknown, but the client saw only refusals and 429s (%d reached the server, refused dials %d)",
				c.id, c.op, len(attempts), refused[c.id])
		}
		if c.kind == outcomeUnknown && mayHaveActed == 0 {
			// Possible only when a 429 reached the client after its
			// attempt had timed out; counted, not forbidden.
			unknownServerSaw429Only++
		}
		if startsWork(c.op) {
			if mayHaveActed > 1 {
				bad.add("%s %s: sent again after an attempt that may have acted: %d such attempts", c.id, c.op, mayHaveActed)
			}
			if c.kind != outcomeOK && c.kind != outcomeUnknown {
				var apiErr *skyvern.APIError
				is429 := errors.As(c.err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests
				if !is429 && c.kind != outcomeRefused {
					bad.add("%s %s: definitive error that is neither a 429 nor a refused dial: %v", c.id, c.op, c.err)
				}
				if mayHaveActed > 0 {
					bad.add("%s %s: definitive error after an attempt that may have acted: %v", c.id, c.op, c.err)
				}
			}
		}

		switch c.op {
		case opRunTask, opRunWorkflow:
			created := runsByKey[c.key]
			if len(created) > 1 {
				duplicates++
				bad.add("%s %s: %d runs for one call", c.id, c.op, len(created))
			}
			switch c.kind {
			case outcomeOK:
				okRunCalls++
				if len(created) == 1 && created[0].ID == c.runID {
					okWithOneRun++
				} else {
					bad.add("%s %s: succeeded with %s but the server has %d runs for it", c.id, c.op, c.runID, len(created))
				}
			case outcomeUnknown:
				if len(created) > 0 {
					unknownCreated++
				} else {
					unknownNotCreated++
				}
			default:
				if len(created) > 0 {
					definitiveWithEffect++
					bad.add("%s %s: definitive error %v, yet the server created %s", c.id, c.op, c.err, created[0].ID)
				}
			}
		case opCancelRun:
			canceled := runByID[c.target].Status == skyvern.RunStatusCanceled
			switch c.kind {
			case outcomeOK:
				if !canceled {
					bad.add("%s: cancel succeeded but %s is %s", c.id, c.target, runByID[c.target].Status)
				}
			case outcomeUnknown:
			default:
				if canceled {
					definitiveWithEffect++
					bad.add("%s: definitive error %v, yet %s was canceled", c.id, c.err, c.target)
				}
			}
		case opGetRun:
			if c.kind == outcomeUnknown {
				bad.add("%s: a read reported an unknown outcome: %v", c.id, c.err)
			}
			if c.kind == outcomeOK && c.runID != c.target {
				bad.add("%s: read %s, got %s", c.id, c.target, c.runID)
			}
		case opCreateWorkflow:
			keys := map[string]bool{}
			for _, a := range attempts {
				keys[a.Header.Get("Idempotency-Key")] = true
			}
			if len(keys) > 1 || keys[""] {
				bad.add("%s: attempts carried keys %v, want one", c.id, keys)
			}
			created := workflowsByTitle[c.key]
			if len(created) > 1 {
				duplicates++
				bad.add("%s: %d workflows for one call", c.id, len(created))
			}
			switch c.kind {
			case outcomeOK, outcomeUnknown: // unknown ones were retried above
				if len(created) != 1 || created[0].WorkflowPermanentID != c.wpid {
					bad.add("%s: got workflow %q, the server has %d for it", c.id, c.wpid, len(created))
				} else if !keys[created[0].IdempotencyKey] {
					bad.add("%s: the workflow was created under key %q, the call sent %v", c.id, created[0].IdempotencyKey, keys)
				}
			default:
				if len(created) > 0 {
					definitiveWithEffect++
					bad.add("%s: definitive error %v, yet workflow %s exists", c.id, c.err, created[0].WorkflowPermanentID)
				}
			}
		}
	}
	runsCreated := 0
	for key, rs := range runsByKey {
		switch {
		case planned[key]:
			runsCreated += len(rs)
		case !strings.HasPrefix(key, "setup "):
			bad.add("run %s has a prompt or title no call used: %q", rs[0].ID, key)
		}
	}

	waitsDone, waitsByCtx := 0, 0
	for i := range waitable {
		if i%2 == 0 {
			if assert.NoError(t, waitErrs[i], "wait %d", i) {
				assert.Equal(t, skyvern.RunStatusCompleted, waitRuns[i].Status)
				waitsDone++
			}
			continue
		}
		var waitErr *skyvern.WaitError
		if assert.ErrorAs(t, waitErrs[i], &waitErr, "wait %d", i) && assert.ErrorIs(t, waitErrs[i], context.DeadlineExceeded) {
			waitsByCtx++
		}
	}

	bad.check(t, "client under faults")
	leakErr := goleak.Find(leakOpt)
	assert.NoError(t, leakErr, "goroutines left behind")
	leaks := 0
	if leakErr != nil {
		leaks = strings.Count(leakErr.Error(), "[Goroutine ")
	}
	totalRefused := 0
	for _, n := range refused {
		totalRefused += n
	}
	t.Logf("reliability: client calls=%d ops%v workers=%d ok=%d outcome_unknown=%d definitive_errors=%d kinds%v | "+
		"runs: created=%d ok_calls=%d ok_with_exactly_one_run=%d unknown_calls_that_created=%d unknown_calls_that_did_not=%d | "+
		"duplicates=%d definitive_errors_with_effect=%d unknown_without_ambiguous_attempt=%d unknown_where_server_only_refused=%d violations=%d | "+
		"workflows: unknown_retried_with_key_same=%d unknown_retried_with_key_created=%d | "+
		"attempts: server=%d dials=%d refused_dials=%d faults%v | wait_for_run: done=%d ctx_ended=%d polls=%d | goroutine_leaks=%d",
		len(plan), byOp, workers, kinds[outcomeOK], kinds[outcomeUnknown], definitive, kinds,
		runsCreated, okRunCalls, okWithOneRun, unknownCreated, unknownNotCreated,
		duplicates, definitiveWithEffect, unknownWithoutAmbiguity, unknownServerSaw429Only, len(bad),
		retriedSame, retriedCreated,
		serverAttempts, dials, totalRefused, faults, waitsDone, waitsByCtx, waitPolls, leaks)
}

// resolutionFaults are the faults of the run-creating routes in the
// resolution test: the catalogue, plus an answer so slow that the client
// gives up while the server goes on and creates the run.
func resolutionFaults(seed uint64, share float64) func(skyverntest.Route) *skyverntest.Fault {
	rng := rand.New(rand.NewPCG(seed, 3))
	catalogue := append(faultCatalogue(), namedFault{"slow_processed",
		skyverntest.Fault{Latency: attemptTimeout + attemptTimeout/2, ProcessAfterGiveUp: true}})
	return func(r skyverntest.Route) *skyverntest.Fault {
		if r != skyverntest.RouteRunTask && r != skyverntest.RouteRunWorkflow {
			return nil // resolution reads through a healthy read path
		}
		if rng.Float64() >= share {
			return nil
		}
		f := catalogue[rng.IntN(len(catalogue))].fault
		return &f
	}
}

// TestReliabilityClientResolution runs the same faulted load of RunTask and
// RunWorkflow calls with automatic outcome resolution off and on, and
// reports what each call ended with, the runs the server holds, and what
// resolution cost.
func TestReliabilityClientResolution(t *testing.T) {
	skipUnderShort(t, "two rounds of 400 faulted calls")
	const (
		calls      = 400
		workers    = 8
		faultShare = 0.4
		workflows  = 4
		maxResends = 2
	)
	for _, mode := range []string{"off", "on"} {
		t.Run(mode, func(t *testing.T) {
			srv := skyverntest.NewServer()
			closeServer := sync.OnceFunc(srv.Close)
			t.Cleanup(closeServer)
			opts := []skyvern.Option{skyvern.WithBaseURL(srv.URL()), skyvern.WithHTTPClient(srv.Client()),
				skyvern.WithRequestTimeout(attemptTimeout), skyvern.WithRetryWait(time.Millisecond, 5*time.Millisecond),
				skyvern.WithMaxRetryAfter(500 * time.Millisecond)}
			if mode == "on" {
				opts = append(opts, skyvern.WithOutcomeResolution(maxResends))
			}
			client, err := skyvern.NewClient(srv.APIKey(), opts...)
			require.NoError(t, err)
			ctx := context.Background()
			wpids := make([]string, workflows)
			for i := range wpids {
				wf, err := client.CreateWorkflow(ctx, workflowTitled(fmt.Sprintf("setup workflow %d", i)))
				require.NoError(t, err)
				wpids[i] = wf.WorkflowPermanentID
			}
			plan := make([]*clientCall, calls)
			for i := range plan {
				op := opRunTask
				if i%5 == 1 || i%5 == 3 {
					op = opRunWorkflow
				}
				plan[i] = &clientCall{id: fmt.Sprintf("r%04d", i), op: op, key: "resolution " + fmt.Sprint(i), target: wpids[i%workflows]}
			}

			srv.SetFaultPolicy(resolutionFaults(reliabilitySeed, faultShare))
			jobs := make(chan *clientCall)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for c := range jobs {
						c.performTitled(ctx, client)
					}
				}()
			}
			for _, c := range plan {
				jobs <- c
			}
			close(jobs)
			wg.Wait()
			srv.SetFaultPolicy(nil)
			// A slow_processed request may still be on the server: wait out
			// its latency before the snapshot (Close would cut it short).
			time.Sleep(2 * attemptTimeout)
			closeServer()

			runsByKey := map[string][]skyverntest.RunSnapshot{}
			for _, r := range srv.Runs() {
				runsByKey[runKey(t, r)] = append(runsByKey[runKey(t, r)], r)
			}
			extra, creationAttempts, faults := tally{}, 0, tally{}
			faultsOf := map[string][]string{} // call id -> the faults its attempts met, for the violations
			for _, r := range srv.Requests() {
				switch id := r.Header.Get(callIDHeader); {
				case id == "" && (r.Route == skyverntest.RouteListRuns || r.Route == skyverntest.RouteGetRun):
					extra[string(r.Route)]++
				case id != "":
					creationAttempts++
					faults[faultName(r.Fault)]++
					faultsOf[id] = append(faultsOf[id], faultName(r.Fault))
				}
			}
			var bad violations
			ends, reasons := tally{}, tally{}
			var okCalls, okWithOneRun, runsCreated, duplicates, unknownCreated, unknownNotCreated, notCreatedFinal int
			for _, c := range plan {
				created := runsByKey[c.key]
				runsCreated += len(created)
				if len(created) > 1 {
					duplicates++
					bad.add("%s %s: %d runs for one call (attempts: %v)", c.id, c.op, len(created), faultsOf[c.id])
				}
				var unresolved *skyvern.UnresolvedOutcomeError
				switch {
				case c.err == nil:
					ends["ok"]++
					okCalls++
					if len(created) == 1 && created[0].ID == c.runID {
						okWithOneRun++
					} else {
						bad.add("%s %s: succeeded with %s but the server has %d runs for it", c.id, c.op, c.runID, len(created))
					}
				case errors.Is(c.err, skyvern.ErrNotCreated):
					ends["not_created"]++
					notCreatedFinal++
					if len(created) > 0 {
						bad.add("%s %s: ErrNotCreated, yet the server created %s", c.id, c.op, created[0].ID)
					}
				case errors.As(c.err, &unresolved):
					ends["unknown_unresolved"]++
					reasons[unresolved.Reason]++
				case errors.Is(c.err, skyvern.ErrOutcomeUnknown):
					ends["unknown"]++
					if len(created) > 0 {
						unknownCreated++
					} else {
						unknownNotCreated++
					}
				default:
					ends["definitive:"+classify(c.err)]++
					if len(created) > 0 {
						bad.add("%s %s: definitive error %v, yet the server created %s", c.id, c.op, c.err, created[0].ID)
					}
				}
			}
			if mode == "on" {
				// Keys are unique, the read path is healthy and no ctx
				// ends: nothing here is undecidable.
				assert.Zero(t, ends["unknown_unresolved"]+ends["unknown"], "unresolved outcomes: %v", reasons)
			}
			assert.Zero(t, duplicates)
			bad.check(t, "resolution "+mode)
			t.Logf("reliability resolution=%s: calls=%d workers=%d ends%v unresolved_reasons%v | "+
				"runs: created=%d calls_succeeded=%d ok_with_exactly_one_run=%d not_created_after_resends=%d "+
				"unknown_that_created=%d unknown_that_did_not=%d duplicates=%d | "+
				"cost: creation_attempts=%d extra_calls%v faults%v",
				mode, calls, workers, ends, reasons, runsCreated, okCalls, okWithOneRun, notCreatedFinal,
				unknownCreated, unknownNotCreated, duplicates, creationAttempts, extra, faults)
		})
	}
}

// performTitled runs a task (titled with its key, so resolution can search
// for it) or a workflow run.
func (c *clientCall) performTitled(ctx context.Context, client *skyvern.Client) {
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, callIDKey{}, c.id), 30*time.Second)
	defer cancel()
	tag := skyvern.WithHeader(callIDHeader, c.id)
	var run *skyvern.Run
	if c.op == opRunTask {
		run, c.err = client.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: c.key, Title: c.key}, tag)
	} else {
		run, c.err = client.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: c.target, Title: c.key}, tag)
	}
	if c.err == nil {
		c.runID = run.RunID
	}
}
