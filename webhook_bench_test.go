package skyvern

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Run: go test -run='^$' -bench=. -benchmem -count=5 .
//
// BenchmarkVerify is this package's verifier, BenchmarkVerifyNaive the
// snippet from Skyvern's docs translated to Go (a new HMAC per call, the
// expected value hex-encoded, strings compared), and BenchmarkSHA256 a bare
// hash of the same bytes: the floor any HMAC verifier sits above.

var benchSizes = []struct {
	name string
	n    int
}{
	{"1KiB", 1 << 10},
	{"8KiB", 8 << 10},
	{"1MiB", 1 << 20},
}

// benchBody returns a payload-like JSON body of exactly n bytes.
func benchBody(n int, runID string) []byte {
	head := fmt.Sprintf(`{"run_id":%q,"status":"completed","run_type":"task_v2","created_at":"2026-01-31T15:20:42.160725","modified_at":"2026-01-31T15:23:34.993138","output":{"text":"`, runID)
	const tail = `"}}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// benchEachSize runs check over bodies of every size, each signed with
// testKey, failing if check rejects one.
func benchEachSize(b *testing.B, check func(body []byte, h http.Header) bool) {
	for _, size := range benchSizes {
		body := benchBody(size.n, "tsk_bench")
		h := http.Header{}
		h.Set(SignatureHeader, Sign(body, testKey))
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !check(body, h) {
					b.Fatal("rejected")
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	wh := mustWebhook(b, testKey)
	benchEachSize(b, func(body []byte, h http.Header) bool { return wh.Verify(body, h) == nil })
}

// naiveVerify is the docs' verifier as a Go user would first write it.
func naiveVerify(body []byte, h http.Header, key string) bool {
	signature := h.Get(SignatureHeader)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	expected := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(signature), []byte(expected))
}

func BenchmarkVerifyNaive(b *testing.B) {
	benchEachSize(b, func(body []byte, h http.Header) bool { return naiveVerify(body, h, testKey) })
}

var sha256Sink [sha256.Size]byte

func BenchmarkSHA256(b *testing.B) {
	benchEachSize(b, func(body []byte, _ http.Header) bool {
		sha256Sink = sha256.Sum256(body)
		return true
	})
}

// benchWriter is a reusable ResponseWriter, so the benchmark measures the
// handler rather than a recorder.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkHandler sends 8 KiB deliveries through Handler: read, verify,
// decode, claim and complete in the default memory store. Every delivery
// has its own run_id, so deduplication does real work; requests are built
// (and signed) in batches outside the timer.
func BenchmarkHandler(b *testing.B) {
	const size, batch = 8 << 10, 1024
	h := mustWebhook(b, testKey).Handler(func(context.Context, *WebhookPayload) error { return nil })
	w := &benchWriter{h: http.Header{}}
	reqs := make([]*http.Request, batch)
	prepare := func(from int) {
		for j := range reqs {
			body := benchBody(size, fmt.Sprintf("tsk_%020d", from+j))
			r := httptest.NewRequest(http.MethodPost, "/skyvern/webhook", bytes.NewReader(body))
			r.Header.Set(SignatureHeader, Sign(body, testKey))
			r.Header.Set(TimestampHeader, "1769873016")
			reqs[j] = r
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 {
			b.StopTimer()
			prepare(i)
			b.StartTimer()
		}
		h.ServeHTTP(w, reqs[i%batch])
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}
