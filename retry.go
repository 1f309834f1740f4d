package skyvern

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// retryClass says how safe it is to send a call again.
type retryClass uint8

const (
	// retryRead: the call changes nothing, so any transient failure
	// (connection error, timeout, 408, 429, 5xx) is retried.
	retryRead retryClass = iota
	// retryIdempotent: a write protected by an Idempotency-Key; retried like
	// a read, plus 409 "still in progress".
	retryIdempotent
	// retryUnsafe: a call that starts work on the server. It is sent again
	// only when the previous attempt provably did not reach the server (the
	// connection could not be made, or nothing was written on it) or was
	// refused with 429. Anything ambiguous ends the call with
	// ErrOutcomeUnknown.
	retryUnsafe
)

// attemptState carries a call's retry policy to checkRetry and the
// transport, which retryablehttp gives only the request's context.
type attemptState struct {
	class          retryClass
	maxRetries     int
	timeout        time.Duration
	maxRetryAfter  time.Duration
	retryAmbiguous bool
	// replayable, when set, reports whether the body can be sent again; a
	// streamed body that has been read from cannot.
	replayable func() bool

	retries int
	// ambiguous is set when an attempt may have been processed by the server
	// without the client learning the result.
	ambiguous bool
	// retryAfterTooLong holds a Retry-After hint above the cap, which ended
	// the retries.
	retryAfterTooLong time.Duration
	// starts records when each attempt began; an unknown outcome carries
	// them so that ResolveOutcome knows where to look (see noteAttempt).
	starts []time.Time

	// Set by the transport's trace hooks, which may run on the transport's
	// own goroutines; reset before each attempt.
	traced       atomic.Bool
	wroteRequest atomic.Bool
}

type attemptStateKey struct{}

func withAttemptState(ctx context.Context, st *attemptState) context.Context {
	return context.WithValue(ctx, attemptStateKey{}, st)
}

func attemptStateFrom(ctx context.Context) *attemptState {
	st, _ := ctx.Value(attemptStateKey{}).(*attemptState)
	return st
}

// attemptTransport applies the per-attempt timeout and, for calls that must
// not be repeated blindly, watches whether the request was written to the
// connection. It sits below the retry loop, so every attempt passes through
// it.
type attemptTransport struct {
	base http.RoundTripper
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := attemptStateFrom(req.Context())
	if st == nil {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	cancel := context.CancelFunc(func() {})
	if st.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, st.timeout)
	}
	if st.class == retryUnsafe {
		st.noteAttempt()
		st.traced.Store(false)
		st.wroteRequest.Store(false)
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { st.traced.Store(true) },
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				// A failed write may still have delivered part of the
				// request; only a write that never started is provably
				// unseen, and a partial body cannot be processed.
				st.wroteRequest.Store(true)
			},
		})
	}
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases the per-attempt timer when the body is closed, so
// the timeout also covers reading the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// checkRetry is retryablehttp's CheckRetry. It decides from the call's
// class, never from the HTTP method alone: retryablehttp's default would
// resend a run-creating POST after a 500.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := attemptStateFrom(ctx)
	if st == nil {
		return false, err
	}
	if err != nil {
		notSent := provablyNotSent(st, err)
		if !notSent {
			st.ambiguous = true
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if permanentTransportError(err) {
			return false, err
		}
		if st.class == retryUnsafe && !notSent && !st.retryAmbiguous {
			return false, err
		}
		return st.spend(), err
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}

	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
		// A 429 is a refusal: the server did not start the work.
		if d, ok := retryAfter(resp.Header, time.Now()); ok && d > st.maxRetryAfter {
			st.retryAfterTooLong = d
			return false, nil
		}
		return st.spend(), nil
	case code == http.StatusRequestTimeout || (code >= 500 && code != http.StatusNotImplemented):
		// The server may have done the work before failing; a write that
		// ends here must say so (with its idempotency key, if it has one).
		if st.class != retryRead {
			st.ambiguous = true
		}
		if st.class == retryUnsafe && !st.retryAmbiguous {
			return false, nil
		}
		if d, ok := retryAfter(resp.Header, time.Now()); ok && d > st.maxRetryAfter {
			st.retryAfterTooLong = d
			return false, nil
		}
		return st.spend(), nil
	case code == http.StatusConflict && st.class == retryIdempotent:
		return st.spend(), nil
	}
	return false, nil
}

// spend takes one retry from the call's budget.
func (st *attemptState) spend() bool {
	if st.retries >= st.maxRetries || (st.replayable != nil && !st.replayable()) {
		return false
	}
	st.retries++
	return true
}

// provablyNotSent reports whether the failed attempt cannot have reached the
// server: the connection was never made, or it was made and nothing was
// written on it.
func provablyNotSent(st *attemptState, err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return st.traced.Load() && !st.wroteRequest.Load()
}

// permanentTransportError reports errors that no retry can fix.
func permanentTransportError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "unsupported protocol scheme") ||
		(strings.Contains(msg, "stopped after") && strings.Contains(msg, "redirects"))
}

// backoff is retryablehttp's Backoff: the server's Retry-After when given
// (checkRetry has already refused hints above the cap), else exponential
// backoff with jitter, so that many clients do not retry in lockstep.
func (c *Client) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			return min(d, c.maxRetryAfter)
		}
	}
	d := minWait
	for i := 0; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	if d <= 0 {
		return 0
	}
	// "Equal jitter": at least half the nominal wait, at most all of it.
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(365*24*time.Hour/time.Second) {
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
