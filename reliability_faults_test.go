package skyvern_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

// reliabilitySeed seeds every random choice of the reliability tests. The
// sequence of choices is fixed; which call meets which choice depends on
// goroutine scheduling.
const reliabilitySeed = 20260131

// skipUnderShort skips a long reliability suite under -short, so that a
// quick local run stays quick; CI runs without -short and so runs them all.
func skipUnderShort(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("long reliability suite: " + why)
	}
}

// callIDHeader carries a call's id to the fake's request log.
const callIDHeader = "X-Call-ID"

// callIDKey carries a call's id to the dialer, through the request context
// (the transport dials with the request's values).
type callIDKey struct{}

// namedFault is a fault the policy can inject, with a name for the figures.
type namedFault struct {
	name  string
	fault skyverntest.Fault
}

// attemptTimeout is the client's per-attempt timeout; slowFault outlasts it.
const (
	attemptTimeout = 150 * time.Millisecond
	slowFault      = 2 * attemptTimeout
)

// faultCatalogue lists what the fake injects: faults after which the server
// has done the work, faults before it, refusals, and answers too slow for
// the client.
func faultCatalogue() []namedFault {
	html := http.Header{"Content-Type": {"text/html"}}
	return []namedFault{
		{"drop_after_processing", skyverntest.Fault{DropAfterProcessing: true}},
		{"500_after_processing", skyverntest.Fault{Status: 500, StatusAfterProcessing: true}},
		{"502_after_processing", skyverntest.Fault{Status: 502, StatusAfterProcessing: true, Header: html,
			Body: "<html><head><title>502 Bad Gateway</title></head></html>"}},
		{"drop", skyverntest.Fault{Drop: true}},
		{"502", skyverntest.Fault{Status: 502}},
		{"503", skyverntest.Fault{Status: 503}},
		{"504", skyverntest.Fault{Status: 504, Header: html, Body: "<html><title>504 Gateway Time-out</title></html>"}},
		{"429", skyverntest.Fault{Status: 429}},
		{"429_retry_after_0", skyverntest.Fault{Status: 429, RetryAfter: "0"}},
		// One second is over the client's cap (maxRetryAfter): the call
		// ends with the hint instead of sleeping.
		{"429_retry_after_1", skyverntest.Fault{Status: 429, RetryAfter: "1"}},
		{"slow", skyverntest.Fault{Latency: slowFault}},
	}
}

// faultName names a logged fault after the catalogue entry it came from.
func faultName(f *skyverntest.Fault) string {
	switch {
	case f == nil:
		return "none"
	case f.DropAfterProcessing:
		return "drop_after_processing"
	case f.Status != 0 && f.StatusAfterProcessing:
		return fmt.Sprintf("%d_after_processing", f.Status)
	case f.Drop:
		return "drop"
	case f.Status == 429 && f.RetryAfter != "":
		return "429_retry_after_" + f.RetryAfter
	case f.Status != 0:
		return fmt.Sprint(f.Status)
	case f.Latency > 0 && f.ProcessAfterGiveUp:
		return "slow_processed"
	case f.Latency > 0:
		return "slow"
	}
	return "other"
}

// refusedOnly reports whether a logged attempt was refused before any work:
// the only answer that proves the server did nothing is a 429.
func refusedOnly(r skyverntest.Request) bool {
	return r.Fault != nil && r.Fault.Status == http.StatusTooManyRequests && !r.Fault.StatusAfterProcessing
}

// faultPolicy returns a policy for SetFaultPolicy that injects a fault from
// the catalogue into a share of requests. The server serializes its calls.
func faultPolicy(seed uint64, share float64) func(skyverntest.Route) *skyverntest.Fault {
	rng := rand.New(rand.NewPCG(seed, 1))
	catalogue := faultCatalogue()
	return func(skyverntest.Route) *skyverntest.Fault {
		if rng.Float64() >= share {
			return nil
		}
		f := catalogue[rng.IntN(len(catalogue))].fault
		return &f
	}
}

// flakyDialer refuses a share of dials like a closed port, and logs the
// refusals per call.
type flakyDialer struct {
	dialer net.Dialer
	share  float64

	mu      sync.Mutex
	armed   bool
	rng     *rand.Rand
	dials   int
	refused map[string]int // call id -> refusals
}

func newFlakyDialer(seed uint64, share float64) *flakyDialer {
	return &flakyDialer{share: share, rng: rand.New(rand.NewPCG(seed, 2)), refused: map[string]int{}}
}

func (d *flakyDialer) arm(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = on
}

func (d *flakyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials++
	refuse := d.armed && d.rng.Float64() < d.share
	if refuse {
		id, _ := ctx.Value(callIDKey{}).(string)
		d.refused[id]++
	}
	d.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	return d.dialer.DialContext(ctx, network, addr)
}

func (d *flakyDialer) counts() (dials int, refused map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	refused = make(map[string]int, len(d.refused))
	for k, v := range d.refused {
		refused[k] = v
	}
	return d.dials, refused
}

// attemptRecorder sits under the SDK's retry loop and records, per call,
// what the client itself saw of each attempt. The fake's log says what the
// server did; only this says what the client knew (a 429 that arrives after
// the attempt timed out is a timeout to the client).
type attemptRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string][]string // call id -> "429", "refused" or "other"
}

func newAttemptRecorder(base http.RoundTripper) *attemptRecorder {
	return &attemptRecorder{base: base, seen: map[string][]string{}}
}

func (r *attemptRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	seen := "other"
	var opErr *net.OpError
	switch {
	case err == nil && resp.StatusCode == http.StatusTooManyRequests:
		seen = "429"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		seen = "refused"
	}
	id := req.Header.Get(callIDHeader)
	r.mu.Lock()
	r.seen[id] = append(r.seen[id], seen)
	r.mu.Unlock()
	return resp, err
}

// refusedEveryTime reports whether every attempt of a call was, as far as
// the client could tell, refused before the server did anything.
func (r *attemptRecorder) refusedEveryTime(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.seen[id] {
		if s == "other" {
			return false
		}
	}
	return true
}

// Kinds of call outcome.
const (
	outcomeOK        = "ok"
	outcomeUnknown   = "outcome_unknown"
	outcomeAPIError  = "api_error"
	outcomeInvalid   = "invalid_request"
	outcomeContext   = "context"
	outcomeRefused   = "refused"
	outcomeDropped   = "dropped"
	outcomeUntyped   = "untyped"
	outcomeMalformed = "malformed_response"
)

// classify sorts a call's error into the kinds a caller can branch on. An
// error that fits none of them is "untyped", which the tests forbid.
func classify(err error) string {
	var (
		unknown *skyvern.OutcomeUnknownError
		apiErr  *skyvern.APIError
		invalid *skyvern.InvalidRequestError
		opErr   *net.OpError
	)
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, skyvern.ErrOutcomeUnknown):
		if errors.As(err, &unknown) {
			return outcomeUnknown
		}
	case errors.As(err, &apiErr):
		return outcomeAPIError
	case errors.As(err, &invalid):
		return outcomeInvalid
	case errors.Is(err, skyvern.ErrMalformedResponse):
		return outcomeMalformed
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return outcomeContext
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return outcomeRefused
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return outcomeDropped
	}
	return outcomeUntyped
}

// tally counts names and prints them sorted, for the summary lines.
type tally map[string]int

func (t tally) String() string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, t[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}
