package skyvern

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/skyvern-go/skyvern/internal/boundedread"
	"github.com/skyvern-go/skyvern/internal/keptjson"
)

// apiCall describes one logical API call; do turns it into one or more
// HTTP attempts.
type apiCall struct {
	method string
	path   string // escaped, base path included (see Client.endpoint)
	query  url.Values
	body   any // JSON-encoded when not nil
	class  retryClass
	// sent is the encoded body, kept for an unknown outcome's resolution;
	// clientRequestID is the id stamped into it (see stampClientRequestID).
	sent            []byte
	clientRequestID string
	// noAuth: the route needs no API key, so none is sent (GetVersion).
	noAuth bool
	// stream, when set, is the body instead of body: contentType names it,
	// and open is called for each attempt (see streamBody).
	stream *streamBody
	// header holds the headers of this call alone, set from its request
	// type's fields (x-max-steps-override, x-user-agent, Idempotency-Key).
	header http.Header
	// idempotencyKey is the key the call sends, reported by
	// OutcomeUnknownError.
	idempotencyKey string
}

// streamBody is a request body produced while it is sent, never held in
// memory as a whole.
type streamBody struct {
	contentType string
	// open returns the body for an attempt; it fails once the source has
	// been read from, since a stream cannot be sent twice.
	open func() (io.Reader, error)
	// replayable reports whether another attempt could still send the
	// whole body; checkRetry consults it before any retry.
	replayable func() bool
}

// response is what a successful call read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// replayHeaders are the headers that make net/http treat a POST as
// replayable and resend it by itself after a reused connection dies.
var replayHeaders = []string{"Idempotency-Key", "X-Idempotency-Key"}

// do sends the call with the client's retry policy and returns the response
// of a 2xx answer. Any other outcome is an error: *APIError for an error
// status, a wrapped transport or context error otherwise, and for calls that
// start work on the server, an *OutcomeUnknownError when the server may have
// acted without the client learning the result.
func (c *Client) do(ctx context.Context, call apiCall, rc *requestConfig) (*response, error) {
	if err := contextErr(ctx); err != nil {
		return nil, err
	}
	if rc.err != nil {
		return nil, rc.err
	}
	if call.class != retryRead {
		for _, h := range replayHeaders {
			if _, ok := rc.header[h]; ok {
				// Only the SDK decides when a write is sent again.
				return nil, &InvalidRequestError{Field: h, Reason: "cannot be set with WithHeader on " + call.method + " " + call.path +
					": it would let net/http resend the request by itself (CreateWorkflow takes WorkflowRequest.IdempotencyKey)"}
			}
		}
	}
	var payload []byte
	if call.body != nil {
		var err error
		if payload, err = keptjson.Marshal(call.body); err != nil {
			return nil, newCallError(call, "encoding request", err)
		}
		call.sent = payload
	}

	st := &attemptState{
		method:         call.method,
		path:           call.path,
		class:          call.class,
		maxRetries:     c.maxRetries,
		timeout:        c.requestTimeout,
		maxRetryAfter:  c.maxRetryAfter,
		retryAmbiguous: rc.retryAmbiguous,
	}
	if call.stream != nil {
		st.replayable = call.stream.replayable
	}
	if rc.call.maxRetries != nil {
		st.maxRetries = *rc.call.maxRetries
	}
	if rc.call.requestTimeout != nil {
		st.timeout = *rc.call.requestTimeout
	}

	var rawBody any // retryablehttp rewinds a []byte body on every attempt
	if payload != nil {
		rawBody = payload
	}
	if call.stream != nil {
		// A ReaderFunc is the one body form retryablehttp does not read
		// into memory up front.
		rawBody = retryablehttp.ReaderFunc(call.stream.open)
	}
	req, err := retryablehttp.NewRequestWithContext(withAttemptState(ctx, st), call.method, c.requestURL(call, rc), rawBody)
	if err != nil {
		return nil, newCallError(call, "", err)
	}
	for k, v := range c.headers {
		if call.noAuth && k == "X-Api-Key" {
			continue
		}
		req.Header[k] = v
	}
	if payload != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	if call.stream != nil {
		req.Header["Content-Type"] = []string{call.stream.contentType}
	}
	for k, v := range call.header {
		req.Header[k] = v
	}
	for k, v := range rc.header {
		req.Header[k] = v
	}

	start := time.Now()
	resp, err := c.retry.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		err = c.finish(call, st, transportError(call, err))
		c.logOutcome(ctx, st, 0, time.Since(start), err)
		rc.fillResponse(nil, st)
		return nil, err
	}
	defer resp.Body.Close()
	c.noteDeprecation(ctx, call, resp.Header)

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.newAPIError(call, resp)
		if st.retryAfterTooLong > apiErr.RetryAfter {
			apiErr.RetryAfter = st.retryAfterTooLong
		}
		err := c.finish(call, st, apiErr)
		c.logOutcome(ctx, st, resp.StatusCode, time.Since(start), err)
		rc.fillResponse(resp, st)
		return nil, err
	}
	body, err := readLimited(resp.Body, resp.ContentLength, c.maxResponseBytes)
	if err != nil {
		// The server answered 2xx: it did the work, whatever happened to
		// the body on its way back.
		if call.class != retryRead {
			st.ambiguous = true
		}
		err = c.finish(call, st, newCallError(call, "reading response", err))
		c.logOutcome(ctx, st, resp.StatusCode, time.Since(start), err)
		rc.fillResponse(resp, st)
		return nil, err
	}
	c.logOutcome(ctx, st, resp.StatusCode, time.Since(start), nil)
	rc.fillResponse(resp, st)
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// finish marks err as an unknown outcome when the call may have done work on
// the server.
func (c *Client) finish(call apiCall, st *attemptState, err error) error {
	if call.class == retryRead || !st.ambiguous {
		return err
	}
	ue := &OutcomeUnknownError{Method: call.method, Path: call.path, IdempotencyKey: call.idempotencyKey, Err: err}
	recordForResolution(ue, call, st, c.apiKey)
	return ue
}

