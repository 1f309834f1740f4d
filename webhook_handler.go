package skyvern

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Defaults of the HTTP handlers.
const (
	// DefaultMaxBodyBytes caps a webhook body: the one size a handler
	// refuses (413, which Skyvern does not retry), so it is far above any
	// real delivery. Workflow payloads carry the output twice and have
	// reached tens of megabytes; bodies over the memory limit
	// (DefaultMemoryBodyBytes) are spilled to disk, not held in memory.
	DefaultMaxBodyBytes int64 = 1 << 30
	// DefaultBusyWait is how long a duplicate delivery waits for the worker
	// that holds its event, well inside Skyvern's delivery timeout.
	DefaultBusyWait = 5 * time.Second
	// busyRetryAfter is the Retry-After sent with a 503; Skyvern honours up
	// to 30 s of it between its attempts.
	busyRetryAfter = 5 * time.Second
)

// HandlerOption configures [Webhook.Handler], [Webhook.Middleware] and
// [Webhook.TOTPHandler]. The options follow the package's one rule (see
// "Options" in the package documentation): a nil option is ignored, a zero
// value selects the documented default, and a negative value is invalid.
//
// The handler constructors cannot return an error, so a handler given an
// invalid option answers every request 500, which Skyvern retries, so that
// no delivery is lost while the program is fixed; it logs the configuration
// error at ERROR to the WithHandlerLogger logger, if there is one, when it
// is built and on every request. Pass the same options to
// [Webhook.CheckHandlerOptions] at startup to fail there instead.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	store    IdempotencyStore
	maxBody  int64
	memBody  int64  // held in memory; the rest of a body spills
	spillDir string // "" is os.TempDir()
	// createSpill makes spill files; nil is createSpillFile. Tests
	// replace it to simulate a full disk.
	createSpill func(dir string) (spillFile, error)
	busyWait    time.Duration
	logger      *slog.Logger
	notify      []func(*WebhookPayload)
	interim     func(context.Context, *WebhookPayload) error
	firstInvalid
}

// WithIdempotencyStore sets the store that records processed events. The
// default is a fresh NewMemoryStore per handler; share one store (or a
// database-backed one) between handlers and replicas that receive the same
// webhooks. nil keeps the default.
func WithIdempotencyStore(s IdempotencyStore) HandlerOption {
	return func(c *handlerConfig) {
		if s != nil {
			c.store = s
		}
	}
}

// WithMaxBodyBytes caps the request body; larger requests get 413, which
// Skyvern does not retry, so a genuine delivery over the cap is lost. The
// default is DefaultMaxBodyBytes for webhooks and 64 KiB for TOTP requests;
// 0 selects it, and a negative n is invalid. A body whose Content-Length is over the cap is
// refused unread; a chunked one is refused once the cap is read. A webhook
// body is held in memory only up to WithMemoryBodyBytes and spilled to
// disk beyond; a TOTP request is held in memory whole.
func WithMaxBodyBytes(n int64) HandlerOption {
	return func(c *handlerConfig) { setPositive(&c.firstInvalid, "WithMaxBodyBytes", n, &c.maxBody) }
}

// WithBusyWait sets how long a delivery whose event another worker is
// processing waits for that worker before answering 503 with Retry-After
// (which Skyvern retries). The default is DefaultBusyWait. 0 turns the
// wait off: such a delivery is answered 503 at once. A negative d is
// invalid.
func WithBusyWait(d time.Duration) HandlerOption {
	return func(c *handlerConfig) {
		if d < 0 {
			c.invalid("WithBusyWait", "must not be negative, got %v", d)
			return
		}
		c.busyWait = d
	}
}

// WithHandlerLogger makes the handler log rejected deliveries, processing
// errors and store errors to l. Handlers are silent by default. Logs never
// contain API keys.
func WithHandlerLogger(l *slog.Logger) HandlerOption {
	return func(c *handlerConfig) { c.logger = l }
}

