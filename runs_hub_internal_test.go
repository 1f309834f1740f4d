package skyvern

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunHubMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := MustRunHub(t, WithHubMemory(3, time.Minute))
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
			h := MustRunHub(t)
			h.PublishPayload(p)
			var got []string
			for id := range h.recent {
				got = append(got, id)
			}
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}

// hubBody returns a run object of about size bytes for runID, as a window
// on a buffer twice that size, like a slice of a request body would be.
func hubBody(runID string, size int) json.RawMessage {
	prefix := `{"run_id":"` + runID + `","status":"completed","output":"`
	buf := make([]byte, 0, 2*size)
	buf = append(buf, prefix...)
	for len(buf) < size-2 {
		buf = append(buf, 'x')
	}
	return append(buf, `"}`...)
}

func TestRunHubMemoryIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	const (
		total   = 1 << 20
		maxBody = 128 << 10
	)
	h := MustRunHub(t, WithHubBytes(total, maxBody))
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("wr_%03d", i)
		h.Publish(id, RunStatusCompleted, hubBody(id, 64<<10))
		require.LessOrEqual(t, h.MemoryBytes(), int64(total), "after %d events", i+1)
	}
	h.Publish("wr_big", RunStatusFailed, hubBody("wr_big", 256<<10))
	assert.LessOrEqual(t, h.MemoryBytes(), int64(total))
	assert.Len(t, h.recent, 201, "every event is remembered, by status at least")

	tests := []struct {
		id       string
		status   RunStatus
		wantBody bool
	}{
		{"wr_000", RunStatusCompleted, false}, // oldest: body dropped for the budget
		{"wr_199", RunStatusCompleted, true},  // newest small body: kept
		{"wr_big", RunStatusFailed, false},    // over maxBody: never kept
	}
	for _, tt := range tests {
		ch, cancel := h.subscribe(tt.id)
		require.Len(t, ch, 1, tt.id)
		ev := <-ch
		cancel()
		assert.Equal(t, tt.status, ev.status, tt.id)
		assert.Equal(t, tt.wantBody, ev.raw != nil, tt.id)
		if tt.wantBody {
			assert.Equal(t, len(ev.raw), cap(ev.raw), "%s: the hub keeps an exact copy, not the buffer around it", tt.id)
			assert.NotNil(t, runFromEvent(tt.id, ev), tt.id)
		} else {
			assert.Nil(t, runFromEvent(tt.id, ev), "%s: a wait without a body reads the run with GetRun", tt.id)
		}
	}

	// Tiny bodies too: the overhead of each event counts, so the number of
	// events is bounded by the budget as well.
	small := MustRunHub(t, WithHubBytes(64<<10, 0), WithHubMemory(1_000_000, 0))
	for i := 0; i < 5000; i++ {
		small.Publish(fmt.Sprintf("tsk_%d", i), RunStatusCompleted, nil)
	}
	assert.LessOrEqual(t, small.MemoryBytes(), int64(64<<10))
	assert.Less(t, len(small.recent), 5000)
	assert.Equal(t, small.order.Len(), len(small.recent))
}

// TestRunHubHeapIsBoundedWithDefaults publishes 96 MiB of 64 KiB bodies to a
// hub with default options and checks what stays on the heap: the default
// byte budget, not the bodies of the last 10,000 events.
func TestRunHubHeapIsBoundedWithDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 96 MiB")
	}
	before := liveHeap()
	h := MustRunHub(t)
	for i := 0; i < 1536; i++ {
		id := fmt.Sprintf("wr_%d", i)
		h.Publish(id, RunStatusCompleted, hubBody(id, 64<<10))
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("hub accounts %d bytes; heap grew by %d bytes", h.MemoryBytes(), grown)
	assert.LessOrEqual(t, h.MemoryBytes(), DefaultHubBytes)
	assert.Less(t, grown, DefaultHubBytes+8<<20, "heap kept by the hub")
	runtime.KeepAlive(h)
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestRunHubZeroOptionsSelectDefaults(t *testing.T) {
	t.Parallel()
	h := MustRunHub(t, WithHubMemory(0, 0), WithHubBytes(0, 0), nil)
	assert.Equal(t, DefaultHubEvents, h.capacity)
	assert.Equal(t, DefaultHubTTL, h.ttl)
	assert.Equal(t, DefaultHubBytes, h.maxBytes)
	assert.Equal(t, DefaultHubBodyBytes, h.maxBody)
}

func TestRunHubRejectsNegativeOptions(t *testing.T) {
	t.Parallel()
	cases := map[string]HubOption{
		"events":   WithHubMemory(-1, time.Minute),
		"ttl":      WithHubMemory(10, -time.Minute),
		"total":    WithHubBytes(-1, 1024),
		"max body": WithHubBytes(1<<20, -1),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, err := NewRunHub(WithHubMemory(5, time.Minute), opt)
			require.ErrorIs(t, err, ErrInvalidOption)
			assert.Nil(t, h)
			assert.Regexp(t, `^skyvern: WithHub(Memory|Bytes): must not be negative`, err.Error())
		})
	}
}