// recordForResolution keeps in an unknown outcome what ResolveOutcome needs:
// what was sent (with the API key redacted, should a caller have put it in
// the body) and when each attempt started.
func recordForResolution(ue *OutcomeUnknownError, call apiCall, st *attemptState, apiKey string) {
	ue.RequestBody = redactSecret(bytes.Clone(call.sent), apiKey)
	ue.ClientRequestID = call.clientRequestID
	ue.AttemptStarts = slices.Clone(st.starts)
	ue.AttemptTimeout = st.timeout
	ue.FailedAt = time.Now()
}

// noteAttempt is called by the transport as each attempt of a call that
// starts work begins.
func (st *attemptState) noteAttempt() { st.starts = append(st.starts, time.Now()) }

// ClientRequestIDKey is the run_metadata key under which RunWorkflow sends a
// unique id (32 hex digits) with every run it starts, so that
// [Client.ResolveOutcome] can tell that run from any other: the server
// echoes run_metadata in the run's run_request and applies it as a tag. The
// key follows the server's tag key rules and stays outside its reserved
// "skyvern." namespace. A request whose run_metadata already holds 20 keys
// (the server's limit) is sent without it; resolution then compares the
// echoed request instead, as for tasks. A caller that sets the key itself
// keeps its value, which is then used to find the run.
const ClientRequestIDKey = "skyvern-go.request-id"

