package skyvern

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Helpers shared by the package's internal tests: verifiers, signed
// deliveries and a handler driver.

// signedHeader returns the headers Skyvern sends with body, signed with key
// and stamped at ts (Unix seconds).
func signedHeader(body []byte, key string, ts int64) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(SignatureHeader, Sign(body, key))
	h.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	return h
}

func mustWebhook(t testing.TB, key string, opts ...WebhookOption) *Webhook {
	t.Helper()
	wh, err := NewWebhook(key, opts...)
	require.NoError(t, err)
	return wh
}

func deliveryBody(runID string, status RunStatus) []byte {
	return []byte(fmt.Sprintf(`{"run_id":%q,"status":%q,"output":{"n":1},"run_type":"task_v2","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34"}`, runID, status))
}

// delivery builds the request Skyvern would send with body, signed by key.
func delivery(body []byte, key string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/skyvern/webhook", bytes.NewReader(body))
	for k, v := range signedHeader(body, key, 1769873016) {
		r.Header[k] = v
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func newTestLogger(b *safeBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hmacPadStates returns the marshaled SHA-256 states after the HMAC inner
// and outer pads of key: what a [Webhook] holds per key, and so what it must
// never print. They are derived here independently of the verifier, and
// checked by computing a genuine signature from them.
func hmacPadStates(t testing.TB, key string) [2][]byte {
	t.Helper()
	k := []byte(key)
	if len(k) > sha256.BlockSize {
		sum := sha256.Sum256(k)
		k = sum[:]
	}
	var states [2][]byte
	for i, b := range []byte{0x36, 0x5c} {
		pad := bytes.Repeat([]byte{b}, sha256.BlockSize)
		for j := range k {
			pad[j] ^= k[j]
		}
		h := sha256.New()
		h.Write(pad)
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		require.NoError(t, err)
		states[i] = st
	}
	body := []byte(`{"run_id":"tsk_pads"}`)
	h := sha256.New()
	require.NoError(t, h.(encoding.BinaryUnmarshaler).UnmarshalBinary(states[0]))
	h.Write(body)
	inner := h.Sum(nil)
	require.NoError(t, h.(encoding.BinaryUnmarshaler).UnmarshalBinary(states[1]))
	h.Write(inner)
	require.Equal(t, Sign(body, key), fmt.Sprintf("%x", h.Sum(nil)), "the derived pad states are not key's")
	return states
}
