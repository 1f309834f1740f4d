package skyvern

import (
	"net/http"
	"testing"
	"time"
)

// The jittered backoff never exceeds its maximum, however many attempts
// came before, and a Retry-After hint never exceeds the client's cap.
func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	c := &Client{maxRetryAfter: 3 * time.Second}
	for attempt := range 64 {
		for range 20 {
			// 300 ms doubled overshoots 1 s: only the cap holds it.
			d := c.backoff(300*time.Millisecond, time.Second, attempt, nil)
			if d > time.Second || d < 0 {
				t.Fatalf("attempt %d: backoff %v outside [0, 1s]", attempt, d)
			}
			if attempt >= 2 && d < 500*time.Millisecond {
				t.Fatalf("attempt %d: backoff %v below half the cap", attempt, d)
			}
		}
	}
	resp := &http.Response{Header: http.Header{"Retry-After": {"3600"}}}
	if d := c.backoff(time.Millisecond, time.Millisecond, 0, resp); d != 3*time.Second {
		t.Errorf("Retry-After 3600 waits %v, want the 3s cap", d)
	}
}

// A Retry-After hint must be a non-negative number of seconds or an HTTP
// date; anything else is ignored rather than taken as "retry at once".
func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"5", 5 * time.Second, true},
		{"0", 0, true},
		{"-5", 0, false},
		{"-0", 0, true},
		{"soon", 0, false},
		{"", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999", 365 * 24 * time.Hour, true},
	}
	for _, tc := range cases {
		got, ok := retryAfter(http.Header{"Retry-After": {tc.value}}, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}