// stampClientRequestID returns a copy of req whose run_metadata carries a
// fresh client request id, and the id; the caller's request is not changed.
// It returns req and "" when the metadata has no room left.
func stampClientRequestID(req *WorkflowRunRequest) (*WorkflowRunRequest, string) {
	if id, ok := req.RunMetadata[ClientRequestIDKey]; ok {
		return req, id
	}
	if len(req.RunMetadata) >= maxRunMetadataKeys {
		return req, ""
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	id := hex.EncodeToString(raw[:])
	cp := *req
	cp.RunMetadata = make(map[string]string, len(req.RunMetadata)+1)
	maps.Copy(cp.RunMetadata, req.RunMetadata)
	cp.RunMetadata[ClientRequestIDKey] = id
	return &cp, id
}

func (c *Client) requestURL(call apiCall, rc *requestConfig) string {
	// call.path is already escaped segment by segment (Client.endpoint).
	u := c.baseURL.Scheme + "://" + c.baseURL.Host + call.path
	q := call.query
	if len(rc.query) > 0 {
		q = make(url.Values, len(call.query)+len(rc.query))
		for k, v := range call.query {
			q[k] = v
		}
		for k, v := range rc.query {
			q[k] = append(q[k], v...)
		}
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// readLimited reads a body of at most limit bytes, sized up front from the
// Content-Length when the server sends one.
func readLimited(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the limit of %d bytes", ErrResponseTooLarge, contentLength, limit)
	}
	first := 0
	if contentLength > 0 {
		first = int(min(contentLength, 1<<30)) + 1
	}
	body, err := boundedread.ReadAll(io.LimitReader(r, limit+1), first, limit)
	if errors.Is(err, boundedread.ErrOverLimit) {
		return nil, fmt.Errorf("%w: body exceeds the limit of %d bytes", ErrResponseTooLarge, limit)
	}
	return body, err
}

// decodeJSON decodes a response body into v, naming the call on failure.
// A 2xx body that a call which changes something cannot decode is an
// unknown outcome: the server did the work (see malformedResponse).
func decodeJSON(call apiCall, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return malformedResponse(call, err.Error(), err)
	}
	return nil
}

// malformedResponse reports a 2xx answer whose body is not what the SDK
// expected. For a read it is ErrMalformedResponse; for a call that starts
// or changes something it is an *OutcomeUnknownError as well, since the
// server answered 2xx and so did the work, and sending the call again
// blindly could do it twice.
func malformedResponse(call apiCall, what string, errs ...error) error {
	err := newCallError(call, "malformed response: "+what, append([]error{ErrMalformedResponse}, errs...)...)
	if call.class == retryRead {
		return err
	}
	return &OutcomeUnknownError{Method: call.method, Path: call.path, IdempotencyKey: call.idempotencyKey, Err: err}
}

// Response is the metadata of a call's last HTTP answer, filled in by
// [WithResponse]: the status, the headers, the request id and Skyvern's
// deprecation notices (RFC 9745 Deprecation and RFC 8594 Sunset headers,
// which the API promises at least six months before it removes anything).
type Response struct {
	// StatusCode is the HTTP status of the last answer; 0 when no answer
	// came (a transport error).
	StatusCode int
	// Header holds the last answer's headers.
	Header http.Header
	// RequestID is the X-Request-ID header of the answer (or Request-Id),
	// for support tickets and log correlation; "" if neither was sent.
	RequestID string
	// Attempts is how many HTTP attempts the call made.
	Attempts int
	// Deprecated reports a Deprecation header: the route is or will be
	// deprecated.
	Deprecated bool
	// DeprecatedAt is the date in the Deprecation header ("@<unix
	// seconds>"); zero when the header carries none.
	DeprecatedAt time.Time
	// Sunset is the date in the Sunset header, when the route stops
	// answering; zero when absent.
	Sunset time.Time
	// DeprecationLink is the target of a Link header with
	// rel="deprecation", a page about the change.
	DeprecationLink string
}

// WithResponse makes the call fill in *r with the metadata of its last
// answer, on success and on an error status alike (then r.StatusCode equals
// the *APIError's). On a transport error only r.Attempts is set. A nil r is
// ignored.
func WithResponse(r *Response) RequestOption {
	return requestOption(func(rc *requestConfig) error {
		rc.response = r
		return nil
	})
}

// fillResponse copies the answer's metadata to the caller's Response.
func (rc *requestConfig) fillResponse(resp *http.Response, st *attemptState) {
	if rc.response == nil {
		return
	}
	*rc.response = Response{Attempts: st.attempts}
	if resp == nil {
		return
	}
	r := rc.response
	r.StatusCode, r.Header = resp.StatusCode, resp.Header
	r.RequestID = resp.Header.Get("X-Request-Id")
	if r.RequestID == "" {
		r.RequestID = resp.Header.Get("Request-Id")
	}
	r.Deprecated, r.DeprecatedAt, r.Sunset, r.DeprecationLink = deprecationOf(resp.Header)
}

// deprecationOf reads the Deprecation, Sunset and Link rel="deprecation"
// headers.
func deprecationOf(h http.Header) (deprecated bool, at, sunset time.Time, link string) {
	if v := strings.TrimSpace(h.Get("Deprecation")); v != "" {
		deprecated = true
		if secs, err := strconv.ParseInt(strings.TrimPrefix(v, "@"), 10, 64); err == nil && strings.HasPrefix(v, "@") {
			at = time.Unix(secs, 0).UTC()
		}
	}
	if v := strings.TrimSpace(h.Get("Sunset")); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			sunset = t.UTC()
		}
	}
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok || !strings.Contains(strings.ReplaceAll(strings.ToLower(params), " ", ""), `rel="deprecation"`) {
				continue
			}
			link = strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return deprecated, at, sunset, link
}

// maxNotedDeprecations bounds the routes whose deprecation is remembered.
const maxNotedDeprecations = 256

// noteDeprecation logs a route's Deprecation or Sunset header at WARN, once
// per method and path for the life of the Client, so that a program learns
// of a coming removal without a line per call.
func (c *Client) noteDeprecation(ctx context.Context, call apiCall, h http.Header) {
	if c.logger == nil || (h.Get("Deprecation") == "" && h.Get("Sunset") == "") {
		return
	}
	// Paths carry ids, so the set of noted routes is bounded: past
	// maxNotedDeprecations, a program has been told plenty.
	if c.notedDeprecations.Load() >= maxNotedDeprecations {
		return
	}
	if _, seen := c.deprecations.LoadOrStore(call.method+" "+call.path, struct{}{}); seen {
		return
	}
	c.notedDeprecations.Add(1)
	_, at, sunset, link := deprecationOf(h)
	attrs := []slog.Attr{slog.String("method", call.method), slog.String("path", call.path)}
	if !at.IsZero() {
		attrs = append(attrs, slog.Time("deprecated_at", at))
	}
	if !sunset.IsZero() {
		attrs = append(attrs, slog.Time("sunset", sunset))
	}
	if link != "" {
		attrs = append(attrs, slog.String("link", link))
	}
	c.logger.LogAttrs(ctx, slog.LevelWarn, "skyvern: the API announced that this route is deprecated", attrs...)
}
