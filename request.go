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
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// apiCall describes one logical API call; do turns it into one or more
// HTTP attempts.
type apiCall struct {
	method string
	path   string // escaped, base path included (see Client.endpoint)
	query  url.Values
	body   any // JSON-encoded when not nil; jsonNull sends the literal null
	class  retryClass
	// maxSteps: the route reads x-max-steps-override (WithMaxStepsOverride).
	maxSteps bool
	// sent is the encoded body, kept for an unknown outcome's resolution;
	// clientRequestID is the id stamped into it (see stampClientRequestID).
	sent            []byte
	clientRequestID string
	// noAuth: the route needs no API key, so none is sent (GetVersion).
	noAuth bool
	// stream, when set, is the body instead of body: contentType names it,
	// and open is called for each attempt (see streamBody).
	stream *streamBody
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

// jsonNull is a request body that encodes as the JSON literal null, which
// Skyvern's cancel route expects.
var jsonNull = json.RawMessage("null")

// response is what a successful call read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends the call with the client's retry policy and returns the response
// of a 2xx answer. Any other outcome is an error: *APIError for an error
// status, a wrapped transport or context error otherwise, and for calls that
// start work on the server, an *OutcomeUnknownError when the server may have
// acted without the client learning the result.
func (c *Client) do(ctx context.Context, call apiCall, rc *requestConfig) (*response, error) {
	if err := contextErr(ctx); err != nil {
		return nil, err
	}
	// Headers that only some routes read are refused elsewhere rather than
	// sent and silently ignored; an ignored Idempotency-Key would also make
	// OutcomeUnknownError promise a safe retry that is not.
	if rc.idempotencySet && call.class != retryIdempotent {
		return nil, &InvalidRequestError{Field: "Idempotency-Key", Reason: "is read by CreateWorkflow only"}
	}
	if rc.maxStepsHeader != "" && !call.maxSteps {
		return nil, &InvalidRequestError{Field: "x-max-steps-override", Reason: "is read by RunWorkflow and RetryWorkflowRun only"}
	}
	var payload []byte
	if call.body != nil {
		var err error
		if payload, err = encodeJSON(call.body); err != nil {
			return nil, fmt.Errorf("skyvern: %s %s: encoding request: %w", call.method, call.path, err)
		}
		call.sent = payload
	}

	st := &attemptState{
		class:          call.class,
		maxRetries:     c.maxRetries,
		timeout:        c.requestTimeout,
		maxRetryAfter:  c.maxRetryAfter,
		retryAmbiguous: rc.retryAmbiguous,
	}
	if call.stream != nil {
		st.replayable = call.stream.replayable
	}
	if rc.maxRetries != nil {
		st.maxRetries = *rc.maxRetries
	}
	if rc.timeout != nil {
		st.timeout = *rc.timeout
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
		return nil, fmt.Errorf("skyvern: %s %s: %w", call.method, call.path, err)
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
	if rc.idempotencySet {
		req.Header.Set("Idempotency-Key", rc.idempotencyKey)
	}
	if rc.maxStepsHeader != "" {
		req.Header.Set("x-max-steps-override", rc.maxStepsHeader)
	}
	if rc.triggerUAHeader != "" {
		req.Header.Set("x-user-agent", rc.triggerUAHeader)
	}
	for k, v := range rc.header {
		req.Header[k] = v
	}

	resp, err := c.retry.Do(req)
	if err != nil {
		return nil, c.finish(call, rc, st, fmt.Errorf("skyvern: %s %s: %w", call.method, call.path, err))
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.newAPIError(call, resp)
		if st.retryAfterTooLong > apiErr.RetryAfter {
			apiErr.RetryAfter = st.retryAfterTooLong
		}
		return nil, c.finish(call, rc, st, apiErr)
	}
	body, err := readLimited(resp.Body, resp.ContentLength, c.maxResponseBytes)
	if err != nil {
		// The server answered 2xx: it did the work, whatever happened to
		// the body on its way back.
		if call.class != retryRead {
			st.ambiguous = true
		}
		return nil, c.finish(call, rc, st, fmt.Errorf("skyvern: %s %s: reading response: %w", call.method, call.path, err))
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// finish marks err as an unknown outcome when the call may have done work on
// the server.
func (c *Client) finish(call apiCall, rc *requestConfig, st *attemptState, err error) error {
	if call.class == retryRead || !st.ambiguous {
		return err
	}
	ue := &OutcomeUnknownError{Method: call.method, Path: call.path, IdempotencyKey: rc.idempotencyKey, Err: err}
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

// encodeJSON marshals v without HTML escaping, so prompts and URLs reach the
// server as written.
func encodeJSON(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
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
	body, err := readAll(io.LimitReader(r, limit+1), first, limit)
	if errors.Is(err, errOverLimit) {
		return nil, fmt.Errorf("%w: body exceeds the limit of %d bytes", ErrResponseTooLarge, limit)
	}
	return body, err
}

// decodeJSON decodes a response body into v, naming the call on failure.
func decodeJSON(call apiCall, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("skyvern: %s %s: %w: %w", call.method, call.path, ErrMalformedResponse, err)
	}
	return nil
}