// WithNotify registers fn to be called with every verified delivery whose
// event is known to be processed: after the handler's function succeeds, or
// when the store reports the event already done (a duplicate). It runs on
// the request's goroutine before the answer is written, so it must not
// block; hand the payload to a channel or wake waiters and return. Hooks
// registered by several options are all called, in order.
func WithNotify(fn func(*WebhookPayload)) HandlerOption {
	return func(c *handlerConfig) {
		if fn != nil {
			c.notify = append(c.notify, fn)
		}
	}
}

// WithInterimHook hands the interim deliveries of retried workflow runs to
// fn. A workflow whose retry policy says WebhookOnRetryEveryAttempt sends,
// for each attempt that will be retried, a webhook with a terminal status
// and retry_pending true (WebhookPayload.IsFinal is false); the run is not
// over, and its final webhook follows. Handler and Middleware never pass
// such a delivery to their own function or next handler, never publish it
// to a RunHub or a WithNotify hook, and without this option simply answer
// it 200.
//
// With it, fn is called once per interim event, deduplicated through the
// IdempotencyStore under the interim key (see WebhookPayload.IdempotencyKey)
// like final events: nil marks the event done and answers 200, an error
// answers 500 so Skyvern delivers it again. Use it for progress reporting
// or per-attempt accounting; act on results only in the final delivery.
// nil keeps the default.
func WithInterimHook(fn func(context.Context, *WebhookPayload) error) HandlerOption {
	return func(c *handlerConfig) { c.interim = fn }
}

// WithRunHub publishes every delivery WithNotify would see to hub, so that
// WaitForRun calls made with WaitWithHub(hub) in this process return the
// moment the run's webhook is processed instead of at their next poll.
// A delivery is published only once its event is processed: after the
// handler's function returned nil and the IdempotencyStore was told so (or
// answered that the event was done already), so a woken waiter never acts
// on a run that the receiver could still fail to record.
//
// Only waiters in this process hear of it. Behind a load balancer, a
// webhook that lands on another replica ends the wait at the waiter's next
// poll instead (see RunHub); a replay that reaches this replica later is
// published too, as a duplicate the store reports done.
func WithRunHub(hub *RunHub) HandlerOption {
	if hub == nil {
		return nil
	}
	return WithNotify(hub.PublishPayload)
}

// receiver holds what the HTTP entry points share: reading, capping and
// verifying a request, and running its event exactly once.
type receiver struct {
	wh  *Webhook
	cfg handlerConfig
}

// newReceiver applies opts; events names entry points that deduplicate, and
// so need a store.
func newReceiver(w *Webhook, defaultMaxBody int64, events bool, opts []HandlerOption) *receiver {
	cfg := handlerConfig{maxBody: defaultMaxBody, memBody: DefaultMemoryBodyBytes, busyWait: DefaultBusyWait}
	applyHandlerOptions(&cfg, opts)
	rc := &receiver{wh: w, cfg: cfg}
	if cfg.err != nil {
		rc.logMisconfigured(context.Background())
		return rc
	}
	if !events {
		rc.cfg.memBody = cfg.maxBody // questions are small: never spilled
	}
	if events && cfg.store == nil {
		// No option reaches this store, so it cannot be invalid.
		rc.cfg.store, _ = NewMemoryStore()
	}
	return rc
}

func applyHandlerOptions(cfg *handlerConfig, opts []HandlerOption) {
	for _, opt := range opts {
		if opt != nil {
			opt(cfg)
		}
	}
}

// CheckHandlerOptions returns the error, matching [ErrInvalidOption], of the
// first invalid option among opts, or nil if all are valid. A handler given
// an invalid option answers every request 500 (see [HandlerOption]); call
// this at startup with the same options to fail there instead. It does not
// use w, which may be nil.
func (w *Webhook) CheckHandlerOptions(opts ...HandlerOption) error {
	var cfg handlerConfig
	applyHandlerOptions(&cfg, opts)
	return cfg.err
}

