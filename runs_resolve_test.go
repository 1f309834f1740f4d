package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// resolveTimeout is the attempt timeout of the resolution tests: the
// settle time, which a NotCreated answer waits out, follows from it.
const resolveTimeout = 250 * time.Millisecond

func newResolveEnv(t *testing.T, serverOpts ...skyverntest.Option) (*skyverntest.Server, *skyvern.Client) {
	t.Helper()
	s := skyverntest.NewServer(serverOpts...)
	t.Cleanup(s.Close)
	c, err := skyvern.NewClient(s.APIKey(), skyvern.WithBaseURL(s.URL()), skyvern.WithHTTPClient(s.Client()),
		skyvern.WithRequestTimeout(resolveTimeout), skyvern.WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	return s, c
}

func createTestWorkflow(t *testing.T, c *skyvern.Client, title string) string {
	t.Helper()
	wf, err := c.CreateWorkflow(context.Background(), invoiceWorkflow(title))
	require.NoError(t, err)
	return wf.WorkflowPermanentID
}

// unknownFaults are the faults that leave a run creation's outcome unknown,
// with whether the server created the run.
var unknownFaults = []struct {
	name    string
	fault   skyverntest.Fault
	created bool
}{
	{"500 after processing", skyverntest.Fault{Status: 500, StatusAfterProcessing: true}, true},
	{"502 after processing", skyverntest.Fault{Status: 502, StatusAfterProcessing: true}, true},
	{"drop after processing", skyverntest.Fault{DropAfterProcessing: true}, true},
	// The server creates the run after the client's timeout but within
	// the settle time.
	{"client timeout, server goes on", skyverntest.Fault{Latency: resolveTimeout + resolveTimeout/2, ProcessAfterGiveUp: true}, true},
	{"drop before processing", skyverntest.Fault{Drop: true}, false},
	{"502 before processing", skyverntest.Fault{Status: 502}, false},
	{"client timeout, server drops it", skyverntest.Fault{Latency: resolveTimeout * 2}, false},
}

func TestResolveOutcomeAfterEachFault(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"task", "workflow"} {
		for _, tc := range unknownFaults {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				s, c := newResolveEnv(t)
				ctx := context.Background()
				var call func() (*skyvern.Run, error)
				route := skyverntest.RouteRunTask
				if kind == "task" {
					call = func() (*skyvern.Run, error) {
						return c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "resolve " + tc.name, URL: "Example.com", Title: "resolve test"})
					}
				} else {
					wpid := createTestWorkflow(t, c, "resolve")
					route = skyverntest.RouteRunWorkflow
					call = func() (*skyvern.Run, error) {
						return c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wpid, Parameters: map[string]any{"invoice_month": "2026-01"}})
					}
				}
				// A run of the same kind created before, which must not be
				// taken for this call's.
				if _, err := call(); err != nil {
					require.NoError(t, err)
				}
				before := s.RunCount()
				s.InjectFault(route, tc.fault)
				_, err := call()
				require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)

				run, rerr := c.ResolveOutcome(ctx, err)
				assertResolution(t, s, before, tc.created, run, rerr)
			})
		}
	}
}

// assertResolution checks a resolution's answer after a fault: the run
// the faulted call created, or ErrNotCreated with no run created since
// before runs existed.
func assertResolution(t *testing.T, s *skyverntest.Server, before int, created bool, run *skyvern.Run, rerr error) {
	t.Helper()
	if created {
		require.NoError(t, rerr)
		require.Equal(t, before+1, s.RunCount())
		runs := s.Runs()
		assert.Equal(t, runs[len(runs)-1].ID, run.RunID, "the run the faulted call created")
		return
	}
	require.ErrorIs(t, rerr, skyvern.ErrNotCreated)
	assert.NotErrorIs(t, rerr, skyvern.ErrOutcomeUnknown)
	assert.Nil(t, run)
	assert.Equal(t, before, s.RunCount(), "ErrNotCreated while a run exists")
}

func TestResolveOutcomeTwiceFindsTheSameRun(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "twice"})
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
	first, err1 := c.ResolveOutcome(context.Background(), err)
	require.NoError(t, err1)
	second, err2 := c.ResolveOutcome(context.Background(), err)
	require.NoError(t, err2)
	assert.Equal(t, first.RunID, second.RunID)
}

