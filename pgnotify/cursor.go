package pgnotify

import "time"

// cursor tracks which event ids a relay has handled. Ids come from a
// sequence, so they are unique and increase, but they are taken when a row
// is inserted and become visible when it commits: a reader may see 11
// before 10. Every id up to low is handled; seen holds the handled ids
// above it. An id missing at low+1 while later ones are seen is a gap: a
// row still committing, or one that never will (a rolled-back insert burns
// its id). The cursor waits gapTimeout for it, then moves past.
type cursor struct {
	low      int64
	seen     map[int64]struct{}
	gapAt    int64 // the id the open gap waits for, 0 if none
	gapSince time.Time
}

func newCursor(low int64) *cursor {
	return &cursor{low: low, seen: make(map[int64]struct{})}
}

// observe records id and reports whether it is new.
func (c *cursor) observe(id int64) bool {
	if id <= c.low {
		return false
	}
	if _, ok := c.seen[id]; ok {
		return false
	}
	c.seen[id] = struct{}{}
	return true
}

// advance moves low over the handled ids that follow it, and over a gap
// that has been open for gapTimeout.
func (c *cursor) advance(now time.Time, gapTimeout time.Duration) {
	for len(c.seen) > 0 {
		next := c.low + 1
		if _, ok := c.seen[next]; ok {
			delete(c.seen, next)
			c.low = next
			continue
		}
		if c.gapAt != next {
			c.gapAt, c.gapSince = next, now
			return
		}
		if now.Sub(c.gapSince) < gapTimeout {
			return
		}
		c.low = next // given up on: it never committed, or too late to matter
		c.gapAt = 0
	}
	c.gapAt = 0
}

// covers reports whether every id up to id is handled, so a notification
// for id needs no read.
func (c *cursor) covers(id int64) bool {
	return id <= c.low
}
