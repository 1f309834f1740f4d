package skyvern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Match them with errors.Is; an *APIError matches the one
// that fits its status code.
var (
	// ErrOutcomeUnknown means a call that starts work on the server (RunTask,
	// RunWorkflow, CancelRun, RetryRunWebhook, and CreateWorkflow after its
	// retries) failed in a way that does not tell whether the server acted:
	// a 5xx, a timeout or a dropped connection after the request was sent.
	// [Client.ResolveOutcome] finds the run a RunTask or RunWorkflow created,
	// or proves that none was (ErrNotCreated); check before trying again.
	ErrOutcomeUnknown = errors.New("skyvern: outcome unknown: the server may have processed the request")
	// ErrNotCreated means ResolveOutcome established that an ambiguous
	// RunTask or RunWorkflow created no run and that none can still appear,
	// so sending the request again cannot start a second run. See
	// [Client.ResolveOutcome] for what "established" rests on.
	ErrNotCreated = errors.New("skyvern: not created: the server did not start the run")
	// ErrNotFound matches 404 responses.
	ErrNotFound = errors.New("skyvern: not found")
	// ErrForbidden matches 401 and 403 responses; Skyvern answers a missing
	// or invalid API key with 403.
	ErrForbidden = errors.New("skyvern: forbidden")
	// ErrRateLimited matches 429 responses.
	ErrRateLimited = errors.New("skyvern: rate limited")
	// ErrValidation matches 400 and 422 responses, and requests that the SDK
	// rejects before sending them (*InvalidRequestError).
	ErrValidation = errors.New("skyvern: invalid request")
	// ErrConflict matches 409 responses.
	ErrConflict = errors.New("skyvern: conflict")
	// ErrRunNotFinal means the server refused to act on a run that is not
	// over yet: RetryRunWebhook while the run's workflow retry is pending or
	// its latest attempt has no final decision (a 409). Wait for the run to
	// be final (WaitForRun) and replay then; the error also matches
	// ErrConflict and unwraps to the *APIError.
	ErrRunNotFinal = errors.New("skyvern: run is not final")
	// ErrServer matches 5xx responses.
	ErrServer = errors.New("skyvern: server error")
	// ErrResponseTooLarge means a response body exceeded the client's limit
	// (WithMaxResponseBytes).
	ErrResponseTooLarge = errors.New("skyvern: response body too large")
	// ErrMalformedResponse means a 2xx response body was not the JSON the
	// SDK expected. For a call that starts or changes something the error
	// is also an [*OutcomeUnknownError]: the server answered 2xx, so it did
	// the work.
	ErrMalformedResponse = errors.New("skyvern: malformed response")
	// ErrRedirectRefused means the client did not follow a redirect: one to
	// another host or scheme than the base URL's (following it would hand
	// that host the API key), or any redirect of a call that starts or
	// changes something (following a 307 or 308 sends the request again,
	// which for RunTask is a second run). A refused redirect is not retried.
	// Reads follow redirects within the base URL's host.
	ErrRedirectRefused = errors.New("skyvern: redirect refused")
	// ErrInvalidOption matches the error of a constructor given an invalid
	// option value: [NewClient], [NewMemoryStore], [NewRunHub] and
	// [Webhook.CheckHandlerOptions]. A call given an invalid option returns
	// an [*InvalidRequestError] instead (see "Options" in the package
	// documentation).
	ErrInvalidOption = errors.New("skyvern: invalid option")
)

// Errors of an [IdempotencyStore]. Match them with errors.Is.
var (
	// ErrLeaseLost is returned by [IdempotencyStore] Renew, Complete and
	// Release for a claim token that no longer holds its key: the lease
	// expired and another worker took the key over (and may have completed
	// it), or the token never held it. The event has then been processed,
	// or is being processed, by someone else; the other worker's claim is
	// left alone.
	ErrLeaseLost = errors.New("skyvern: idempotency lease lost to another worker")
	// ErrStoreFull is returned by [MemoryStore.Claim] when the store already
	// holds as many unexpired claims as it may (see [WithStoreMaxClaims]).
	// The webhook handler answers 503 with Retry-After, so Skyvern delivers
	// the event again once claims have finished.
	ErrStoreFull = errors.New("skyvern: idempotency store full of unexpired claims")
)