// misconfigured answers a request to a handler built with an invalid
// option: 500, so that Skyvern delivers again once the program is fixed.
// It returns false, having done nothing, when the options were valid.
func (rc *receiver) misconfigured(rw http.ResponseWriter, r *http.Request) bool {
	if rc.cfg.err == nil {
		return false
	}
	rc.logMisconfigured(r.Context())
	http.Error(rw, "handler misconfigured", http.StatusInternalServerError)
	return true
}

func (rc *receiver) logMisconfigured(ctx context.Context) {
	rc.log(ctx, slog.LevelError, "skyvern: webhook handler has an invalid option and answers every request 500", "error", rc.cfg.err)
}

// Handler returns an http.Handler that receives Skyvern webhooks and calls
// fn once per event. It answers:
//
//   - 405 with an Allow header for methods other than POST;
//   - 401 when the signature (or, with a tolerance, the timestamp) does not
//     verify, with a body that does not say why; a request whose header
//     cannot verify is refused before its body is read;
//   - 413 for bodies over the cap (WithMaxBodyBytes);
//   - 408 when reading the body timed out, and 503 when it failed otherwise
//     (a broken connection) or could not be stored (see WithSpillDir), so
//     that Skyvern delivers again;
//   - 400 when an authentic body is not a valid payload;
//   - 500 when fn returns an error, so Skyvern delivers again;
//   - 503 with Retry-After when another worker still holds the event after
//     the busy wait, or the store fails;
//   - 200 when fn succeeded, now or on an earlier delivery;
//   - 500 to every request when an option is invalid (see [HandlerOption]).
//
// Skyvern retries 403, 408, 425, 429 and 5xx, up to three attempts, and
// replays on RetryRunWebhook; the payload's IdempotencyKey deduplicates all
// of them through the IdempotencyStore. An event is marked done only after
// fn returns nil; an error (or a panic) releases it so the next delivery
// runs fn again. Concurrent duplicates wait (WithBusyWait) for the worker
// that holds the event, then answer 200 if it succeeded or take over if it
// failed. A forged request gets 401, not 403, so that Skyvern does not
// spend its retries on a key mismatch.
//
// While fn runs, a heartbeat renews the event's claim every third of its
// lease (see [DefaultStoreLease]), so a slow fn keeps its event and a
// worker that dies loses it to one of Skyvern's next attempts. Should a
// renewal find the lease lost (the worker stalled so long that another took
// the event over), fn's context is cancelled with cause [ErrLeaseLost]. The
// heartbeat lasts as long as fn: a fn that never returns holds its event
// for as long as its process lives, so honour the context.
//
// Answer in time: Skyvern waits 30 s per phase (its docs promise only 10 s)
// and then counts the delivery as failed. fn should persist the payload or
// enqueue a job and return; processing later from your own queue loses
// nothing, because a nil return means "stored", and an error makes Skyvern
// try again. fn's context is the request's: it is cancelled when Skyvern
// gives up waiting.
//
// fn sees final outcomes only. A workflow retried under its retry policy
// keeps its run id, and with WebhookOnRetryEveryAttempt sends an interim
// webhook for every attempt that will be retried: a terminal status (often
// failed) with retry_pending true, followed later by the final webhook,
// possibly with the same status. An interim delivery is verified like any
// other and answered 200, so Skyvern spends no delivery budget on it, but it
// is not passed to fn, not published to a RunHub and not shown to WithNotify
// hooks; WithInterimHook receives it instead, if set. Each attempt's
// outcome has its own idempotency key, so the final failed of attempt 2 is
// processed even after an interim failed of attempt 1; deliveries from
// servers without retry policies keep the keys of earlier versions.
//
// A body larger than WithMemoryBodyBytes is verified as it streams to a
// temporary file and reaches fn as a spilled payload (see
// WebhookPayload.Spilled), whose large values fn reads from disk; the file
// is removed when the handler returns.
//
// fn may be nil when only the WithNotify hook is wanted.
func (w *Webhook) Handler(fn func(context.Context, *WebhookPayload) error, opts ...HandlerOption) http.Handler {
	rc := newReceiver(w, DefaultMaxBodyBytes, true, opts)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, ok := rc.receive(rw, r)
		if !ok {
			return
		}
		defer p.Large.close() // also when fn panics
		if rc.interimDelivery(rw, r, p) {
			return
		}
		res := rc.once(r.Context(), p, func(ctx context.Context) error {
			if fn == nil {
				return nil
			}
			return fn(ctx, p)
		})
		rc.answer(rw, res)
	})
}

