package skyvern

import (
	"testing"
	"time"
)

// pollsWithin counts the GetRun calls a wait makes before a run that ends
// after d, when every pause is jitter (in quarters) of its nominal length:
// 2 is the shortest pause the jitter allows, 3 the mean.
func pollsWithin(s pollSchedule, d time.Duration, jitter time.Duration) int {
	polls, at, interval := 1, time.Duration(0), s.initial // the first poll is at once
	for {
		at += interval * jitter / 4
		if at >= d {
			return polls
		}
		polls++
		interval = s.next(interval)
	}
}

// With a hub, polling is only the fallback: a run that takes three minutes
// costs at most three GetRun calls, however the jitter falls, where polling
// alone makes about thirty.
func TestHubPollScheduleBudget(t *testing.T) {
	t.Parallel()
	const run = 3 * time.Minute
	withHub := (&waitConfig{hub: MustRunHub(t)}).schedule()
	alone := (&waitConfig{}).schedule()
	worst, mean := pollsWithin(withHub, run, 2), pollsWithin(withHub, run, 3)
	if worst > 3 {
		t.Errorf("a 3-minute run with a hub makes up to %d GetRun calls, want <= 3", worst)
	}
	aloneMean := pollsWithin(alone, run, 3)
	if aloneMean < 10 {
		t.Errorf("polling alone makes %d GetRun calls in 3 minutes; the schedule without a hub changed", aloneMean)
	}
	t.Logf("GetRun calls for a 3-minute run: with a hub at most %d (mean jitter %d); polling alone %d (mean jitter)", worst, mean, aloneMean)

	// The caller's WithPollInterval wins, with or without a hub.
	custom := &waitConfig{hub: MustRunHub(t)}
	WithPollInterval(2*time.Second, 4*time.Second)(custom)
	if s := custom.schedule(); s.initial != 2*time.Second || s.max != 4*time.Second {
		t.Errorf("WithPollInterval with a hub gives %v..%v, want 2s..4s", s.initial, s.max)
	}
	if s := alone; s.next(s.max) != s.max || withHub.next(withHub.max) != withHub.max {
		t.Error("the poll interval grows past its cap")
	}
}
