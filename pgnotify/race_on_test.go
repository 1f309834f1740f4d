//go:build race

package pgnotify_test

// raceEnabled: the race detector slows every goroutine handoff several
// times over, so latency bounds are checked only in builds without it.
const raceEnabled = true
