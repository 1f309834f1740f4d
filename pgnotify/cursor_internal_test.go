package pgnotify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const timeout = 10 * time.Second
	c := newCursor(5)
	assert.False(t, c.observe(5), "at or below low: handled already")
	assert.True(t, c.observe(6))
	assert.False(t, c.observe(6), "a second read of a row is not new")
	c.advance(t0, timeout)
	assert.EqualValues(t, 6, c.low)
	assert.Empty(t, c.seen)

	// 8 commits before 7: the cursor keeps 8 and waits for 7.
	assert.True(t, c.observe(8))
	c.advance(t0, timeout)
	assert.EqualValues(t, 6, c.low)
	assert.False(t, c.covers(8))
	assert.True(t, c.observe(7), "the late row is still new when it shows up")
	c.advance(t0.Add(time.Second), timeout)
	assert.EqualValues(t, 8, c.low)
	assert.True(t, c.covers(8))

	// 9 never commits: after the timeout the cursor moves past it.
	assert.True(t, c.observe(10))
	c.advance(t0.Add(2*time.Second), timeout)
	c.advance(t0.Add(2*time.Second+timeout-time.Millisecond), timeout)
	assert.EqualValues(t, 8, c.low, "still waiting within the timeout")
	c.advance(t0.Add(2*time.Second+timeout), timeout)
	assert.EqualValues(t, 10, c.low)
	assert.Empty(t, c.seen)
	assert.Zero(t, c.gapAt)
}