// Identical task requests in flight together: every call ends with a run
// of its own or a proof, and runs stay one to one with calls.
func TestResolveOutcomeConcurrentIdenticalRequests(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	const n = 6
	faults := 0
	s.SetFaultPolicy(func(r skyverntest.Route) *skyverntest.Fault {
		if r != skyverntest.RouteRunTask {
			return nil
		}
		faults++
		switch faults % 3 {
		case 0:
			return &skyverntest.Fault{DropAfterProcessing: true}
		case 1:
			return &skyverntest.Fault{Status: 502}
		}
		return nil
	})
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "identical"}, skyvern.WithOutcomeResolution(n))
			if assert.NoError(t, err) {
				ids[i] = run.RunID
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "run %s handed to two calls", id)
		seen[id] = true
	}
	assert.Equal(t, n, s.RunCount(), "one run per call")
}

// Two identical requests from this client, both ambiguous, while someone
// else sent the same request too: more matching runs than calls is
// undecidable.
func TestResolveOutcomeUndecidableWhenSomeoneElseSentTheSame(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	other, err := skyvern.NewClient(s.APIKey(), skyvern.WithBaseURL(s.URL()))
	require.NoError(t, err)
	req := &skyvern.TaskRunRequest{Prompt: "shared prompt", URL: "https://example.com"}
	_, err = other.RunTask(context.Background(), req)
	require.NoError(t, err)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})
	_, err = c.RunTask(context.Background(), req)
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
	_, rerr := c.ResolveOutcome(context.Background(), err)
	require.ErrorIs(t, rerr, skyvern.ErrOutcomeUnknown)
	assert.NotErrorIs(t, rerr, skyvern.ErrNotCreated)
	var unresolved *skyvern.UnresolvedOutcomeError
	require.ErrorAs(t, rerr, &unresolved)
	assert.Len(t, unresolved.Candidates, 2)
}

func TestResolveOutcomeWorkflowWithFullMetadata(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	wpid := createTestWorkflow(t, c, "full metadata")
	md := map[string]string{}
	for i := range 20 {
		md[fmt.Sprintf("k%02d", i)] = "v"
	}
	// A run with other metadata, which must not match.
	other := maps.Clone(md)
	other["k00"] = "different"
	_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: wpid, RunMetadata: other})
	require.NoError(t, err)

	s.InjectFault(skyverntest.RouteRunWorkflow, skyverntest.Fault{Status: 500, StatusAfterProcessing: true})
	_, err = c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: wpid, RunMetadata: md})
	var ue *skyvern.OutcomeUnknownError
	require.ErrorAs(t, err, &ue)
	assert.Empty(t, ue.ClientRequestID, "no room for the id")
	run, err := c.ResolveOutcome(context.Background(), err)
	require.NoError(t, err)
	echoed, err := run.WorkflowRunRequest()
	require.NoError(t, err)
	assert.Equal(t, md, echoed.RunMetadata)
}

// Resolution never uses the tags filter, which some organizations cannot
// use.
func TestResolveOutcomeWithTagFilterForbidden(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t, skyverntest.WithTagFilterForbidden())
	_, err := c.ListRuns(context.Background(), &skyvern.ListRunsParams{Tags: []string{"env:prod"}})
	require.ErrorIs(t, err, skyvern.ErrForbidden)

	wpid := createTestWorkflow(t, c, "tags")
	s.InjectFault(skyverntest.RouteRunWorkflow, skyverntest.Fault{DropAfterProcessing: true})
	run, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: wpid}, skyvern.WithOutcomeResolution(1))
	require.NoError(t, err)
	assert.Equal(t, 1, s.RunCount())
	assert.Equal(t, s.Runs()[0].ID, run.RunID)
}

func TestResolveOutcomeListingRefused(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "refused"})
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
	s.InjectFault(skyverntest.RouteListRuns, skyverntest.Fault{Status: 403})
	_, rerr := c.ResolveOutcome(context.Background(), err)
	require.ErrorIs(t, rerr, skyvern.ErrOutcomeUnknown)
	require.ErrorIs(t, rerr, skyvern.ErrForbidden)
	assert.NotErrorIs(t, rerr, skyvern.ErrNotCreated)
}

func TestResolveOutcomeContextCanceled(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{Drop: true})
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "cancel"})
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
	// Nothing was created, so resolution waits out the settle time: a
	// context that ends first must leave the outcome unknown.
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout/5)
	defer cancel()
	_, rerr := c.ResolveOutcome(ctx, err)
	require.ErrorIs(t, rerr, skyvern.ErrOutcomeUnknown)
	require.ErrorIs(t, rerr, context.DeadlineExceeded)
	assert.NotErrorIs(t, rerr, skyvern.ErrNotCreated)

	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, rerr = c.ResolveOutcome(canceled, err)
	require.ErrorIs(t, rerr, context.Canceled)
	assert.NotErrorIs(t, rerr, skyvern.ErrNotCreated)
}

