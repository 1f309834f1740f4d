package skyvern

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunHubMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewRunHub(WithHubMemory(3, time.Minute))
	h.now = func() time.Time { return now }
	for i := 0; i < 5; i++ {
		h.Publish(fmt.Sprintf("r%d", i), RunStatusCompleted, json.RawMessage(`{}`))
	}
	assert.Len(t, h.recent, 3)
	assert.Equal(t, 3, h.order.Len())
	for id, want := range map[string]bool{"r0": false, "r1": false, "r2": true, "r4": true} {
		ch, cancel := h.subscribe(id)
		assert.Equal(t, want, len(ch) == 1, id)
		cancel()
	}

	now = now.Add(2 * time.Minute)
	ch, cancel := h.subscribe("r4")
	assert.Empty(t, ch, "events older than the TTL are forgotten")
	cancel()
	h.Publish("r9", RunStatusFailed, nil)
	assert.Len(t, h.recent, 1, "publishing sweeps expired events")
	assert.Empty(t, h.waiters)
}

func TestPublishPayloadIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string // ids whose waiters hear of the run
	}{
		{"task v1", `{"task_id":"tsk_1","status":"completed","workflow_run_id":null,"run_id":"tsk_1","run_type":"task_v1"}`, []string{"tsk_1"}},
		{"task v2 with its backing workflow run", `{"task_id":"tsk_v2_1","status":"completed","workflow_run_id":"wr_9","run_id":"tsk_v2_1","run_type":"task_v2"}`, []string{"tsk_v2_1", "wr_9"}},
		{"task v2 from a server without run_id", `{"task_id":"tsk_v2_2","status":"failed","workflow_run_id":"wr_8"}`, []string{"tsk_v2_2", "wr_8"}},
		{"task v2 replay without legacy keys", `{"run_id":"tsk_v2_3","status":"completed","run_type":"task_v2"}`, []string{"tsk_v2_3"}},
		{"workflow run", `{"workflow_run_id":"wr_7","status":"canceled","run_id":"wr_7","run_type":"workflow_run"}`, []string{"wr_7"}},
		{"task v1 inside a workflow run", `{"task_id":"tsk_4","status":"completed","workflow_run_id":"wr_6","run_id":"tsk_4","run_type":"task_v1"}`, []string{"tsk_4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := decodePayload([]byte(tt.body))
			require.NoError(t, err)
			h := NewRunHub()
			h.publishPayload(p)
			var got []string
			for id := range h.recent {
				got = append(got, id)
			}
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}
