package skyvern

import (
	"bytes"
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