// APIError is an error status returned by the Skyvern API. Use errors.As to
// get it from any error the Client returns, and errors.Is with the sentinels
// (ErrNotFound, ErrForbidden, ErrRateLimited, ErrValidation, ErrConflict,
// ErrServer) to branch on its kind.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Method and Path identify the call (the path without host or query).
	Method string
	Path   string
	// Detail is the server's message: the "detail" string, the validation
	// messages joined, the "error" string, or the text of a non-JSON body
	// such as a proxy's HTML error page.
	Detail string
	// ValidationErrors holds the items of a 422 {"detail": [...]} body.
	ValidationErrors []ValidationDetail
	// Body is the raw response body, read up to 1 MiB.
	Body []byte
	// RetryAfter is the server's Retry-After hint, if it sent one. A hint
	// longer than the client's cap (WithMaxRetryAfter) ends retrying and is
	// reported here.
	RetryAfter time.Duration
	// Header holds the response headers.
	Header http.Header
}

// ValidationDetail is one item of a request-validation error body, as
// FastAPI produces it.
type ValidationDetail struct {
	// Type is the error type, e.g. "missing".
	Type string `json:"type"`
	// Loc is the location of the offending value, e.g. ["body", "prompt"];
	// integer indexes appear in decimal.
	Loc []string `json:"loc"`
	// Msg is the human-readable message.
	Msg string `json:"msg"`
	// Input is the offending input, if the server echoed it.
	Input json.RawMessage `json:"input,omitempty"`
	// Ctx carries extra context, if any.
	Ctx json.RawMessage `json:"ctx,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler; loc items may be strings or integers.
func (v *ValidationDetail) UnmarshalJSON(data []byte) error {
	type plain ValidationDetail
	var aux struct {
		plain
		Loc []json.RawMessage `json:"loc"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*v = ValidationDetail(aux.plain)
	v.Loc = make([]string, 0, len(aux.Loc))
	for _, raw := range aux.Loc {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			v.Loc = append(v.Loc, s)
			continue
		}
		v.Loc = append(v.Loc, string(bytes.TrimSpace(raw)))
	}
	return nil
}

// Field returns the location joined with dots, e.g. "body.prompt".
func (v ValidationDetail) Field() string { return strings.Join(v.Loc, ".") }

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("skyvern: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.StatusCode))
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteByte(' ')
		b.WriteString(text)
	}
	if e.Detail != "" && !restatesStatus(e.Detail, e.StatusCode) {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	return b.String()
}

// restatesStatus reports whether detail says no more than the status line,
// as a proxy's "Too Many Requests" or "<title>502 Bad Gateway</title>" does.
func restatesStatus(detail string, code int) bool {
	d := strings.TrimSpace(detail)
	text := http.StatusText(code)
	return strings.EqualFold(d, text) || strings.EqualFold(d, strconv.Itoa(code)+" "+text) || d == strconv.Itoa(code)
}

// Is reports whether the error matches one of the status sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrValidation:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// newAPIError reads (at most 1 MiB of) an error response and decodes
// whichever error shape the server used.
func (c *Client) newAPIError(call apiCall, resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	body = redactSecret(body, c.apiKey)
	e := &APIError{
		StatusCode: resp.StatusCode,
		Method:     call.method,
		Path:       call.path,
		Body:       body,
		Header:     resp.Header,
	}
	if d, ok := retryAfter(resp.Header, time.Now()); ok {
		e.RetryAfter = d
	}
	e.Detail, e.ValidationErrors = errorDetail(body, resp.Header.Get("Content-Type"))
	return e
}

// errorDetail turns an error body into a message. Skyvern uses
// {"detail": "..."}, {"detail": [validation items]} and, for unhandled
// exceptions, {"error": "..."}; proxies in front of it send HTML or text.
func errorDetail(body []byte, contentType string) (string, []ValidationDetail) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", nil
	}
	if trimmed[0] == '{' {
		var shape struct {
			Detail  json.RawMessage `json:"detail"`
			Error   json.RawMessage `json:"error"`
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(trimmed, &shape) == nil {
			if msg, items, ok := decodeDetail(shape.Detail); ok {
				return msg, items
			}
			for _, raw := range []json.RawMessage{shape.Error, shape.Message} {
				if msg, _, ok := decodeDetail(raw); ok {
					return msg, nil
				}
			}
			return truncateText(string(trimmed)), nil
		}
	}
	if strings.Contains(contentType, "html") || trimmed[0] == '<' {
		return htmlText(trimmed), nil
	}
	return truncateText(string(trimmed)), nil
}

