package skyvern_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// otherRunCall returns a call of one of the other run-creating routes and
// its fake route. Each call creates a run, once prepare has run before it.
func otherRunCall(t *testing.T, s *skyverntest.Server, c *skyvern.Client, kind string) (prepare func(), call func() (*skyvern.Run, error), route skyverntest.Route) {
	t.Helper()
	ctx := context.Background()
	prepare = func() {}
	switch kind {
	case "login":
		return prepare, func() (*skyvern.Run, error) {
			return c.RunLogin(ctx, &skyvern.LoginRequest{
				BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com/login", WebhookURL: "https://hooks.example.com/skyvern"},
				CredentialType:   skyvern.CredentialSkyvern, CredentialID: "cred_123",
			})
		}, skyverntest.RouteRunLogin
	case "download_files":
		return prepare, func() (*skyvern.Run, error) {
			return c.RunDownloadFiles(ctx, &skyvern.DownloadFilesRequest{
				BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com"}, NavigationGoal: "Download the invoice",
			})
		}, skyverntest.RouteRunDownloadFiles
	}
	// A retry creates a run once per finished original: each call retries
	// a fresh failed run of the same workflow.
	wpid := createTestWorkflow(t, c, "retry resolve")
	var origID string
	prepare = func() {
		orig, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wpid})
		require.NoError(t, err)
		require.NoError(t, s.Fail(orig.RunID, "element not found"))
		origID = orig.RunID
	}
	return prepare, func() (*skyvern.Run, error) { return c.RetryWorkflowRun(ctx, origID, nil) }, skyverntest.RouteRetryWorkflowRun
}

func TestResolveOutcomeOfOtherRunCreationsAfterEachFault(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"login", "download_files", "retry"} {
		for _, tc := range unknownFaults {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				s, c := newResolveEnv(t)
				prepare, call, route := otherRunCall(t, s, c, kind)
				// A run of the same kind created before, which must not be
				// taken for this call's.
				prepare()
				_, err := call()
				require.NoError(t, err)
				prepare()
				before := s.RunCount()
				s.InjectFault(route, tc.fault)
				_, err = call()
				require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)

				run, rerr := c.ResolveOutcome(context.Background(), err)
				assertResolution(t, s, before, tc.created, run, rerr)
			})
		}
	}
}

// A login run echoes neither its URL nor its credential: resolution reads
// them from the workflow the server generated for the run. A login by
// another process to another site is told apart; an identical one, or any
// look-alike when the generated workflow cannot be read, leaves the
// outcome unknown instead of a guess.
func TestResolveOutcomeLoginAgainstOtherLogins(t *testing.T) {
	t.Parallel()
	mine := &skyvern.LoginRequest{
		BlockRunSettings: skyvern.BlockRunSettings{URL: "https://portal.example.com"},
		CredentialType:   skyvern.CredentialSkyvern, CredentialID: "cred_123",
	}
	otherSite := &skyvern.LoginRequest{
		BlockRunSettings: skyvern.BlockRunSettings{URL: "https://other.example.com"},
		CredentialType:   skyvern.CredentialSkyvern, CredentialID: "cred_123",
	}
	otherCredential := &skyvern.LoginRequest{BlockRunSettings: mine.BlockRunSettings, CredentialType: skyvern.CredentialSkyvern, CredentialID: "cred_456"}
	for _, tc := range []struct {
		name           string
		other          *skyvern.LoginRequest
		hideWorkflows  bool
		wantCandidates int // 0: resolved to this call's run
	}{
		{"another site", otherSite, false, 0},
		{"another credential", otherCredential, false, 0},
		{"the same login", mine, false, 2},
		{"another site, workflows hidden", otherSite, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := newResolveEnv(t)
			other, err := skyvern.NewClient(s.APIKey(), skyvern.WithBaseURL(s.URL()))
			require.NoError(t, err)
			_, err = other.RunLogin(context.Background(), tc.other)
			require.NoError(t, err)
			if tc.hideWorkflows {
				s.InjectFault(skyverntest.RouteGetWorkflow, skyverntest.Fault{Status: 404, Times: 10})
			}
			s.InjectFault(skyverntest.RouteRunLogin, skyverntest.Fault{DropAfterProcessing: true})
			_, err = c.RunLogin(context.Background(), mine)
			require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
			run, rerr := c.ResolveOutcome(context.Background(), err)
			if tc.wantCandidates == 0 {
				require.NoError(t, rerr)
				assert.Equal(t, s.Runs()[s.RunCount()-1].ID, run.RunID)
				return
			}
			var unresolved *skyvern.UnresolvedOutcomeError
			require.ErrorAs(t, rerr, &unresolved)
			assert.NotErrorIs(t, rerr, skyvern.ErrNotCreated)
			assert.Len(t, unresolved.Candidates, tc.wantCandidates)
		})
	}
}

