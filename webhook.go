package skyvern

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors about the x-skyvern-timestamp header, returned by (*Webhook).Verify
// and Parse only when a tolerance is set (see WithTolerance).
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

// Canonical forms of the header names, so that lookups in an http.Header
// built by net/http need no canonicalization (which allocates).
const (
	canonicalSignatureHeader = "X-Skyvern-Signature"
	canonicalTimestampHeader = "X-Skyvern-Timestamp"
)

// Webhook verifies and decodes the webhooks Skyvern sends when a run
// finishes, and serves them over HTTP (see Handler, Middleware and
// TOTPHandler). Build one with NewWebhook; it is safe for concurrent use and
// immutable: WithTolerance and WithClock return configured copies.
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
// and accepts a delivery signed by any of them; list each key that may sign
// for this receiver, and drop an old key only once no run started,
// canceled or replayed with it can still deliver.
type Webhook struct {
	keys      []macKey
	pool      *macPool
	tolerance time.Duration
	now       func() time.Time
}

// NewWebhook returns a Webhook that accepts deliveries signed with apiKey or
// any of moreKeys. An empty or blank key is an error wrapping ErrEmptyKey: a
// verifier holding a key that everyone knows would accept forgeries.
//
// The timestamp is not checked unless WithTolerance is used.
func NewWebhook(apiKey string, moreKeys ...string) (*Webhook, error) {
	w := &Webhook{
		keys: make([]macKey, 0, 1+len(moreKeys)),
		pool: newMACPool(),
		now:  time.Now,
	}
	for i, key := range append([]string{apiKey}, moreKeys...) {
		if isBlank(key) {
			// The message names the key's position, never its value.
			return nil, fmt.Errorf("skyvern: NewWebhook: key %d: %w", i, ErrEmptyKey)
		}
		mk, err := newMACKey(key)
		if err != nil {
			return nil, err
		}
		w.keys = append(w.keys, mk)
	}
	return w, nil
}

// WithTolerance returns a copy of w that also rejects deliveries whose
// x-skyvern-timestamp is more than d away from the current time, in the
// past or in the future. d <= 0 turns the check off, which is the default.
//
// The check is advisory. Skyvern does not sign the timestamp, so anyone who
// captured a genuine delivery can resend it with a fresh timestamp; the
// check only limits how long a captured delivery replays unchanged. Skyvern
// keeps the original timestamp on its automatic retries (three attempts,
// each waiting up to 30 s, with up to 30 s between them) and self-hosted
// servers off UTC send timestamps shifted by their UTC offset, so choose d of
// several minutes. Exactly-once processing (see Handler) is the real defence
// against repeats.
func (w *Webhook) WithTolerance(d time.Duration) *Webhook {
	if w == nil {
		return nil
	}
	c := *w
	c.tolerance = d
	return &c
}

// WithClock returns a copy of w that reads the current time from now when
// checking the timestamp tolerance. It exists for tests; nil restores
// time.Now.
func (w *Webhook) WithClock(now func() time.Time) *Webhook {
	if w == nil {
		return nil
	}
	c := *w
	c.now = now
	if c.now == nil {
		c.now = time.Now
	}
	return &c
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
		if w.keys[i].matches(w.pool, body, &want) {
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
