package skyvern

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skyvern-go/skyvern/internal/hmacpad"
)

// Canonical forms of the header names, so that lookups in an http.Header
// built by net/http need no canonicalization (which allocates).
const (
	canonicalSignatureHeader = "X-Skyvern-Signature"
	canonicalTimestampHeader = "X-Skyvern-Timestamp"
)

// Webhook verifies and decodes the webhooks Skyvern sends when a run
// finishes, and serves them over HTTP (see [Webhook.Handler],
// [Webhook.Middleware] and [Webhook.TOTPHandler]). Build one with
// [NewWebhook]; it is immutable and safe for concurrent use.
//
// Which key signs a delivery depends on what triggered it: a run's
// completion webhook (task or workflow, interim attempts included) is signed
// with the API key of the request that started the run; the webhook sent
// when a run is canceled, with the key of the request that canceled it; a
// replay (RetryRunWebhook), with the key of its caller; anything the server
// cannot attribute to a request (TOTP requests, runs started from the app or
// a schedule), with the organization's API key, the fallback.
//
// So one receiver can see deliveries signed by several keys: a service that
// starts runs with one key while an operator cancels or replays them with
// another, an organization key next to per-service keys, and every key
// rotation (a run started under the old key still delivers with it, maybe
// after retries that last hours). NewWebhook therefore takes several keys
// ([WithAdditionalKeys]) and accepts a delivery signed by any of them; list each key that may sign
// for this receiver, and drop an old key only once no run started,
// canceled or replayed with it can still deliver.
//
// A Webhook holds key material, so it never prints it: fmt verbs, %#v and
// slog all show only how many keys it has and its tolerance.
type Webhook struct {
	// keys are pointers so that even a printed copy of a Webhook, whose
	// fields fmt reaches without calling any method, shows addresses
	// rather than pad states (see [hmacpad.Key]).
	keys      []*hmacpad.Key
	pool      *hmacpad.Pool
	tolerance time.Duration
	now       func() time.Time
}

// WebhookOption configures a [Webhook] in [NewWebhook]. A nil WebhookOption
// is ignored; an invalid one makes NewWebhook return an error.
type WebhookOption func(*webhookConfig) error

type webhookConfig struct {
	moreKeys  []string
	tolerance time.Duration
	now       func() time.Time
}

// WithAdditionalKeys adds keys that deliveries may also be signed with: the
// organization's key next to the key that starts runs, or the old key during
// a rotation. An empty or blank key among them is an error wrapping
// [ErrEmptyKey]. The option may be given several times; the keys add up.
func WithAdditionalKeys(keys ...string) WebhookOption {
	keys = append([]string(nil), keys...) // the caller may reuse its slice
	return func(c *webhookConfig) error {
		c.moreKeys = append(c.moreKeys, keys...)
		return nil
	}
}

// WithTolerance makes the Webhook also reject deliveries whose
// x-skyvern-timestamp is more than d away from the current time, in the past
// or in the future. 0 turns the check off, which is the default; a negative
// d is an error.
//
// The check is advisory. Skyvern does not sign the timestamp, so anyone who
// captured a genuine delivery can resend it with a fresh timestamp; the
// check only limits how long a captured delivery replays unchanged. Skyvern
// keeps the original timestamp on its automatic retries (three attempts,
// each waiting up to 30 s, with up to 30 s between them) and self-hosted
// servers off UTC send timestamps shifted by their UTC offset, so choose d of
// several minutes. Exactly-once processing (see [Webhook.Handler]) is the
// real defence against repeats.
func WithTolerance(d time.Duration) WebhookOption {
	return func(c *webhookConfig) error {
		if d < 0 {
			return fmt.Errorf("skyvern: WithTolerance(%v): must not be negative", d)
		}
		c.tolerance = d
		return nil
	}
}

// WithClock makes the Webhook read the current time from now when it checks
// the timestamp tolerance. It exists for tests; nil keeps [time.Now].
func WithClock(now func() time.Time) WebhookOption {
	return func(c *webhookConfig) error {
		c.now = now
		return nil
	}
}

