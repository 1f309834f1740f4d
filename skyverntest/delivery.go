package skyverntest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// Skyvern's delivery rules (services/webhook_delivery.py).
const (
	deliveryMaxAttempts = 3
	retryAfterCap       = 30 * time.Second
	// webhookUserAgent is what Skyvern's httpx client sends.
	webhookUserAgent = "python-httpx/0.28.1"
	// maxReceiverBody bounds what is read of a receiver's answer.
	maxReceiverBody = 1 << 20
	// replayBodyLimit is where retry_webhook truncates the receiver's body.
	replayBodyLimit = 2048
)

// errNotLoopback refuses deliveries that would leave the machine.
var errNotLoopback = errors.New("skyverntest delivers webhooks to loopback hosts only (see WithWebhookTransport)")

// pendingDelivery is a webhook ready to be sent: the exact bytes, signed
// with the key of the request that created the run.
type pendingDelivery struct {
	runID       string
	url         string
	body        []byte
	key         string
	completedV2 bool // a transport failure fails a completed task v2 run
	// calls is how many delivery calls (of up to three requests each) the
	// webhook may use: one, or policyDeliveryCalls for a workflow with a
	// retry policy.
	calls   int
	attempt *attemptRecord // the attempt reported, for webhook_sent_at
	interim bool
}

// pendingDeliveryLocked builds the webhook of a run in its current state,
// or returns nil when the run has no webhook URL.
func (s *Server) pendingDeliveryLocked(r *run) *pendingDelivery {
	if r.webhookURL == "" {
		return nil
	}
	d := &pendingDelivery{
		runID:       r.id,
		url:         r.webhookURL,
		body:        pyjson.Encode(s.webhookPayloadLocked(r, false), pyjson.Webhook),
		key:         r.signingKey,
		completedV2: r.runType == skyvern.RunTypeTaskV2 && r.status == skyvern.RunStatusCompleted,
		calls:       1,
		interim:     r.retryPending,
	}
	if r.policy() != nil {
		d.calls = policyDeliveryCalls
		if n := len(r.attempts); n > 0 {
			d.attempt = r.attempts[n-1]
		}
	}
	return d
}

func newWebhookClient(rt http.RoundTripper) (*http.Client, *http.Transport) {
	var own *http.Transport
	if rt == nil {
		own = &http.Transport{
			Proxy:               nil,
			DialContext:         dialLoopback,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		}
		rt = own
	}
	return &http.Client{
		Transport: rt,
		// httpx does not follow redirects by default; a 3xx is a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, own
}

func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNotLoopback}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// attemptResult is what one POST to a receiver produced.
type attemptResult struct {
	status     int
	body       []byte
	retryAfter string
	errType    string // httpx exception class, "" when a response arrived
	errMsg     string
	timeout    bool
	latency    time.Duration
	sent       http.Header
}

func (a *attemptResult) ok() bool { return a.errType == "" && a.status >= 200 && a.status < 300 }

func (a *attemptResult) retryable() bool {
	if a.errType != "" {
		return true
	}
	switch a.status {
	case 403, 408, 425, 429:
		return true
	}
	return a.status >= 500 && a.status <= 599
}

// errorText is the exception as Skyvern formats it: "Type: message", or
// just "Type" when the message is empty.
func (a *attemptResult) errorText() string {
	if a.errMsg == "" {
		return a.errType
	}
	return a.errType + ": " + a.errMsg
}

func (a *attemptResult) failureReason() string {
	if a.errType != "" {
		return "Webhook delivery failed before receiving a response: " + a.errorText()
	}
	return fmt.Sprintf("Webhook failed with status code %d, error message: %s", a.status, a.body)
}

// send makes one POST of body to url with Skyvern's headers.
func (s *Server) send(ctx context.Context, url string, body []byte, ts, sig string, timeout time.Duration) attemptResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var res attemptResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		res.errType, res.errMsg = "UnsupportedProtocol", err.Error()
		return res
	}
	// Lower-case names as httpx writes them; Go sends map keys verbatim.
	req.Header["x-skyvern-timestamp"] = []string{ts}
	req.Header["x-skyvern-signature"] = []string{sig}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhookUserAgent)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	res.sent = canonicalHeader(req.Header)
	res.sent.Set("Content-Length", strconv.Itoa(len(body)))

	var connected atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	}))
	start := time.Now()
	resp, err := s.hookHTTP.Do(req)
	if err == nil {
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxReceiverBody))
		_ = resp.Body.Close()
		res.status = resp.StatusCode
		res.retryAfter = resp.Header.Get("Retry-After")
		if err != nil {
			res.status, res.body = 0, nil
		}
	}
	res.latency = time.Since(start)
	if err != nil {
		res.errType, res.errMsg, res.timeout = classifyTransportError(ctx, err, connected.Load())
	}
	return res
}

func canonicalHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
	}
	return out
}

// classifyTransportError names a Go transport error after the httpx
// exception Skyvern would have seen, since that name ends up in
// webhook_failure_reason.
func classifyTransportError(ctx context.Context, err error, connected bool) (typ, msg string, timeout bool) {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		if connected {
			return "ReadTimeout", "", true
		}
		return "ConnectTimeout", "", true
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errNotLoopback):
		return "ConnectError", errNotLoopback.Error(), false
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ConnectError", "[Errno 111] Connection refused", false
	case errors.As(err, &dnsErr):
		return "ConnectError", "[Errno -2] Name or service not known", false
	case errors.Is(err, syscall.ECONNRESET):
		return "ReadError", "[Errno 104] Connection reset by peer", false
	case connected && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return "RemoteProtocolError", "Server disconnected without sending a response.", false
	}
	var ue interface{ Unwrap() error }
	for errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	if connected {
		return "ReadError", err.Error(), false
	}
	return "ConnectError", err.Error(), false
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(secs) && !math.IsInf(secs, 0) {
		return max(time.Duration(secs*float64(time.Second)), 0), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryDelay is the wait before retry n (0 before the second attempt).
func (s *Server) retryDelay(n int, retryAfter string) time.Duration {
	if ra, ok := parseRetryAfter(retryAfter, s.now()); ok {
		return min(ra, retryAfterCap)
	}
	if s.cfg.backoff != nil {
		return max(s.cfg.backoff(n), 0)
	}
	s.mu.Lock()
	jitter := s.rnd.Float64()
	s.mu.Unlock()
	return time.Duration((math.Pow(2, float64(n)) + jitter) * float64(time.Second))
}

// deliver sends a webhook with Skyvern's retry rules: up to three attempts,
// the same body and timestamp each time, in each of d.calls delivery calls
// (a workflow with a retry policy reserves fifteen per kind and attempt, so
// up to 45 requests). It records the outcome on the run and returns it; ok
// is false when the server closed mid-delivery.
func (s *Server) deliver(d *pendingDelivery) (WebhookDelivery, bool) {
	ts := strconv.FormatInt(s.now().Unix(), 10)
	sig := skyvern.Sign(d.body, d.key)
	wd := WebhookDelivery{RunID: d.runID, URL: d.url, Interim: d.interim}
	var last attemptResult
	limit := deliveryMaxAttempts * max(d.calls, 1)
	for n := 1; ; n++ {
		sentAt := s.now()
		last = s.send(s.ctx, d.url, d.body, ts, sig, s.cfg.deliveryTimeout)
		if s.ctx.Err() != nil {
			return wd, false
		}
		a := newAttempt(d.runID, d.url, n, false, d.body, sentAt, &last)
		retry := !last.ok() && n < limit && last.retryable()
		if retry {
			// Each call restarts Skyvern's backoff.
			a.RetryDelay = s.retryDelay((n-1)%deliveryMaxAttempts, last.retryAfter)
		}
		s.recordAttempt(a)
		wd.Attempts = append(wd.Attempts, a)
		if !retry {
			break
		}
		if !s.sleep(s.ctx, time.Duration(float64(a.RetryDelay)*s.cfg.timeScale)) {
			return wd, false
		}
	}
	if !last.ok() {
		wd.FailureReason = last.failureReason()
	}
	s.finishDelivery(d, wd, last.errType != "")
	return wd, true
}

func newAttempt(runID, url string, n int, replay bool, body []byte, at time.Time, res *attemptResult) DeliveryAttempt {
	a := DeliveryAttempt{
		RunID: runID, URL: url, Attempt: n, Replay: replay,
		Header: res.sent, Body: body, Time: at, Duration: res.latency,
		StatusCode: res.status, ResponseBody: string(res.body),
	}
	if res.errType != "" {
		a.Err = res.errorText()
	}
	return a
}

// finishDelivery stores the delivery's outcome on the run. A task v2 run
// that completed but whose webhook could not be sent at all is failed, as
// Skyvern's task v2 runner does.
func (s *Server) finishDelivery(d *pendingDelivery, wd WebhookDelivery, transportFailure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.attempt != nil && wd.FailureReason == "" {
		d.attempt.webhookSentAt = s.now()
	}
	if r := s.runs[d.runID]; r != nil {
		reason := wd.FailureReason
		r.webhookFailureReason = &reason
		if d.completedV2 && transportFailure && r.status == skyvern.RunStatusCompleted {
			r.status = skyvern.RunStatusFailed
			r.failureReason = stringPtr("Failed to run task 2.0: Failed to send webhook.    task_v2_id=" + r.id)
			r.modifiedAt = s.now()
		}
	}
	s.webhooks = append(s.webhooks, wd)
	s.notifyLocked()
}

func (s *Server) recordAttempt(a DeliveryAttempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
	s.notifyLocked()
}

// handleRetryWebhook replays a run's webhook once, synchronously, and
// reports what the receiver answered (webhook_service.replay_run_webhook).
func (s *Server) handleRetryWebhook(w http.ResponseWriter, req *http.Request, c *call) {
	var override *string
	if c.body != nil {
		obj, ok := requireObject(w, c.body)
		if !ok {
			return
		}
		f := newFields(obj, "body")
		override = f.str("webhook_url")
		if len(f.errs) > 0 {
			writeValidation(w, f.errs)
			return
		}
	}
	id := c.params[0]
	s.mu.Lock()
	r := s.runs[id]
	herr := replayCheck(r, id)
	var target string
	var body []byte
	if herr == nil {
		target, herr = replayTarget(r, override)
	}
	if herr == nil {
		body = pyjson.Encode(s.webhookPayloadLocked(r, true), pyjson.Webhook)
	}
	s.mu.Unlock()
	if herr != nil {
		herr.write(w)
		return
	}

	ts := strconv.FormatInt(s.now().Unix(), 10)
	sig := skyvern.Sign(body, c.apiKey)
	sentAt := s.now()
	ctx, stop := s.withServerContext(req.Context())
	defer stop()
	res := s.send(ctx, target, body, ts, sig, s.cfg.replayTimeout)
	s.recordAttempt(newAttempt(id, target, 1, true, body, sentAt, &res))

	headers := pyjson.NewObject()
	headers.Set(skyvern.TimestampHeader, pyjson.String(ts))
	headers.Set(skyvern.SignatureHeader, pyjson.String(sig))
	headers.Set("Content-Type", pyjson.String("application/json"))
	out := pyjson.NewObject()
	out.Set("run_id", pyjson.String(id))
	out.Set("run_type", pyjson.String(r.runType))
	out.Set("default_webhook_url", stringValue(optionalString(r.webhookURL)))
	out.Set("target_webhook_url", pyjson.String(target))
	out.Set("payload", pyjson.String(body))
	out.Set("headers", headers)
	if res.errType != "" {
		out.Set("status_code", pyjson.Null{})
	} else {
		out.Set("status_code", pyjson.Int(strconv.Itoa(res.status)))
	}
	out.Set("latency_ms", pyjson.Int(strconv.FormatInt(res.latency.Milliseconds(), 10)))
	out.Set("response_body", stringValue(truncateReplayBody(res.body)))
	out.Set("error", stringValue(s.replayError(&res)))
	writeJSON(w, http.StatusOK, out)
}

// replayCheck applies retry_webhook's preconditions.
func replayCheck(r *run, id string) *httpError {
	switch {
	case r == nil:
		return &httpError{http.StatusNotFound, "Run " + id + " not found"}
	case !r.status.IsTerminal():
		return &httpError{http.StatusBadRequest, fmt.Sprintf("Run %s has not reached a terminal state (status=%s).", id, r.status)}
	case r.retryPending:
		return notFinalError(id)
	case r.runType == skyvern.RunTypeYutoriNavigator:
		return &httpError{http.StatusBadRequest, fmt.Sprintf("Run type %s is not supported for webhook replay.", r.runType)}
	}
	return nil
}

// replayTarget is the URL a replay goes to: the body's webhook_url
// (validated like any URL field), else the run's stored one.
func replayTarget(r *run, override *string) (string, *httpError) {
	if override != nil && *override != "" {
		return normalizeURL(*override)
	}
	if r.webhookURL == "" {
		return "", &httpError{http.StatusBadRequest, "No webhook URL configured for the run."}
	}
	return r.webhookURL, nil
}

func (s *Server) replayError(res *attemptResult) *string {
	switch {
	case res.errType == "":
		return nil
	case res.timeout:
		return stringPtr(fmt.Sprintf("Request timed out after %s seconds.",
			strconv.FormatFloat(s.cfg.replayTimeout.Seconds(), 'f', -1, 64)))
	}
	return stringPtr("Could not reach URL: " + res.errMsg)
}

func truncateReplayBody(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	text := string(b)
	if r := []rune(text); len(r) > replayBodyLimit {
		text = string(r[:replayBodyLimit]) + "\n... (truncated)"
	}
	return &text
}

func stringValue(s *string) pyjson.Value {
	if s == nil {
		return pyjson.Null{}
	}
	return pyjson.String(*s)
}
