package skyverntest

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeterministicRecording replays the same calls against two servers
// with the same seed and clock and expects identical bytes.
func TestDeterministicRecording(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 31, 15, 20, 42, 160725000, time.UTC)
	script := func() []string {
		s := newTestServer(t, WithDeterministicIDs(42), WithClock(func() time.Time { return clock }))
		var out []string
		add := func(r response) string {
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			out = append(out, string(r.body))
			return string(r.body)
		}
		wf := add(doRequest(t, s, http.MethodPost, "/v1/workflows", invoiceDefinition))
		wpid := mustDecode(t, []byte(wf))["workflow_permanent_id"].(string)
		run := add(doRequest(t, s, http.MethodPost, "/v1/run/workflows", `{"workflow_id":"`+wpid+`"}`))
		id := mustDecode(t, []byte(run))["run_id"].(string)
		require.NoError(t, s.Complete(id, map[string]any{"n": 1}))
		add(doRequest(t, s, http.MethodGet, "/v1/runs/"+id, nil))
		add(doRequest(t, s, http.MethodPost, "/v1/run/tasks", `{"prompt":"p","engine":"skyvern-2.0"}`))
		out = append(out, s.OrganizationID())
		return out
	}
	first, second := script(), script()
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("recordings differ (-first +second):\n%s", diff)
	}
	assert.Contains(t, first[0], `"created_at":"2026-01-31T15:20:42.160725"`)

	// Ids stay unique under a frozen clock, past the 1024-per-second sequence.
	s := newTestServer(t, WithDeterministicIDs(1), WithClock(func() time.Time { return clock }))
	seen := map[string]bool{}
	s.mu.Lock()
	for i := 0; i < 5000; i++ {
		id := s.ids.next("tsk")
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
	}
	s.mu.Unlock()
}
