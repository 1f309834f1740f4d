package skyvern

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Version is the version of this SDK, sent in the User-Agent header.
const Version = "0.1.0"

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
	// autoResolve is WithOutcomeResolution's resend bound (nil: off);
	// ledger remembers run-creating calls for ResolveOutcome.
	autoResolve *int
	ledger      creationLedger
}

type clientConfig struct {
	baseURL          string
	httpClient       *http.Client
	maxRetries       int
	requestTimeout   time.Duration
	logger           *slog.Logger
	retryWaitMin     time.Duration
	retryWaitMax     time.Duration
	maxRetryAfter    time.Duration
	maxResponseBytes int64
	userAgentSuffix  string
	autoResolve      *int
}

// Option configures a Client in NewClient. An invalid option makes NewClient
// return an error.
type Option func(*clientConfig) error

// WithBaseURL sets the API's base URL (default BaseURLCloud). It must be an
// absolute http or https URL; a path prefix is kept.
func WithBaseURL(u string) Option {
	return func(c *clientConfig) error {
		c.baseURL = u
		return nil
	}
}

// WithHTTPClient sets the HTTP client used for each attempt; use it for
// proxies, tracing or recording transports. The client is copied, so later
// changes to hc do not affect the Client. Its Timeout, if any, applies to
// each attempt. Retries happen above it.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *clientConfig) error {
		if hc == nil {
			return errors.New("skyvern: WithHTTPClient: nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithMaxRetries sets how many times a retryable request is retried (default
// 2, so at most 3 attempts). 0 disables retries.
func WithMaxRetries(n int) Option {
	return func(c *clientConfig) error {
		if n < 0 {
			return fmt.Errorf("skyvern: WithMaxRetries(%d): must not be negative", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithRequestTimeout bounds each attempt (default 2 minutes), from sending
// the request to reading the whole response. The context passed to a call
// bounds the call as a whole, retries and backoff included. 0 means no
// per-attempt bound.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *clientConfig) error {
		if d < 0 {
			return fmt.Errorf("skyvern: WithRequestTimeout(%v): must not be negative", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithLogger makes the client log retries and failed attempts to l. The
// client is silent by default. Log lines never contain the API key.
func WithLogger(l *slog.Logger) Option {
	return func(c *clientConfig) error {
		c.logger = l
		return nil
	}
}

// WithRetryWait sets the bounds of the jittered exponential backoff between
// attempts (default 500 ms to 8 s). A Retry-After header overrides it.
func WithRetryWait(minWait, maxWait time.Duration) Option {
	return func(c *clientConfig) error {
		if minWait < 0 || maxWait < minWait {
			return fmt.Errorf("skyvern: WithRetryWait(%v, %v): need 0 <= min <= max", minWait, maxWait)
		}
		c.retryWaitMin, c.retryWaitMax = minWait, maxWait
		return nil
	}
}

// WithMaxRetryAfter caps how long the client waits when the server answers
// with Retry-After (default 30 s). A longer hint ends retrying: the call
// returns an *APIError whose RetryAfter field holds the hint.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *clientConfig) error {
		if d < 0 {
			return fmt.Errorf("skyvern: WithMaxRetryAfter(%v): must not be negative", d)
		}
		c.maxRetryAfter = d
		return nil
	}
}

// WithMaxResponseBytes caps the size of a successful response body (default
// 64 MiB; run outputs can be large). A larger body fails the call with
// ErrResponseTooLarge. Error bodies are always read up to 1 MiB.
//
// The cap is also what one call may buffer: a body announced larger by its
// Content-Length is refused unread, and one that streams past the cap is
// dropped once the cap is read, having held about the cap plus 1 MiB.
func WithMaxResponseBytes(n int64) Option {
	return func(c *clientConfig) error {
		if n <= 0 {
			return fmt.Errorf("skyvern: WithMaxResponseBytes(%d): must be positive", n)
		}
		c.maxResponseBytes = n
		return nil
	}
}

// WithUserAgent appends s to the User-Agent header, e.g. "my-app/1.2".
func WithUserAgent(s string) Option {
	return func(c *clientConfig) error {
		c.userAgentSuffix = s
		return nil
	}
}

// NewClient returns a Client that authenticates with apiKey. An empty key is
// an error; the library never reads the environment, so a program decides
// for itself where the key comes from (typically os.Getenv("SKYVERN_API_KEY")).
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	if isBlank(apiKey) {
		return nil, errors.New("skyvern: NewClient: the API key is empty")
	}
	cfg := clientConfig{
		baseURL:          BaseURLCloud,
		maxRetries:       DefaultMaxRetries,
		requestTimeout:   DefaultRequestTimeout,
		retryWaitMin:     defaultRetryWaitMin,
		retryWaitMax:     defaultRetryWaitMax,
		maxRetryAfter:    DefaultMaxRetryAfter,
		maxResponseBytes: DefaultMaxResponseBytes,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(cfg.baseURL)
	if err != nil {
		return nil, err
	}

	c := &Client{
		baseURL:          base,
		apiKey:           apiKey,
		maxRetries:       cfg.maxRetries,
		requestTimeout:   cfg.requestTimeout,
		maxRetryAfter:    cfg.maxRetryAfter,
		maxResponseBytes: cfg.maxResponseBytes,
		autoResolve:      cfg.autoResolve,
	}
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

	c.retry = &retryablehttp.Client{
		HTTPClient:   &hc,
		RetryWaitMin: cfg.retryWaitMin,
		RetryWaitMax: cfg.retryWaitMax,
		// The per-call budget is enforced in checkRetry; this is only a
		// ceiling so that retryablehttp never stops before it.
		RetryMax:     1 << 20,
		CheckRetry:   checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	if cfg.logger != nil {
		c.retry.Logger = cfg.logger
	}
	return c, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("skyvern: invalid base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("skyvern: base URL %q must be an absolute http(s) URL", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("skyvern: base URL must not contain credentials")
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

// RequestOption adjusts a single call. Options given to a call apply on top
// of the Client's configuration.
type RequestOption func(*requestConfig)

type requestConfig struct {
	header          http.Header
	query           url.Values
	timeout         *time.Duration
	maxRetries      *int
	retryAmbiguous  bool
	idempotencyKey  string
	idempotencySet  bool
	maxStepsHeader  string
	triggerUAHeader string
	autoResolve     *int
	// maxDownloadBytes bounds a download call (WithMaxDownloadBytes).
	maxDownloadBytes int64
}

// WithHeader sets a header on the request, replacing any value the SDK
// would send.
func WithHeader(key, value string) RequestOption {
	return func(rc *requestConfig) {
		if rc.header == nil {
			rc.header = make(http.Header)
		}
		rc.header.Set(key, value)
	}
}

// WithQuery adds a query parameter to the request, for server parameters
// that this SDK does not model yet.
func WithQuery(key, value string) RequestOption {
	return func(rc *requestConfig) {
		if rc.query == nil {
			rc.query = make(url.Values)
		}
		rc.query.Add(key, value)
	}
}

// WithTimeout overrides the client's per-attempt timeout (WithRequestTimeout)
// for this call.
func WithTimeout(d time.Duration) RequestOption {
	return func(rc *requestConfig) { rc.timeout = &d }
}

// WithRetries overrides the client's retry budget (WithMaxRetries) for this
// call. Negative values count as 0.
func WithRetries(n int) RequestOption {
	return func(rc *requestConfig) {
		n = max(n, 0)
		rc.maxRetries = &n
	}
}

// WithRetryAmbiguousFailures lets a call that starts work on the server
// (RunTask, RunWorkflow, CancelRun, RetryRunWebhook) be retried after a 5xx,
// a timeout or a dropped connection, like a read. Such a failure may come
// after the server did the work, so the retry can start a second run: use it
// only when a duplicate is harmless to you.
func WithRetryAmbiguousFailures() RequestOption {
	return func(rc *requestConfig) { rc.retryAmbiguous = true }
}

// WithXUserAgent sets Skyvern's x-user-agent header on RunTask and
// RunWorkflow, which the server uses to record what triggered a run.
func WithXUserAgent(v string) RequestOption {
	return func(rc *requestConfig) { rc.triggerUAHeader = v }
}

func (c *Client) newRequestConfig(opts []RequestOption) requestConfig {
	var rc requestConfig
	for _, opt := range opts {
		if opt != nil {
			opt(&rc)
		}
	}
	return rc
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