// Automatic mode on a retry: a 502 before processing is resent once the
// settle time proves nothing was created; a drop after processing returns
// the run the lost answer named.
func TestAutomaticResolutionOfWorkflowRetry(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	wpid := createTestWorkflow(t, c, "auto retry")
	ctx := context.Background()
	for _, fault := range []skyverntest.Fault{{Status: 502}, {DropAfterProcessing: true}} {
		orig, err := c.RunWorkflow(ctx, &skyvern.WorkflowRunRequest{WorkflowID: wpid})
		require.NoError(t, err)
		require.NoError(t, s.Fail(orig.RunID, "element not found"))
		before := s.RunCount()
		s.InjectFault(skyverntest.RouteRetryWorkflowRun, fault)
		run, err := c.RetryWorkflowRun(ctx, orig.RunID, nil, skyvern.WithOutcomeResolution(1))
		require.NoError(t, err)
		require.Equal(t, before+1, s.RunCount(), "one retry run, never two")
		assert.Equal(t, s.Runs()[s.RunCount()-1].ID, run.RunID)
	}
}

// The retry route has an id in its path: resolution takes only a POST to
// exactly that route, with one non-empty id segment.
func TestResolveOutcomeMatchesTheRetryPath(t *testing.T) {
	t.Parallel()
	_, c := newResolveEnv(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		method, path string
		creates      bool
	}{
		{"POST", "/v1/workflows/runs/wr_1/retry", true},
		{"POST", "/v1/workflows/runs/wr%2F1/retry", true},
		{"GET", "/v1/workflows/runs/wr_1/retry", false},
		{"POST", "/v1/workflows/runs//retry", false},
		{"POST", "/v1/workflows/runs/wr_1/x/retry", false},
		{"POST", "/v1/workflows/runs/wr_1/retry_webhook", false},
		{"POST", "/v1/workflows/runs/wr_1", false},
	} {
		ue := &skyvern.OutcomeUnknownError{Method: tc.method, Path: tc.path}
		_, rerr := c.ResolveOutcome(canceled, ue)
		if tc.creates {
			assert.ErrorIs(t, rerr, context.Canceled, "%s %s", tc.method, tc.path)
			assert.NotErrorIs(t, rerr, skyvern.ErrValidation, "%s %s", tc.method, tc.path)
		} else {
			assert.ErrorIs(t, rerr, skyvern.ErrValidation, "%s %s", tc.method, tc.path)
		}
	}
}

// A retry of a run that does not exist (or is not a workflow run) cannot
// have created anything: resolution proves it after the settle time.
func TestResolveOutcomeRetryOfUnknownRun(t *testing.T) {
	t.Parallel()
	s, c := newResolveEnv(t)
	s.InjectFault(skyverntest.RouteRetryWorkflowRun, skyverntest.Fault{Status: 502, StatusAfterProcessing: true})
	_, err := c.RetryWorkflowRun(context.Background(), "wr_missing", nil)
	require.ErrorIs(t, err, skyvern.ErrOutcomeUnknown)
	_, rerr := c.ResolveOutcome(context.Background(), err)
	require.ErrorIs(t, rerr, skyvern.ErrNotCreated)
	assert.Zero(t, s.RunCount())
}
