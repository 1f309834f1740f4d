package skyvern

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
