package skyvern

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	method, path string
	class        retryClass
	// download: a fetch of a presigned URL, which may be redirected off the
	// API host (the key is then dropped; see redirectPolicy).
	download       bool
	maxRetries     int
	timeout        time.Duration
	maxRetryAfter  time.Duration
	retryAmbiguous bool
	// replayable, when set, reports whether the body can be sent again; a
	// streamed body that has been read from cannot.
	replayable func() bool

	retries  int
	attempts int
	// nextWait is the pause before the next attempt, chosen by checkRetry
	// and waited out by prepareRetry.
	nextWait time.Duration
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

// String names the class in log records.
func (c retryClass) String() string {
	switch c {
	case retryRead:
		return "read"
	case retryIdempotent:
		return "idempotent"
	default:
		return "unsafe"
	}
}

// checkRetry is retryablehttp's CheckRetry. It decides from the call's
// class, never from the HTTP method alone: retryablehttp's default would
// resend a run-creating POST after a 500. It also picks the pause before
// the next attempt and logs the attempt.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := attemptStateFrom(ctx)
	if st == nil {
		return false, err
	}
	st.attempts++
	retry, reason, err := st.decide(ctx, resp, err)
	st.nextWait = 0
	if retry {
		st.nextWait = c.backoff(c.retry.RetryWaitMin, c.retry.RetryWaitMax, st.retries-1, resp)
	}
	c.logAttempt(ctx, st, resp, err, retry, reason)
	return retry, err
}

// decide is the retry policy: whether the attempt that ended with resp or
// err is followed by another, and a short reason for the log.
func (st *attemptState) decide(ctx context.Context, resp *http.Response, err error) (bool, string, error) {
	if err != nil {
		notSent := provablyNotSent(st, err)
		if !notSent && !errors.Is(err, ErrRedirectRefused) {
			st.ambiguous = true
		}
		if ctx.Err() != nil {
			return false, "context done", ctx.Err()
		}
		if permanentTransportError(err) {
			return false, "permanent error", err
		}
		if st.class == retryUnsafe && !notSent && !st.retryAmbiguous {
			return false, "not safe to resend", err
		}
		retry, reason := st.spendFor("transport error")
		return retry, reason, err
	}
	if ctx.Err() != nil {
		return false, "context done", ctx.Err()
	}

	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
		// A 429 is a refusal: the server did not start the work.
		if st.retryAfterAboveCap(resp) {
			return false, "retry-after above cap", nil
		}
		retry, reason := st.spendFor("rate limited")
		return retry, reason, nil
	case code == http.StatusRequestTimeout || (code >= 500 && code != http.StatusNotImplemented):
		// The server may have done the work before failing; a write that
		// ends here must say so (with its idempotency key, if it has one).
		if st.class != retryRead {
			st.ambiguous = true
		}
		if st.class == retryUnsafe && !st.retryAmbiguous {
			return false, "not safe to resend", nil
		}
		if st.retryAfterAboveCap(resp) {
			return false, "retry-after above cap", nil
		}
		retry, reason := st.spendFor("server error")
		return retry, reason, nil
	case code == http.StatusConflict && st.class == retryIdempotent:
		if st.retryAfterAboveCap(resp) {
			return false, "retry-after above cap", nil
		}
		retry, reason := st.spendFor("in progress")
		return retry, reason, nil
	case code >= 200 && code <= 299:
		return false, "success", nil
	}
	return false, "not retryable", nil
}

// retryAfterAboveCap reports a Retry-After hint above the client's cap,
// which ends the retries and is reported in the call's *APIError.
func (st *attemptState) retryAfterAboveCap(resp *http.Response) bool {
	if d, ok := retryAfter(resp.Header, time.Now()); ok && d > st.maxRetryAfter {
		st.retryAfterTooLong = d
		return true
	}
	return false
}

// spendFor spends a retry for the given reason, and says why the attempt
// is or is not followed by another.
func (st *attemptState) spendFor(reason string) (bool, string) {
	if st.spend() {
		return true, reason
	}
	return false, "retries exhausted"
}

