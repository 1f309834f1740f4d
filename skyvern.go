package skyvern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Version is the version of this SDK, sent in the User-Agent header.
const Version = "0.2.0"

// Base URLs of the Skyvern deployments.
const (
	// BaseURLCloud is Skyvern Cloud, the default.
	BaseURLCloud = "https://api.skyvern.com"
	// BaseURLStaging is Skyvern's staging deployment.
	BaseURLStaging = "https://api-staging.skyvern.com"
	// BaseURLLocal is the default address of a self-hosted server.
	BaseURLLocal = "http://localhost:8000"
)

// Defaults of the client's options.
const (
	DefaultMaxRetries       = 2
	DefaultRequestTimeout   = 2 * time.Minute
	DefaultMaxRetryAfter    = 30 * time.Second
	DefaultMaxResponseBytes = 64 << 20
	defaultRetryWaitMin     = 500 * time.Millisecond
	defaultRetryWaitMax     = 8 * time.Second
	// Skyvern answers retry_webhook only after its own delivery attempt, which
	// may take 60 s, so the header timeout must be longer than that.
	defaultResponseHeaderTimeout = 90 * time.Second
	maxErrorBodyBytes            = 1 << 20
)

// Client calls the Skyvern API. It is safe for concurrent use by multiple
// goroutines; create one and reuse it.
type Client struct {
	baseURL *url.URL
	apiKey  string
	// headers holds the headers sent on every request (x-api-key,
	// User-Agent, Accept), built once.
	headers          http.Header
	retry            *retryablehttp.Client
	maxRetries       int
	requestTimeout   time.Duration
	maxRetryAfter    time.Duration
	maxResponseBytes int64
	logger           *slog.Logger
	// deprecations holds the "METHOD path" keys whose Deprecation or
	// Sunset header was logged already; a pointer, so that the Client can
	// be formatted by value (see Format).
	deprecations      *sync.Map
	notedDeprecations *atomic.Int64
	// autoResolve is WithOutcomeResolution's resend bound (nil: off);
	// ledger remembers run-creating calls for ResolveOutcome.
	autoResolve *int
	ledger      *creationLedger
}

type clientConfig struct {
	baseURL          string
	httpClient       *http.Client
	call             callSettings
	logger           *slog.Logger
	retryWaitMin     time.Duration
	retryWaitMax     time.Duration
	maxRetryAfter    time.Duration
	maxResponseBytes int64
	userAgentSuffix  string
}

// callSettings holds the knobs valid both on the client and on one call
// (see [SharedOption]); nil means "not set here".
type callSettings struct {
	maxRetries     *int
	requestTimeout *time.Duration
	// autoResolve is WithOutcomeResolution's resend bound (nil: off).
	autoResolve *int
}

// Option configures a [Client] in [NewClient]. The options follow the
// package's one rule (see "Options" in the package documentation): a nil
// option is ignored, a zero value selects the documented default, and an
// invalid value makes NewClient return an error.
type Option interface {
	applyClient(*clientConfig) error
}

// RequestOption adjusts a single call, on top of the Client's
// configuration. Under the package's rule for options, an invalid one makes
// the call return an [*InvalidRequestError] before anything is sent.
type RequestOption interface {
	applyRequest(*requestConfig) error
}

// SharedOption is an option valid at both levels: given to [NewClient] it
// sets the client's default, given to a call it overrides that default for
// the call alone. It satisfies both [Option] and [RequestOption].
// [WithRequestTimeout] and [WithMaxRetries] return one; the zero
// SharedOption sets nothing.
type SharedOption struct {
	set func(*callSettings) error
}

func (o SharedOption) applyClient(c *clientConfig) error {
	if o.set == nil {
		return nil
	}
	return o.set(&c.call)
}

func (o SharedOption) applyRequest(rc *requestConfig) error {
	if o.set == nil {
		return nil
	}
	return o.set(&rc.call)
}

// clientOption is an [Option] valid in NewClient only.
type clientOption func(*clientConfig) error

func (o clientOption) applyClient(c *clientConfig) error {
	if o == nil {
		return nil
	}
	return o(c)
}

// requestOption is a [RequestOption] valid on a call only.
type requestOption func(*requestConfig) error

func (o requestOption) applyRequest(rc *requestConfig) error {
	if o == nil {
		return nil
	}
	return o(rc)
}

// optionError is an invalid option value. NewClient returns it as is; a
// call reports it as an *InvalidRequestError naming the option.
type optionError struct {
	option string
	reason string
}

func (e *optionError) Error() string { return "skyvern: " + e.option + ": " + e.reason }

// Is reports true for ErrInvalidOption.
func (e *optionError) Is(target error) bool { return target == ErrInvalidOption }

