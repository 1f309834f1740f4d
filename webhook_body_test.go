package skyvern

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// countingBody is a request body that counts the bytes taken from it.
type countingBody struct {
	r    io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

func TestHandlerRefusesUnsignedRequestsUnread(t *testing.T) {
	t.Parallel()
	body := deliveryBody("tsk_unsigned", RunStatusCompleted)
	tests := []struct {
		name string
		sig  []string
	}{
		{"no header", nil},
		{"empty", []string{""}},
		{"prefixed", []string{"sha256=" + Sign(body, testKey)}},
		{"uppercase", []string{strings.ToUpper(Sign(body, testKey))}},
		{"short", []string{Sign(body, testKey)[:40]}},
		{"not hex", []string{strings.Repeat("zz", 32)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c countingFn
			h := mustWebhook(t, testKey).Handler(c.fn)
			cb := &countingBody{r: bytes.NewReader(body)}
			r := httptest.NewRequest(http.MethodPost, "/skyvern/webhook", cb)
			if tt.sig != nil {
				r.Header[canonicalSignatureHeader] = tt.sig
			}
			rec := serve(h, r)
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			assert.Zero(t, cb.read, "the body of an unsigned request is not read")
			assert.Zero(t, c.calls.Load())
		})
	}
}

// failingBody yields part of a body, then fails with err.
func failingBody(body []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(body[:len(body)/2]), &errReader{err})
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

func TestHandlerAsksForRedeliveryOnBodyReadErrors(t *testing.T) {
	t.Parallel()
	body := deliveryBody("tsk_cut", RunStatusCompleted)
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"read timeout", os.ErrDeadlineExceeded, http.StatusRequestTimeout},
		{"connection reset", &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, http.StatusServiceUnavailable},
		{"cut short", io.ErrUnexpectedEOF, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c countingFn
			h := mustWebhook(t, testKey).Handler(c.fn)
			r := delivery(body, testKey)
			r.Body = io.NopCloser(failingBody(body, tt.err))
			rec := serve(h, r)
			assert.Equal(t, tt.want, rec.Code, "Skyvern retries 408 and 5xx, not 400")
			assert.Zero(t, c.calls.Load())

			// The redelivery that follows is processed.
			assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
			assert.Equal(t, int32(1), c.calls.Load())
		})
	}
}