// prepareRetry is retryablehttp's PrepareRetry: it waits out the pause that
// checkRetry chose, or returns when the call's context ends.
func (c *Client) prepareRetry(req *http.Request) error {
	st := attemptStateFrom(req.Context())
	if st == nil || st.nextWait <= 0 {
		return nil
	}
	timer := time.NewTimer(st.nextWait)
	defer timer.Stop()
	select {
	case <-req.Context().Done():
		return req.Context().Err()
	case <-timer.C:
		return nil
	}
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
	if errors.Is(err, ErrRedirectRefused) {
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

// logAttempt logs an attempt that failed (an error or a non-2xx status):
// at INFO when another attempt follows, at DEBUG when the call ends with it
// (the call's outcome record then says how). Paths never carry the query
// string, and nothing logged carries the API key.
func (c *Client) logAttempt(ctx context.Context, st *attemptState, resp *http.Response, err error, retry bool, reason string) {
	if c.logger == nil || (err == nil && resp != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299) {
		return
	}
	level, msg := slog.LevelDebug, "skyvern: attempt failed"
	if retry {
		level, msg = slog.LevelInfo, "skyvern: retrying"
	}
	if !c.logger.Enabled(ctx, level) {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	attrs := c.logAttrs(st, "attempt", status, err, slog.Bool("retry", retry), slog.String("reason", reason))
	if retry {
		attrs = append(attrs, slog.Duration("wait", st.nextWait))
	}
	c.logger.LogAttrs(ctx, level, msg, attrs...)
}

// logOutcome logs how a call ended: at DEBUG on success, at WARN otherwise.
func (c *Client) logOutcome(ctx context.Context, st *attemptState, status int, elapsed time.Duration, err error) {
	if c.logger == nil {
		return
	}
	level, outcome := slog.LevelDebug, "ok"
	var apiErr *APIError
	switch {
	case err == nil:
	case errors.Is(err, ErrOutcomeUnknown):
		level, outcome = slog.LevelWarn, "outcome_unknown"
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		level, outcome = slog.LevelWarn, "context_done"
	case errors.As(err, &apiErr):
		level, outcome = slog.LevelWarn, "api_error"
	default:
		level, outcome = slog.LevelWarn, "failed"
	}
	if !c.logger.Enabled(ctx, level) {
		return
	}
	attrs := c.logAttrs(st, "attempts", status, err, slog.String("outcome", outcome), slog.Duration("elapsed", elapsed))
	c.logger.LogAttrs(ctx, level, "skyvern: call", attrs...)
}

// logAttrs are the attributes every record of a call carries: the call, the
// attempt count under countKey, the retry class, then extra, the status if
// an answer came and the error's text (without what the record already
// says, and with the key redacted should a server have echoed it).
func (c *Client) logAttrs(st *attemptState, countKey string, status int, err error, extra ...slog.Attr) []slog.Attr {
	attrs := append([]slog.Attr{
		slog.String("method", st.method),
		slog.String("path", st.path),
		slog.Int(countKey, st.attempts),
		slog.String("retry_class", st.class.String()),
	}, extra...)
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", redactSecretString(causeText(err, st.method+" "+st.path), c.apiKey)))
	}
	return attrs
}

// redirectPolicy is the copied http.Client's CheckRedirect. The API key is
// a header on every request, and net/http keeps custom headers on a
// redirect, so a redirect to another host would hand it the key: such
// redirects are refused, as is any redirect of a call that changes
// something (a 307 or 308 re-sends the body, which for RunTask is a second
// run; a 301, 302 or 303 turns it into a GET of some other route). Reads
// follow redirects within the base URL's scheme and host, then the caller's
// own policy, if any, applies.
func (c *Client) redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	limit := func(req *http.Request, via []*http.Request) error {
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return func(req *http.Request, via []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		if st := attemptStateFrom(req.Context()); st != nil && st.download {
			// A download may be sent from the API to a storage host: let it
			// go, but without the key.
			if !c.sameAPIOrigin(req.URL) {
				req.Header.Del("X-Api-Key")
			}
			return limit(req, via)
		}
		if req.URL.Scheme != c.baseURL.Scheme || !strings.EqualFold(req.URL.Host, c.baseURL.Host) {
			return fmt.Errorf("%w: a %d to %s://%s, another host than the base URL's, which would receive the API key", ErrRedirectRefused, status, req.URL.Scheme, req.URL.Host)
		}
		if st := attemptStateFrom(req.Context()); st != nil && st.class != retryRead {
			return fmt.Errorf("%w: a %d on a call that changes something: following it would send the request again", ErrRedirectRefused, status)
		}
		return limit(req, via)
	}
}
