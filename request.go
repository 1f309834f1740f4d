package skyvern

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

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
	return &OutcomeUnknownError{Method: call.method, Path: call.path, IdempotencyKey: rc.idempotencyKey, Err: err}
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
