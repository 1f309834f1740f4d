package skyverntest

import (
	"math/rand"
	"net/http"
	"time"

	"github.com/skyvern-go/skyvern"
)

// DefaultAPIKey is the API key a Server accepts unless WithAPIKey says
// otherwise.
const DefaultAPIKey = "sk_test_skyverntest"

// DefaultAppURL is the prefix of the app_url values a Server reports, the
// same as Skyvern Cloud's.
const DefaultAppURL = "https://app.skyvern.com"

// Option configures a Server. Options with invalid values (an empty key, a
// negative duration) are ignored, so NewServer never fails.
type Option func(*config)

type config struct {
	apiKey          string
	orgID           string
	appURL          string
	clock           func() time.Time
	seed            int64
	deterministic   bool
	autoStep        time.Duration
	autoOutcome     func(run RunSnapshot, attempt int) Outcome
	retryDelayScale float64
	backoff         func(attempt int) time.Duration
	timeScale       float64
	deliveryTimeout time.Duration
	replayTimeout   time.Duration
	createDelay     time.Duration
	transport       http.RoundTripper
	tagsForbidden   bool
}

func defaultConfig() config {
	return config{
		apiKey:          DefaultAPIKey,
		appURL:          DefaultAppURL,
		clock:           time.Now,
		timeScale:       1,
		retryDelayScale: 1,
		deliveryTimeout: 30 * time.Second,
		replayTimeout:   60 * time.Second,
	}
}

// WithAPIKey sets the API key the server accepts in x-api-key and signs
// webhooks with.
func WithAPIKey(key string) Option {
	return func(c *config) {
		if key != "" {
			c.apiKey = key
		}
	}
}

// WithOrganizationID sets the organization id (o_...) reported in workflows
// and payloads and used to derive idempotent workflow ids. By default one is
// generated.
func WithOrganizationID(id string) Option {
	return func(c *config) {
		if id != "" {
			c.orgID = id
		}
	}
}

// WithAppURL sets the prefix of app_url values (default DefaultAppURL).
func WithAppURL(u string) Option {
	return func(c *config) {
		if u != "" {
			c.appURL = u
		}
	}
}

// WithClock sets the source of every timestamp the server writes
// (created_at, ..., x-skyvern-timestamp) and of the time part of ids. Use it
// with WithDeterministicIDs to record stable cassettes. Timers (auto-advance,
// delivery backoff) still run on real time.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.clock = now
		}
	}
}

// WithDeterministicIDs seeds the id generator (and the delivery jitter) so
// that the same sequence of calls yields the same ids.
func WithDeterministicIDs(seed int64) Option {
	return func(c *config) {
		c.seed = seed
		c.deterministic = true
	}
}

// WithAutoAdvance makes every new run move on its own: created -> queued ->
// running -> final.Status, one step every step. A run that a test moves
// itself (Pause, Complete, ...) is left alone from then on. final.Status
// defaults to completed. Every run and every attempt ends the same way; use
// WithAutoAdvanceFunc to vary it.
func WithAutoAdvance(step time.Duration, final Outcome) Option {
	if final.Status == "" {
		final.Status = skyvern.RunStatusCompleted
	}
	if !final.Status.IsTerminal() {
		return func(*config) {}
	}
	return WithAutoAdvanceFunc(step, func(RunSnapshot, int) Outcome { return final })
}

// WithAutoAdvanceFunc is WithAutoAdvance with the outcome chosen per run
// and per attempt: outcome is called when the run (in the state of the
// snapshot, Request included) is about to end its attempt number attempt
// (from 1; later attempts come from a workflow's retry policy). An outcome
// that is not terminal or cannot be encoded fails the run with the reason.
// outcome may be called from several goroutines at once.
func WithAutoAdvanceFunc(step time.Duration, outcome func(run RunSnapshot, attempt int) Outcome) Option {
	return func(c *config) {
		if step <= 0 || outcome == nil {
			return
		}
		c.autoStep = step
		c.autoOutcome = outcome
	}
}

// WithRetryDelayScale multiplies the delay_seconds of workflow retry
// policies, so tests need not wait for them while GetRun still reports
// Skyvern's next_attempt_at. WithRetryDelayScale(0) starts retries at once;
// StartNextAttempt starts one by hand.
func WithRetryDelayScale(f float64) Option {
	return func(c *config) {
		if f >= 0 {
			c.retryDelayScale = f
		}
	}
}

// WithDeliveryBackoff replaces Skyvern's wait between webhook attempts when
// the receiver sent no Retry-After (1s*2^attempt plus up to 1s of jitter;
// attempt is 0 before the second try). Retry-After still wins, capped at 30s.
// fn may be called from several delivery goroutines at once.
func WithDeliveryBackoff(fn func(attempt int) time.Duration) Option {
	return func(c *config) {
		if fn != nil {
			c.backoff = fn
		}
	}
}

// WithDeliveryTimeScale multiplies every wait between webhook attempts,
// including ones from Retry-After, so tests run fast while the planned
// delays (recorded in DeliveryAttempt.RetryDelay) keep Skyvern's values.
// WithDeliveryTimeScale(0) retries immediately.
func WithDeliveryTimeScale(f float64) Option {
	return func(c *config) {
		if f >= 0 {
			c.timeScale = f
		}
	}
}

// WithDeliveryTimeout sets the per-attempt timeout of webhook deliveries
// (Skyvern: 30s).
func WithDeliveryTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.deliveryTimeout = d
		}
	}
}

// WithReplayTimeout sets the timeout of the single attempt made by
// retry_webhook (Skyvern: 60s).
func WithReplayTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.replayTimeout = d
		}
	}
}

// WithCreateWorkflowDelay makes each workflow create hold its Idempotency-Key
// for d before answering, so that a concurrent create with the same key sees
// Skyvern's 409 "still in progress" answer.
func WithCreateWorkflowDelay(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.createDelay = d
		}
	}
}

// WithWebhookTransport sets the transport webhooks are delivered with. By
// default the server delivers only to loopback hosts (a delivery to any
// other host fails like an unreachable one), so a test can never reach the
// network; a custom transport can route other hosts to local handlers.
func WithWebhookTransport(rt http.RoundTripper) Option {
	return func(c *config) {
		if rt != nil {
			c.transport = rt
		}
	}
}

func (c *config) newRand() *rand.Rand {
	if c.deterministic {
		return rand.New(rand.NewSource(c.seed))
	}
	return rand.New(rand.NewSource(time.Now().UnixNano()))
}