func invalidOption(option, format string, args ...any) error {
	return &optionError{option: option, reason: fmt.Sprintf(format, args...)}
}

// firstInvalid keeps the first invalid value among the options of a
// constructor whose options cannot return errors themselves.
type firstInvalid struct{ err error }

func (f *firstInvalid) invalid(option, format string, args ...any) {
	if f.err == nil {
		f.err = invalidOption(option, format, args...)
	}
}

// setPositive applies the options rule to a size, count or duration: a
// negative v is recorded as invalid, zero leaves *dst at its default, and a
// positive v is stored.
func setPositive[T ~int | ~int64](f *firstInvalid, option string, v T, dst *T) {
	switch {
	case v < 0:
		f.invalid(option, "must not be negative, got %v", v)
	case v > 0:
		*dst = v
	}
}

// asInvalidRequest turns an option's error into the error a call returns.
func asInvalidRequest(err error) error {
	var oe *optionError
	if errors.As(err, &oe) {
		return &InvalidRequestError{Field: oe.option, Reason: oe.reason}
	}
	return err
}

// WithBaseURL sets the API's base URL (default [BaseURLCloud]; "" selects
// it). It must be an absolute http or https URL without credentials; a path
// prefix is kept.
func WithBaseURL(u string) Option {
	return clientOption(func(c *clientConfig) error {
		if u == "" {
			u = BaseURLCloud
		}
		c.baseURL = u
		return nil
	})
}

// WithHTTPClient sets the HTTP client used for each attempt; use it for
// proxies, tracing or recording transports. nil selects the default, a
// transport that also bounds the wait for response headers. The client is
// copied, so later changes to hc do not affect the Client. Its Timeout, if
// any, applies to each attempt; retries happen above it. Its CheckRedirect,
// if any, runs after the SDK's own redirect policy (see [ErrRedirectRefused]).
func WithHTTPClient(hc *http.Client) Option {
	return clientOption(func(c *clientConfig) error {
		c.httpClient = hc
		return nil
	})
}

// WithMaxRetries sets how many times a retryable request is retried: at
// most n+1 attempts. Given to NewClient it sets the client's budget
// (default [DefaultMaxRetries]); given to a call, that call's. 0 turns
// retries off; a negative n is invalid.
func WithMaxRetries(n int) SharedOption {
	return SharedOption{set: func(s *callSettings) error {
		if n < 0 {
			return invalidOption("WithMaxRetries", "must not be negative, got %d", n)
		}
		s.maxRetries = &n
		return nil
	}}
}

// WithRequestTimeout bounds each attempt, from sending the request to
// reading the whole response. Given to NewClient it sets the client's bound
// (default [DefaultRequestTimeout]); given to a call, that call's. 0 selects
// the default (the client's, for a call); a negative d is invalid. The
// context passed to a call bounds the call as a whole, retries and backoff
// included.
func WithRequestTimeout(d time.Duration) SharedOption {
	return SharedOption{set: func(s *callSettings) error {
		if d < 0 {
			return invalidOption("WithRequestTimeout", "must not be negative, got %v", d)
		}
		if d == 0 {
			s.requestTimeout = nil
			return nil
		}
		s.requestTimeout = &d
		return nil
	}}
}

// WithLogger makes the client log to l: one record per failed or retried
// attempt and one per call outcome (see "Logging" in the package
// documentation). nil, the default, keeps the client silent. Records never
// contain the API key or query strings.
func WithLogger(l *slog.Logger) Option {
	return clientOption(func(c *clientConfig) error {
		c.logger = l
		return nil
	})
}

// WithRetryWait sets the bounds of the jittered exponential backoff between
// attempts (default 500 ms to 8 s; 0 selects the default of either bound).
// Negative bounds, or a maximum below the minimum, are invalid. A
// Retry-After header overrides the backoff.
func WithRetryWait(minWait, maxWait time.Duration) Option {
	return clientOption(func(c *clientConfig) error {
		if minWait == 0 {
			minWait = defaultRetryWaitMin
		}
		if maxWait == 0 {
			maxWait = max(defaultRetryWaitMax, minWait)
		}
		if minWait < 0 || maxWait < minWait {
			return invalidOption("WithRetryWait", "need 0 <= min <= max, got %v and %v", minWait, maxWait)
		}
		c.retryWaitMin, c.retryWaitMax = minWait, maxWait
		return nil
	})
}