// decodeDetail reads a "detail"-like value: a string, a list of validation
// items, or any other JSON (shown compactly).
func decodeDetail(raw json.RawMessage) (string, []ValidationDetail, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return truncateText(s), nil, true
	}
	var items []ValidationDetail
	if json.Unmarshal(raw, &items) == nil && len(items) > 0 {
		msgs := make([]string, 0, len(items))
		for _, it := range items {
			if f := it.Field(); f != "" {
				msgs = append(msgs, f+": "+it.Msg)
			} else {
				msgs = append(msgs, it.Msg)
			}
		}
		return truncateText(strings.Join(msgs, "; ")), items, true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for _, k := range []string{"detail", "message", "msg", "error"} {
			if msg, items, ok := decodeDetail(obj[k]); ok {
				return msg, items, true
			}
		}
	}
	return truncateText(string(raw)), nil, true
}

const maxDetailLen = 512

// htmlText extracts readable text from an HTML error page: the title if
// there is one, else the text with tags removed.
func htmlText(b []byte) string {
	lower := bytes.ToLower(b)
	if i := bytes.Index(lower, []byte("<title>")); i >= 0 {
		if j := bytes.Index(lower[i:], []byte("</title>")); j > 0 {
			if t := strings.TrimSpace(string(b[i+len("<title>") : i+j])); t != "" {
				return truncateText(t)
			}
		}
	}
	var out strings.Builder
	inTag := false
	for _, r := range string(b) {
		switch {
		case r == '<':
			inTag = true
			out.WriteByte(' ')
		case r == '>':
			inTag = false
		case !inTag:
			out.WriteRune(r)
		}
	}
	return truncateText(strings.Join(strings.Fields(out.String()), " "))
}

func truncateText(s string) string {
	if len(s) <= maxDetailLen {
		return s
	}
	cut := maxDetailLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactSecret replaces every occurrence of secret in b, so an error body
// that echoes the API key cannot leak it into logs.
func redactSecret(b []byte, secret string) []byte {
	if secret == "" || !bytes.Contains(b, []byte(secret)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(secret), []byte("[REDACTED]"))
}

// redactSecretString is redactSecret for a log or error text.
func redactSecretString(s, secret string) string {
	if secret == "" || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, "[REDACTED]")
}

// OutcomeUnknownError is returned when a call that starts work on the server
// failed after the request may have reached it. errors.Is(err,
// ErrOutcomeUnknown) holds; Err is the underlying failure, which is an
// *APIError when the server answered (a 5xx), so errors.As works too.
type OutcomeUnknownError struct {
	Method string
	Path   string
	// IdempotencyKey is the key the call sent, if any. Sending the call
	// again with the same key (WorkflowRequest.IdempotencyKey) is safe.
	IdempotencyKey string
	Err            error

	// What [Client.ResolveOutcome] needs to find the run a RunTask or
	// RunWorkflow may have created. None of it holds the API key, which
	// travels in a header only.

	// RequestBody is the JSON body that was sent.
	RequestBody []byte
	// ClientRequestID is the unique id the SDK put in a workflow run's
	// run_metadata under [ClientRequestIDKey]; empty for task runs and when
	// the caller's metadata left no room.
	ClientRequestID string
	// AttemptStarts are the times the attempts of the call began, by the
	// client's clock; the last one is the attempt whose outcome is unknown.
	AttemptStarts []time.Time
	// AttemptTimeout is the per-attempt timeout the call ran with (0: none).
	AttemptTimeout time.Duration
	// FailedAt is when the client gave up on the call.
	FailedAt time.Time
}

// Error implements error.
func (e *OutcomeUnknownError) Error() string {
	return "skyvern: " + e.Method + " " + e.Path + ": outcome unknown, the server may have processed the request (check before retrying): " +
		causeText(e.Err, e.Method+" "+e.Path)
}

// Is reports true for ErrOutcomeUnknown.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// Unwrap returns the underlying failure.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// InvalidRequestError is a request the SDK refused to send because the
// server would reject it or, worse, silently ignore part of it, or because
// the call was given an invalid option. errors.Is(err, ErrValidation) holds.
type InvalidRequestError struct {
	// Field is the wire name of the offending field, e.g. "webhook_url", or
	// the name of the offending option, e.g. "WithMaxRetries".
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *InvalidRequestError) Error() string {
	return "skyvern: invalid request: " + e.Field + " " + e.Reason
}

// Is reports true for ErrValidation.
func (e *InvalidRequestError) Is(target error) bool { return target == ErrValidation }

// callError is the error of a call that failed before or after the
// exchange: its message names the call once and then says what went wrong,
// and it still matches everything it wraps.
type callError struct {
	msg     string
	wrapped []error
}

func (e *callError) Error() string   { return e.msg }
func (e *callError) Unwrap() []error { return e.wrapped }