// Middleware returns a handler that receives Skyvern webhooks like Handler
// (same checks, answers and exactly-once processing) and passes each new
// event to next. next reads the verified payload with PayloadFromContext;
// the raw body is also still readable from r.Body.
//
// next's response is the answer: a 2xx status marks the event done, any
// other status releases it for redelivery. next is not called for
// duplicates of an event already done (the middleware answers 200), nor
// for the interim deliveries of retried workflows, which go to
// WithInterimHook as in Handler.
//
// A spilled payload's body is read from its temporary file, which is
// removed when the middleware returns.
func (w *Webhook) Middleware(next http.Handler, opts ...HandlerOption) http.Handler {
	rc := newReceiver(w, DefaultMaxBodyBytes, true, opts)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, ok := rc.receive(rw, r)
		if !ok {
			return
		}
		defer p.Large.close()
		if rc.interimDelivery(rw, r, p) {
			return
		}
		res := rc.once(r.Context(), p, func(ctx context.Context) error {
			r2 := r.WithContext(context.WithValue(ctx, payloadContextKey{}, p))
			if p.Large != nil {
				r2.Body, r2.ContentLength = io.NopCloser(p.Large.Reader()), p.Large.Size()
			} else {
				r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(p.Raw)), int64(len(p.Raw))
			}
			rec := &statusRecorder{ResponseWriter: rw}
			next.ServeHTTP(rec, r2)
			if rec.status >= 300 {
				return fmt.Errorf("skyvern: webhook middleware: next handler answered %d", rec.status)
			}
			return nil
		})
		if res.ran {
			return // next has written the answer
		}
		rc.answer(rw, res)
	})
}

// interimDelivery answers a delivery that is not the run's final outcome
// (retry pending): through the interim hook, if there is one, else with a
// plain 200. It returns false, having done nothing, for other deliveries.
func (rc *receiver) interimDelivery(rw http.ResponseWriter, r *http.Request, p *WebhookPayload) bool {
	if !p.RetryPending {
		return false
	}
	if rc.cfg.interim == nil {
		rc.answer(rw, outcome{})
		return true
	}
	rc.answer(rw, rc.once(r.Context(), p, func(ctx context.Context) error {
		return rc.cfg.interim(ctx, p)
	}))
	return true
}

type payloadContextKey struct{}

// PayloadFromContext returns the verified payload that Middleware stored in
// the request context, and whether there was one.
func PayloadFromContext(ctx context.Context) (*WebhookPayload, bool) {
	p, ok := ctx.Value(payloadContextKey{}).(*WebhookPayload)
	return p, ok
}

// statusRecorder remembers the status next wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 { // 1xx are interim; the final status follows
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// receive reads, verifies and decodes a delivery. On failure it has already
// answered and returns false; on success the caller must close p.Large.
func (rc *receiver) receive(rw http.ResponseWriter, r *http.Request) (*WebhookPayload, bool) {
	body, ok := rc.readVerified(rw, r)
	if !ok {
		return nil, false
	}
	var (
		p   *WebhookPayload
		err error
	)
	if body.file == nil {
		p, err = decodePayload(body.mem)
	} else {
		p, err = decodeSpilled(body, rc.cfg.memBody)
	}
	if err == nil {
		return p, true
	}
	body.close()
	if errors.Is(err, ErrMalformedPayload) {
		rc.log(r.Context(), slog.LevelError, "skyvern: undecodable webhook", "error", err)
		http.Error(rw, "malformed payload", http.StatusBadRequest)
		return nil, false
	}
	rc.log(r.Context(), slog.LevelError, "skyvern: cannot read stored webhook body", "error", err)
	http.Error(rw, "cannot read stored request body, retry later", http.StatusServiceUnavailable)
	return nil, false
}