// WithMaxRetryAfter caps how long the client waits when the server answers
// with Retry-After (default [DefaultMaxRetryAfter]; 0 selects it). A longer
// hint ends retrying, whatever the status (429, 409, 5xx): the call returns
// an [*APIError] whose RetryAfter field holds the hint. A negative d is
// invalid.
func WithMaxRetryAfter(d time.Duration) Option {
	return clientOption(func(c *clientConfig) error {
		if d < 0 {
			return invalidOption("WithMaxRetryAfter", "must not be negative, got %v", d)
		}
		if d == 0 {
			d = DefaultMaxRetryAfter
		}
		c.maxRetryAfter = d
		return nil
	})
}

// WithMaxResponseBytes caps the size of a successful response body (default
// [DefaultMaxResponseBytes], 64 MiB, since run outputs can be large; 0
// selects it). A larger body fails the call with [ErrResponseTooLarge].
// Error bodies are always read up to 1 MiB. A negative n is invalid.
//
// The cap is also what one call may buffer: a body announced larger by its
// Content-Length is refused unread, and one that streams past the cap is
// dropped once the cap is read, having held about the cap plus 1 MiB.
func WithMaxResponseBytes(n int64) Option {
	return clientOption(func(c *clientConfig) error {
		if n < 0 {
			return invalidOption("WithMaxResponseBytes", "must not be negative, got %d", n)
		}
		if n == 0 {
			n = DefaultMaxResponseBytes
		}
		c.maxResponseBytes = n
		return nil
	})
}

// WithUserAgent appends s to the User-Agent header, e.g. "my-app/1.2"; ""
// appends nothing. Control characters are invalid.
func WithUserAgent(s string) Option {
	return clientOption(func(c *clientConfig) error {
		if !validHeaderValue(s) {
			return invalidOption("WithUserAgent", "must not contain control characters")
		}
		c.userAgentSuffix = s
		return nil
	})
}