func TestResolveOutcomeRejectsOtherErrors(t *testing.T) {
	t.Parallel()
	_, c := newResolveEnv(t)
	for _, err := range []error{errors.New("plain"), &skyvern.OutcomeUnknownError{Method: "POST", Path: "/v1/runs/x/cancel", RequestBody: []byte("null")}} {
		_, rerr := c.ResolveOutcome(context.Background(), err)
		require.ErrorIs(t, rerr, skyvern.ErrValidation)
	}
}

// Automatic mode: ambiguous failures become the created run, or a resend
// once nothing was created, within the bound.
func TestAutomaticResolution(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{Status: 502})
	run, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "auto"}, skyvern.WithOutcomeResolution(1))
	require.NoError(t, err)
	require.Equal(t, 1, s.RunCount())
	assert.Equal(t, s.Runs()[0].ID, run.RunID)

	// Both sends fail before processing: the bound is reached.
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{Status: 502, Times: 2})
	_, err = c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "auto 2"}, skyvern.WithOutcomeResolution(1))
	require.ErrorIs(t, err, skyvern.ErrNotCreated)
	assert.Equal(t, 1, s.RunCount())

	// Off by default; a client option turns it on; a negative bound is
	// invalid at either level.
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})
	_, err = c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "manual"})
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)

	auto, err := skyvern.NewClient(s.APIKey(), skyvern.WithBaseURL(s.URL()), skyvern.WithOutcomeResolution(2),
		skyvern.WithRequestTimeout(resolveTimeout))
	require.NoError(t, err)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})
	run, err = auto.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "client option"})
	require.NoError(t, err)
	assert.Equal(t, s.Runs()[s.RunCount()-1].ID, run.RunID)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{DropAfterProcessing: true})
	before := s.RunCount()
	_, err = auto.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "bad call option"}, skyvern.WithOutcomeResolution(-1))
	var invalid *skyvern.InvalidRequestError
	require.ErrorAs(t, err, &invalid)
	assert.Equal(t, before, s.RunCount(), "an invalid option sends nothing")

	_, err = skyvern.NewClient("k", skyvern.WithOutcomeResolution(-1))
	require.Error(t, err)
}

func TestOutcomeUnknownErrorCarriesResolutionData(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	s.InjectFault(skyverntest.RouteRunTask, skyverntest.Fault{Status: 500})
	start := time.Now()
	_, err := c.RunTask(context.Background(), &skyvern.TaskRunRequest{Prompt: "data"})
	var ue *skyvern.OutcomeUnknownError
	require.ErrorAs(t, err, &ue)
	assert.JSONEq(t, `{"prompt":"data"}`, string(ue.RequestBody))
	require.Len(t, ue.AttemptStarts, 1)
	assert.False(t, ue.AttemptStarts[0].Before(start))
	assert.Equal(t, resolveTimeout, ue.AttemptTimeout)
	assert.False(t, ue.FailedAt.Before(ue.AttemptStarts[0]))
	assert.NotContains(t, string(ue.RequestBody), s.APIKey())
	assert.NotContains(t, err.Error(), s.APIKey())
}

// A caller that sets the client request id itself keeps its value, and
// resolution uses it.
func TestResolveOutcomeCallerChosenRequestID(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	wpid := createTestWorkflow(t, c, "caller id")
	_, err := c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: wpid})
	require.NoError(t, err)
	s.InjectFault(skyverntest.RouteRunWorkflow, skyverntest.Fault{DropAfterProcessing: true})
	md := map[string]string{skyvern.ClientRequestIDKey: "order-4711"}
	_, err = c.RunWorkflow(context.Background(), &skyvern.WorkflowRunRequest{WorkflowID: wpid, RunMetadata: md})
	var ue *skyvern.OutcomeUnknownError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "order-4711", ue.ClientRequestID)
	run, err := c.ResolveOutcome(context.Background(), err)
	require.NoError(t, err)
	echoed, err := run.WorkflowRunRequest()
	require.NoError(t, err)
	assert.Equal(t, md, echoed.RunMetadata)
	assert.Equal(t, s.Runs()[1].ID, run.RunID)
}
