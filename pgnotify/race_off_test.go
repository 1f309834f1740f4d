//go:build !race

package pgnotify_test

const raceEnabled = false