// NewClient returns a Client that authenticates with apiKey. An empty key is
// an error, and so is an invalid option; the library never reads the
// environment, so a program decides for itself where the key comes from
// (typically os.Getenv("SKYVERN_API_KEY")).
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	if isBlank(apiKey) {
		return nil, errors.New("skyvern: NewClient: the API key is empty")
	}
	if !validHeaderValue(apiKey) {
		return nil, errors.New("skyvern: NewClient: the API key contains control characters")
	}
	cfg := clientConfig{
		baseURL:          BaseURLCloud,
		retryWaitMin:     defaultRetryWaitMin,
		retryWaitMax:     defaultRetryWaitMax,
		maxRetryAfter:    DefaultMaxRetryAfter,
		maxResponseBytes: DefaultMaxResponseBytes,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyClient(&cfg); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(cfg.baseURL)
	if err != nil {
		return nil, err
	}

	c := &Client{
		baseURL:           base,
		apiKey:            apiKey,
		maxRetries:        DefaultMaxRetries,
		requestTimeout:    DefaultRequestTimeout,
		maxRetryAfter:     cfg.maxRetryAfter,
		maxResponseBytes:  cfg.maxResponseBytes,
		logger:            cfg.logger,
		deprecations:      new(sync.Map),
		notedDeprecations: new(atomic.Int64),
		ledger:            new(creationLedger),
	}
	if cfg.call.maxRetries != nil {
		c.maxRetries = *cfg.call.maxRetries
	}
	if cfg.call.requestTimeout != nil {
		c.requestTimeout = *cfg.call.requestTimeout
	}
	c.autoResolve = cfg.call.autoResolve
	ua := "skyvern-go/" + Version
	if cfg.userAgentSuffix != "" {
		ua += " " + cfg.userAgentSuffix
	}
	c.headers = http.Header{
		"X-Api-Key":  {apiKey},
		"User-Agent": {ua},
		"Accept":     {"application/json"},
	}

	var hc http.Client
	if cfg.httpClient != nil {
		hc = *cfg.httpClient
	} else {
		hc.Transport = newDefaultTransport()
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc.Transport = &attemptTransport{base: rt}
	hc.CheckRedirect = c.redirectPolicy(hc.CheckRedirect)

	// retryablehttp's Logger stays nil: its own lines (a backoff printed
	// as "timeout", errors for attempts the SDK then handles) would only
	// mislead. The SDK logs its own records instead (see logAttempt).
	c.retry = &retryablehttp.Client{
		HTTPClient:   &hc,
		RetryWaitMin: cfg.retryWaitMin,
		RetryWaitMax: cfg.retryWaitMax,
		// The per-call budget is enforced in checkRetry; this is only a
		// ceiling so that retryablehttp never stops before it.
		RetryMax:   1 << 20,
		CheckRetry: c.checkRetry,
		// The wait between attempts happens in prepareRetry, which sees the
		// request and so the call's state; retryablehttp's own wait is none.
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		PrepareRetry: c.prepareRetry,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error repeats the value, escaped: say what is wrong once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("skyvern: invalid base URL: %w", err)
	}
	if u.User != nil {
		return nil, errors.New("skyvern: invalid base URL: it must not contain credentials")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("skyvern: invalid base URL: it must be an absolute http(s) URL")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// newDefaultTransport is http.DefaultTransport's configuration plus a bound on
// the wait for response headers, so a server that accepts the connection and
// then says nothing cannot hold an attempt forever.
func newDefaultTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ResponseHeaderTimeout: defaultResponseHeaderTimeout,
	}
}

type requestConfig struct {
	call           callSettings
	header         http.Header
	query          url.Values
	retryAmbiguous bool
	response       *Response
	// err is the first invalid option; do returns it before sending.
	err error
	// maxDownloadBytes bounds a download call (WithMaxDownloadBytes).
	maxDownloadBytes int64
}

// WithHeader sets a header on the request, replacing any value the SDK
// would send. The name must be a valid header name and the value free of
// control characters. Idempotency-Key and X-Idempotency-Key are refused on
// calls that change something: net/http would take them as leave to resend
// the request by itself (a second run), and CreateWorkflow has its own
// field for the key ([WorkflowRequest].IdempotencyKey).
func WithHeader(key, value string) RequestOption {
	return requestOption(func(rc *requestConfig) error {
		if !validHeaderName(key) {
			return invalidOption("WithHeader", "%q is not a valid header name", key)
		}
		if !validHeaderValue(value) {
			return invalidOption("WithHeader", "the value of %s must not contain control characters", key)
		}
		if rc.header == nil {
			rc.header = make(http.Header)
		}
		rc.header.Set(key, value)
		return nil
	})
}

// WithQuery adds a query parameter to the request, for server parameters
// that this SDK does not model yet. An empty key is invalid.
func WithQuery(key, value string) RequestOption {
	return requestOption(func(rc *requestConfig) error {
		if key == "" {
			return invalidOption("WithQuery", "the key must not be empty")
		}
		if rc.query == nil {
			rc.query = make(url.Values)
		}
		rc.query.Add(key, value)
		return nil
	})
}

// WithRetryAmbiguousFailures lets a call that starts work on the server
// (RunTask, RunWorkflow, CancelRun, RetryRunWebhook) be retried after a 5xx,
// a timeout or a dropped connection, like a read. Such a failure may come
// after the server did the work, so the retry can start a second run: use it
// only when a duplicate is harmless to you.
func WithRetryAmbiguousFailures() RequestOption {
	return requestOption(func(rc *requestConfig) error {
		rc.retryAmbiguous = true
		return nil
	})
}

// newRequestConfig applies a call's options. An invalid one is kept in
// rc.err, which do returns before sending anything.
func (c *Client) newRequestConfig(opts []RequestOption) requestConfig {
	var rc requestConfig
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyRequest(&rc); err != nil && rc.err == nil {
			rc.err = asInvalidRequest(err)
		}
	}
	return rc
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 §5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value as is.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// String describes the client by its base URL; the API key is never shown.
func (c Client) String() string {
	base := "<nil>"
	if c.baseURL != nil {
		base = c.baseURL.String()
	}
	return "skyvern.Client{BaseURL: " + base + ", APIKey: [REDACTED]}"
}

// GoString implements fmt.GoStringer for %#v, without the API key.
func (c Client) GoString() string { return c.String() }

// Format implements fmt.Formatter, so that every verb (%v, %+v, %#v, %s,
// ...) prints [Client.String] and never the API key or the headers that
// carry it.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue implements slog.LogValuer: a logged Client shows its base URL,
// not its key.
func (c Client) LogValue() slog.Value {
	base := ""
	if c.baseURL != nil {
		base = c.baseURL.String()
	}
	return slog.GroupValue(slog.String("base_url", base), slog.String("api_key", "[REDACTED]"))
}

// endpoint joins the base URL with path segments, escaping each segment, so
// an id like "a/b" can never reach another route.
func (c *Client) endpoint(segments ...string) string {
	var b strings.Builder
	b.Grow(len(c.baseURL.Path) + 32)
	b.WriteString(c.baseURL.Path)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// requireID rejects an empty path parameter before anything is sent: the
// escaped path would otherwise hit a different route.
func requireID(name, value string) error {
	if isBlank(value) {
		return &InvalidRequestError{Field: name, Reason: "must not be empty"}
	}
	return nil
}

// contextErr reports whether ctx is already done, so calls fail fast.
func contextErr(ctx context.Context) error {
	if ctx == nil {
		return errors.New("skyvern: nil context")
	}
	return ctx.Err()
}