// outcome says how an event's processing ended.
type outcome struct {
	ran  bool  // the processing function was called
	err  error // its error, or the store's
	busy bool  // another worker still held the event
}

// once runs process for p unless the store says its event is done or held
// elsewhere, following the IdempotencyStore protocol: while process runs,
// a heartbeat renews the claim, and its result completes or releases it.
func (rc *receiver) once(ctx context.Context, p *WebhookPayload, process func(context.Context) error) outcome {
	key := p.IdempotencyKey()
	if key == "" {
		// Unreachable for decoded bodies, which always have Raw.
		return rc.run(ctx, p, process, func(bool) {})
	}
	c, err := rc.claim(ctx, key)
	if err != nil {
		rc.log(ctx, slog.LevelError, "skyvern: idempotency store claim failed", "key", key, "error", err)
		return outcome{err: err}
	}
	switch c.Result {
	case ClaimDone:
		rc.notify(p)
		return outcome{}
	case ClaimAcquired:
		fnCtx, stopHeartbeat := rc.heartbeat(ctx, key, c)
		return rc.run(fnCtx, p, process, func(succeeded bool) {
			stopHeartbeat()
			// The request context may be cancelled by now; the store
			// must still hear the result.
			sctx := context.WithoutCancel(ctx)
			op, finish := "complete", rc.cfg.store.Complete
			if !succeeded {
				op, finish = "release", rc.cfg.store.Release
			}
			if err := finish(sctx, key, c.Token); err != nil {
				rc.log(ctx, slog.LevelError, "skyvern: idempotency store "+op+" failed", "key", key, "error", err)
			}
		})
	}
	rc.log(ctx, slog.LevelWarn, "skyvern: webhook event still held by another worker", "key", key)
	return outcome{busy: true}
}

// run calls process and reports its result to finish, also when process
// panics (the panic then continues).
func (rc *receiver) run(ctx context.Context, p *WebhookPayload, process func(context.Context) error, finish func(succeeded bool)) outcome {
	finished := false
	defer func() {
		if !finished {
			finish(false)
		}
	}()
	err := process(ctx)
	finished = true
	finish(err == nil)
	if err != nil {
		rc.log(ctx, slog.LevelError, "skyvern: webhook processing failed", "run_id", p.RunID, "error", err)
		return outcome{ran: true, err: err}
	}
	rc.notify(p)
	return outcome{ran: true}
}

// claim claims key, waiting with backoff while another worker holds it,
// for at most the busy wait and never past ctx.
func (rc *receiver) claim(ctx context.Context, key string) (Claim, error) {
	deadline := time.Now().Add(rc.cfg.busyWait)
	delay := 5 * time.Millisecond
	var timer *time.Timer
	for {
		c, err := rc.cfg.store.Claim(ctx, key)
		if err != nil || c.Result != ClaimBusy {
			return c, err
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return c, nil
		}
		wait := min(delay, remaining)
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return c, nil
		case <-timer.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// answer writes the response for an outcome the handler itself reports.
func (rc *receiver) answer(rw http.ResponseWriter, o outcome) {
	switch {
	case o.busy || (o.err != nil && !o.ran):
		rw.Header().Set("Retry-After", strconv.Itoa(int(busyRetryAfter/time.Second)))
		http.Error(rw, "busy, retry later", http.StatusServiceUnavailable)
	case o.err != nil:
		http.Error(rw, "processing failed", http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(rw, "ok\n")
	}
}

func (rc *receiver) notify(p *WebhookPayload) {
	if p.RetryPending {
		// Waiters and relays want the run's end; an interim attempt is not.
		return
	}
	for _, fn := range rc.cfg.notify {
		fn(p)
	}
}

func (rc *receiver) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if rc.cfg.logger != nil {
		rc.cfg.logger.Log(ctx, level, msg, args...)
	}
}
