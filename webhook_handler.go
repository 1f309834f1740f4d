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
	// DefaultMaxBodyBytes caps a webhook body. Payloads carry the run's
	// output, which can reach megabytes for workflows.
	DefaultMaxBodyBytes int64 = 32 << 20
	// DefaultBusyWait is how long a duplicate delivery waits for the worker
	// that holds its event, well inside Skyvern's delivery timeout.
	DefaultBusyWait = 5 * time.Second
	// busyRetryAfter is the Retry-After sent with a 503; Skyvern honours up
	// to 30 s of it between its attempts.
	busyRetryAfter = 5 * time.Second
)

// HandlerOption configures Handler, Middleware and TOTPHandler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	store    IdempotencyStore
	maxBody  int64
	busyWait time.Duration
	logger   *slog.Logger
	notify   []func(*WebhookPayload)
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

// WithMaxBodyBytes caps the request body; larger requests get 413. The
// default is DefaultMaxBodyBytes for webhooks and 64 KiB for TOTP requests.
// n <= 0 keeps the default. A body whose Content-Length is over the cap is
// refused unread; a chunked one is refused once the cap is read, so the cap
// is also what one request may make the handler buffer.
func WithMaxBodyBytes(n int64) HandlerOption {
	return func(c *handlerConfig) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithBusyWait sets how long a delivery whose event another worker is
// processing waits for that worker before answering 503 with Retry-After
// (which Skyvern retries). d <= 0 answers 503 at once. The default is
// DefaultBusyWait.
func WithBusyWait(d time.Duration) HandlerOption {
	return func(c *handlerConfig) {
		c.busyWait = max(d, 0)
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
	return WithNotify(hub.publishPayload)
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
	cfg := handlerConfig{maxBody: defaultMaxBody, busyWait: DefaultBusyWait}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if events && cfg.store == nil {
		cfg.store = NewMemoryStore()
	}
	return &receiver{wh: w, cfg: cfg}
}

// Handler returns an http.Handler that receives Skyvern webhooks and calls
// fn once per event. It answers:
//
//   - 405 with an Allow header for methods other than POST;
//   - 413 for bodies over the cap (WithMaxBodyBytes);
//   - 401 when the signature (or, with a tolerance, the timestamp) does not
//     verify, with a body that does not say why;
//   - 400 when an authentic body is not a valid payload;
//   - 500 when fn returns an error, so Skyvern delivers again;
//   - 503 with Retry-After when another worker still holds the event after
//     the busy wait, or the store fails;
//   - 200 when fn succeeded, now or on an earlier delivery.
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
// fn may be nil when only the WithNotify hook is wanted.
func (w *Webhook) Handler(fn func(context.Context, *WebhookPayload) error, opts ...HandlerOption) http.Handler {
	rc := newReceiver(w, DefaultMaxBodyBytes, true, opts)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, ok := rc.receive(rw, r)
		if !ok {
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
// duplicates of an event already done (the middleware answers 200).
func (w *Webhook) Middleware(next http.Handler, opts ...HandlerOption) http.Handler {
	rc := newReceiver(w, DefaultMaxBodyBytes, true, opts)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, ok := rc.receive(rw, r)
		if !ok {
			return
		}
		res := rc.once(r.Context(), p, func(ctx context.Context) error {
			r2 := r.WithContext(context.WithValue(ctx, payloadContextKey{}, p))
			r2.Body = io.NopCloser(bytes.NewReader(p.Raw))
			r2.ContentLength = int64(len(p.Raw))
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

// readVerified reads the capped body and verifies it. On failure it has
// already answered and returns false.
func (rc *receiver) readVerified(rw http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := readCapped(rw, r, rc.cfg.maxBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			rc.log(r.Context(), slog.LevelWarn, "skyvern: webhook body too large", "limit", rc.cfg.maxBody)
			http.Error(rw, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		rc.log(r.Context(), slog.LevelWarn, "skyvern: cannot read webhook body", "error", err)
		http.Error(rw, "cannot read request body", http.StatusBadRequest)
		return nil, false
	}
	if err := rc.wh.Verify(body, r.Header); err != nil {
		rc.log(r.Context(), slog.LevelWarn, "skyvern: rejected webhook", "error", err, "remote_addr", r.RemoteAddr)
		http.Error(rw, "unauthorized", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// receive reads, verifies and decodes a delivery. On failure it has already
// answered and returns false.
func (rc *receiver) receive(rw http.ResponseWriter, r *http.Request) (*WebhookPayload, bool) {
	body, ok := rc.readVerified(rw, r)
	if !ok {
		return nil, false
	}
	p, err := decodePayload(body)
	if err != nil {
		rc.log(r.Context(), slog.LevelError, "skyvern: undecodable webhook", "error", err)
		http.Error(rw, "malformed payload", http.StatusBadRequest)
		return nil, false
	}
	return p, true
}

// readCapped reads the whole body, refusing more than limit bytes. It sizes
// its buffer from Content-Length, but never trusts it for more than 1 MiB
// before the bytes arrive.
func readCapped(rw http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if r.Body == nil {
		return nil, nil
	}
	first := 0
	if r.ContentLength > 0 {
		first = int(min(r.ContentLength, 1<<20)) + 1
	}
	return readAll(http.MaxBytesReader(rw, r.Body, limit), first, limit)
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
	for _, fn := range rc.cfg.notify {
		fn(p)
	}
}

func (rc *receiver) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if rc.cfg.logger != nil {
		rc.cfg.logger.Log(ctx, level, msg, args...)
	}
}