// NewWebhook returns a Webhook that accepts deliveries signed with apiKey or
// with a key given by [WithAdditionalKeys]. An empty or blank key, anywhere,
// is an error wrapping [ErrEmptyKey]: a verifier holding a key that everyone
// knows would accept forgeries.
//
// The timestamp is not checked unless [WithTolerance] is given.
func NewWebhook(apiKey string, opts ...WebhookOption) (*Webhook, error) {
	cfg := webhookConfig{}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	all := append([]string{apiKey}, cfg.moreKeys...)
	w := &Webhook{
		keys:      make([]*hmacpad.Key, 0, len(all)),
		pool:      hmacpad.NewPool(),
		tolerance: cfg.tolerance,
		now:       cfg.now,
	}
	if w.now == nil {
		w.now = time.Now
	}
	for i, key := range all {
		if isBlank(key) {
			// The message names the key's position, never its value.
			return nil, fmt.Errorf("skyvern: NewWebhook: key %d: %w", i, ErrEmptyKey)
		}
		mk, err := hmacpad.NewKey(key)
		if err != nil {
			return nil, err
		}
		w.keys = append(w.keys, mk)
	}
	return w, nil
}

// String describes w without any key material.
func (w *Webhook) String() string {
	if w == nil {
		return "skyvern.Webhook(nil)"
	}
	if w.tolerance > 0 {
		return fmt.Sprintf("skyvern.Webhook{keys: %d, tolerance: %s}", len(w.keys), w.tolerance)
	}
	return fmt.Sprintf("skyvern.Webhook{keys: %d}", len(w.keys))
}

// GoString implements [fmt.GoStringer], so %#v prints [Webhook.String]
// rather than the HMAC states, which are as good as the keys.
func (w *Webhook) GoString() string { return w.String() }

// Format implements [fmt.Formatter]: every verb (%v, %+v, %s, %q, %x, ...)
// prints [Webhook.String], so no verb can reach the key material.
func (w *Webhook) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", w.String())
		return
	}
	_, _ = io.WriteString(f, w.String())
}

// LogValue implements [slog.LogValuer]: a Webhook logs as its number of keys
// and its tolerance.
func (w *Webhook) LogValue() slog.Value {
	if w == nil {
		return slog.StringValue(w.String())
	}
	return slog.GroupValue(slog.Int("keys", len(w.keys)), slog.Duration("tolerance", w.tolerance))
}

// Verify checks that body, the raw bytes of a delivery, carries a valid
// signature from one of w's keys in the x-skyvern-signature header of h,
// then (if a tolerance is set) that x-skyvern-timestamp is within it.
//
// The error is nil, or matches ErrMissingSignature, ErrInvalidSignature
// (which ErrMalformedSignature also matches), ErrEmptyKey (for a Webhook not
// made by NewWebhook), ErrMissingTimestamp, ErrMalformedTimestamp or
// ErrTimestampOutOfTolerance. Verify does not allocate.
func (w *Webhook) Verify(body []byte, h http.Header) error {
	if w == nil || len(w.keys) == 0 {
		return ErrEmptyKey
	}
	want, err := decodeSignature(headerValue(h, canonicalSignatureHeader))
	if err != nil {
		return err
	}
	matched := false
	for i := range w.keys {
		if w.keys[i].Matches(w.pool, body, &want) {
			matched = true
			break
		}
	}
	if !matched {
		return ErrInvalidSignature
	}
	if w.tolerance > 0 {
		return w.checkTimestamp(headerValue(h, canonicalTimestampHeader))
	}
	return nil
}

// Parse verifies body as Verify does and then decodes it. A body that
// verifies but does not decode gives a *PayloadError, which matches
// ErrMalformedPayload. The payload keeps a copy of body in Raw.
func (w *Webhook) Parse(body []byte, h http.Header) (*WebhookPayload, error) {
	if err := w.Verify(body, h); err != nil {
		return nil, err
	}
	return decodePayload(append([]byte(nil), body...))
}

func (w *Webhook) checkTimestamp(v string) error {
	if v == "" {
		return ErrMissingTimestamp
	}
	// Skyvern sends str(int(seconds)): digits only, no sign, no fraction.
	if v[0] < '0' || v[0] > '9' {
		return fmt.Errorf("%w: %.32q", ErrMalformedTimestamp, v)
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %.32q", ErrMalformedTimestamp, v)
	}
	sent := time.Unix(secs, 0)
	now := w.now()
	if sent.Before(now.Add(-w.tolerance)) || sent.After(now.Add(w.tolerance)) {
		return fmt.Errorf("%w: sent %s, now %s, tolerance %s", ErrTimestampOutOfTolerance,
			sent.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), w.tolerance)
	}
	return nil
}

// headerValue returns the first value of a header. net/http canonicalizes
// incoming header names, so the map lookup normally hits; a map filled by
// hand with other spellings is searched case-insensitively.
func headerValue(h http.Header, canonical string) string {
	if v, ok := h[canonical]; ok {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, canonical) {
			return v[0]
		}
	}
	return ""
}