// newCallError names the call, then what went wrong, then the cause's own
// text (without a repeated "skyvern:" prefix).
func newCallError(call apiCall, what string, errs ...error) error {
	msg := "skyvern: " + call.method + " " + call.path + ": " + what
	if len(errs) > 0 {
		last := errs[len(errs)-1]
		if what == "" {
			msg += causeText(last, call.method+" "+call.path)
		} else if last != ErrMalformedResponse && !strings.HasSuffix(what, last.Error()) {
			msg += ": " + causeText(last, call.method+" "+call.path)
		}
	}
	return &callError{msg: msg, wrapped: errs}
}

// transportError reports a failed exchange. net/http's *url.Error repeats
// the method and the whole URL, query included; the message keeps only the
// cause, and the *url.Error stays reachable with errors.As.
func transportError(call apiCall, err error) error {
	return newCallError(call, "", err)
}

// causeText is err's message without what an outer message already says:
// the "skyvern: " prefix, the call's "METHOD path: ", and net/http's
// `Post "https://…": ` preamble.
func causeText(err error, call string) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		if msg := err.Error(); msg == ue.Error() {
			return causeText(ue.Err, call)
		}
	}
	msg := strings.TrimPrefix(err.Error(), "skyvern: ")
	return strings.TrimPrefix(msg, call+": ")
}

// Errors returned by VerifySignature, (*Webhook).Verify and NewWebhook. Match
// them with errors.Is.
var (
	// ErrMissingSignature means the delivery carried no signature, or an
	// empty one.
	ErrMissingSignature = errors.New("skyvern: webhook signature is missing")
	// ErrInvalidSignature means the signature does not authenticate the
	// body: it was forged, computed over other bytes (for example a body
	// that was parsed and re-serialized), made with another key, or is not
	// a signature at all. Every rejection other than ErrMissingSignature and
	// ErrEmptyKey matches it.
	ErrInvalidSignature = errors.New("skyvern: webhook signature is invalid")
	// ErrMalformedSignature means the signature is not 64 lowercase hex
	// characters, so no key could have produced it. It wraps
	// ErrInvalidSignature.
	ErrMalformedSignature = fmt.Errorf("%w: want 64 lowercase hex characters", ErrInvalidSignature)
	// ErrEmptyKey means a verifier was asked to use an empty (or blank) API
	// key. Anyone can compute a signature with the empty key, so such a
	// verifier would accept forgeries; it is refused instead.
	ErrEmptyKey = errors.New("skyvern: webhook verification needs a non-empty API key")
)

// Errors about the x-skyvern-timestamp header, returned by (*Webhook).Verify
// and Parse only when a tolerance is set (see [WithTolerance]).
var (
	// ErrMissingTimestamp means the delivery carried no timestamp.
	ErrMissingTimestamp = errors.New("skyvern: webhook timestamp is missing")
	// ErrMalformedTimestamp means the timestamp is not a decimal count of
	// Unix seconds.
	ErrMalformedTimestamp = errors.New("skyvern: webhook timestamp is not Unix seconds")
	// ErrTimestampOutOfTolerance means the timestamp is further from the
	// verifier's clock than the tolerance, in either direction.
	ErrTimestampOutOfTolerance = errors.New("skyvern: webhook timestamp is outside the tolerance")
)

// ErrMalformedPayload is matched by every *PayloadError: the delivery was
// authentic but its JSON does not fit WebhookPayload.
var ErrMalformedPayload = errors.New("skyvern: malformed webhook payload")

// ErrNoOutput is returned by [Run.DecodeOutput] and
// [WebhookPayload.DecodeOutput] when the run produced no output (the field
// is absent or null).
var ErrNoOutput = errors.New("skyvern: the run has no output")

// ErrNoDownloadURL means an artifact, file or run carries no URL to download
// from (for example a self-hosted server whose storage gives no signed
// links, or a run that made no recording).
var ErrNoDownloadURL = errors.New("skyvern: no download URL")

// ErrUploadTooLarge means the file given to UploadFile was longer than its
// limit (UploadFileParams.MaxBytes). The upload was abandoned before its end,
// so the server stored nothing.
var ErrUploadTooLarge = errors.New("skyvern: upload exceeds the size limit")

// ErrRunListLimit means AllRuns reached the last page the server lets a
// listing reach (MaxRunsPage, or MaxRunsSearchResults with a search or
// workflow filter) while more runs may follow. Narrow the filters to see
// them.
var ErrRunListLimit = errors.New("skyvern: run listing reached the server's paging limit")
