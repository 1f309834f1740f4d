package skyvern

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

// The seed corpora live in testdata/fuzz/<FuzzName>; these add the wire
// vectors so that a plain go test exercises them too.

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"run_id":"tsk_1","status":"completed","step_count":3}`), "609e0364a92ed3cc92753bcc1b0c53f78b77d2b7782c5f2f0c9f92cfa255d875", "sk_docs_snippet_test_key")
	f.Add([]byte(`{}`), "", "k")
	f.Add([]byte(`{}`), "1e2892b03c784ea553b171f763275d79707cecf1a737c3b24547613251169698", "")
	f.Fuzz(func(t *testing.T, body []byte, sig, key string) {
		err := VerifySignature(body, sig, key)
		if isBlank(key) {
			if !errors.Is(err, ErrEmptyKey) {
				t.Fatalf("blank key: got %v, want ErrEmptyKey", err)
			}
			return
		}
		genuine := Sign(body, key)
		if err == nil && sig != genuine {
			t.Fatalf("accepted %q, but the only valid signature is %q", sig, genuine)
		}
		if err != nil && !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err := VerifySignature(body, genuine, key); err != nil {
			t.Fatalf("genuine signature rejected: %v", err)
		}

		wh, werr := NewWebhook(key)
		if werr != nil {
			t.Fatalf("NewWebhook: %v", werr)
		}
		got := wh.Verify(body, http.Header{canonicalSignatureHeader: {sig}})
		if (got == nil) != (err == nil) || (got != nil && got.Error() != err.Error()) {
			t.Fatalf("Webhook.Verify = %v, VerifySignature = %v", got, err)
		}
		if err := wh.Verify(body, http.Header{canonicalSignatureHeader: {genuine}}); err != nil {
			t.Fatalf("Webhook.Verify rejected the genuine signature: %v", err)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(seedPayload))
	f.Add([]byte(taskV1Payload))
	f.Add([]byte(workflowPayload))
	wh, err := NewWebhook(testKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := wh.Parse(body, http.Header{canonicalSignatureHeader: {Sign(body, testKey)}})
		if err != nil {
			var pe *PayloadError
			if !errors.Is(err, ErrMalformedPayload) || !errors.As(err, &pe) {
				t.Fatalf("authentic body gave %T %v, want *PayloadError", err, err)
			}
			return
		}
		if string(p.Raw) != string(body) {
			t.Fatalf("Raw differs from the body")
		}
		if p.IdempotencyKey() == "" {
			t.Fatalf("decoded payload has no idempotency key")
		}
		_ = p.IsTerminal()
		_ = p.WebhookDeliveryFailed()
		var out any
		if err := p.DecodeOutput(&out); err != nil && !errors.Is(err, ErrNoOutput) && !errors.Is(err, ErrMalformedPayload) {
			t.Fatalf("DecodeOutput: %v", err)
		}
		// Whatever decodes must encode, and decode again.
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := decodePayload(again); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
	})
}

func FuzzTime(f *testing.F) {
	for _, s := range []string{
		`"2026-01-31T15:20:42.160725"`,
		`"2026-01-31T15:20:42"`,
		`"2026-01-31T15:20:42Z"`,
		`"2026-01-31T16:20:42.5+01:00"`,
		`"2026-01-31 15:20:42.123456789"`,
		`null`,
		`0`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var direct Time
		_ = direct.UnmarshalJSON(data) // must not panic on any bytes

		var tm Time
		if err := json.Unmarshal(data, &tm); err != nil {
			return
		}
		out, err := tm.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%v): %v", tm.Time, err)
		}
		var back Time
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s decoded to %v, which marshals to %s, which does not decode: %v", data, tm.Time, out, err)
		}
		if back.Unix() != tm.Unix() || back.Nanosecond()/1000 != tm.Nanosecond()/1000 {
			t.Fatalf("%s decoded to %v, round-tripped through %s to %v", data, tm.Time, out, back.Time)
		}
		if back.Location() != time.UTC && !back.IsZero() {
			t.Fatalf("round-tripped time is in %v, want UTC", back.Location())
		}
	})
}
