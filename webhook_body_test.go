package skyvern

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// largeDelivery is a workflow delivery whose output and outputs are n
// bytes each, and a small field on either side of them.
func largeDelivery(runID string, n int) (body []byte, output string) {
	output = `{"rows":"` + strings.Repeat("r", n) + `"}`
	body = []byte(`{"run_id":"` + runID + `","status":"completed","output":` + output +
		`,"run_type":"workflow_run","outputs":{"extract":` + output + `},"run_request":{"workflow_id":"wpid_1","parameters":{"blob":"` +
		strings.Repeat("p", n) + `"}},"step_count":3,"created_at":"2026-01-31T15:20:42","modified_at":"2026-01-31T15:23:34"}`)
	return body, output
}

// spillRecorder makes spill files in a directory and remembers whether
// each was closed, so that tests can see the handler let go of them.
type spillRecorder struct {
	dir    string
	mu     sync.Mutex
	files  []*recordedFile
	failAt int64 // a write past this many bytes fails with ENOSPC; 0: never
}

type recordedFile struct {
	*os.File
	written int64
	failAt  int64
	closed  atomic.Bool
}

func (f *recordedFile) Write(p []byte) (int, error) {
	if f.failAt > 0 && f.written+int64(len(p)) > f.failAt {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *recordedFile) Close() error {
	f.closed.Store(true)
	err := f.File.Close()
	_ = os.Remove(f.Name())
	return err
}

func (s *spillRecorder) create(dir string) (spillFile, error) {
	if dir == "" {
		dir = s.dir
	}
	f, err := os.CreateTemp(dir, "spill-*")
	if err != nil {
		return nil, err
	}
	rf := &recordedFile{File: f, failAt: s.failAt}
	s.mu.Lock()
	s.files = append(s.files, rf)
	s.mu.Unlock()
	return rf, nil
}

func (s *spillRecorder) option() HandlerOption {
	return func(c *handlerConfig) { c.createSpill = s.create }
}

// open reports how many spill files are still open, and how many were made.
func (s *spillRecorder) open() (open, made int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if !f.closed.Load() {
			open++
		}
	}
	return open, len(s.files)
}

func assertDirEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no spill file is left behind")
}

func TestHandlerSpilledDelivery(t *testing.T) {
	t.Parallel()
	body, output := largeDelivery("wr_spilled", 100<<10)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var calls atomic.Int32
			h := mustWebhook(t, testKey).Handler(func(_ context.Context, p *WebhookPayload) error {
				calls.Add(1)
				assert.True(t, p.Spilled())
				assertDirEmpty(t, dir) // unlinked as soon as made
				assert.Equal(t, "wr_spilled", p.RunID)
				assert.Equal(t, RunStatusCompleted, p.Status)
				assert.Equal(t, RunTypeWorkflowRun, p.RunType)
				require.NotNil(t, p.StepCount)
				assert.Equal(t, 3, *p.StepCount)
				assert.False(t, p.CreatedAt.IsZero())
				assert.Nil(t, p.Raw)
				assert.Nil(t, p.Output, "a large value stays on disk")
				assert.Equal(t, []string{"output", "outputs", "run_request"}, p.Large.Names())

				r, ok := p.LargeValue("output")
				require.True(t, ok)
				got, err := io.ReadAll(r)
				require.NoError(t, err)
				assert.Equal(t, output, string(got))
				_, ok = p.LargeValue("run_id")
				assert.False(t, ok, "small values are decoded, not on disk")

				var out struct{ Rows string }
				require.NoError(t, p.DecodeOutput(&out))
				assert.Len(t, out.Rows, 100<<10)

				whole, err := io.ReadAll(p.Large.Reader())
				require.NoError(t, err)
				assert.True(t, bytes.Equal(body, whole), "the whole body reads back as signed")
				whole, err = io.ReadAll(p.RawReader())
				require.NoError(t, err)
				assert.True(t, bytes.Equal(body, whole))
				assert.Equal(t, int64(len(body)), p.Large.Size())
				return nil
			}, WithMemoryBodyBytes(16<<10), WithSpillDir(dir))

			send := func() int {
				r := delivery(body, testKey)
				if chunked {
					r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body)))
					r.ContentLength = -1
				}
				return serve(h, r).Code
			}
			assert.Equal(t, http.StatusOK, send())
			assert.Equal(t, http.StatusOK, send(), "a redelivery of a spilled event is a duplicate")
			assert.Equal(t, int32(1), calls.Load())
			assertDirEmpty(t, dir)
		})
	}
}

func TestHandlerSmallDeliveryIsNotSpilled(t *testing.T) {
	t.Parallel()
	body, _ := largeDelivery("wr_small", 100)
	for _, chunked := range []bool{false, true} {
		var got *WebhookPayload
		h := mustWebhook(t, testKey).Handler(func(_ context.Context, p *WebhookPayload) error {
			got = p
			return nil
		}, WithMemoryBodyBytes(int64(len(body))))
		r := delivery(body, testKey)
		if chunked {
			r.Body, r.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(body))), -1
		}
		require.Equal(t, http.StatusOK, serve(h, r).Code)
		assert.False(t, got.Spilled())
		assert.Equal(t, string(body), string(got.Raw))
		whole, err := io.ReadAll(got.RawReader())
		require.NoError(t, err)
		assert.Equal(t, string(body), string(whole))
		_, ok := got.LargeValue("output")
		assert.False(t, ok)
	}
}

func TestMiddlewareSpilledBody(t *testing.T) {
	t.Parallel()
	body, _ := largeDelivery("wr_mw", 50<<10)
	var seen []byte
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PayloadFromContext(r.Context())
		require.True(t, ok)
		assert.True(t, p.Spilled())
		assert.Equal(t, int64(len(body)), r.ContentLength)
		seen, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	h := mustWebhook(t, testKey).Middleware(next, WithMemoryBodyBytes(4<<10), WithSpillDir(t.TempDir()))
	assert.Equal(t, http.StatusNoContent, serve(h, delivery(body, testKey)).Code)
	assert.True(t, bytes.Equal(body, seen), "next reads the raw body from the spill file")
}

func TestHandlerSpillFilesGoAway(t *testing.T) {
	t.Parallel()
	body, _ := largeDelivery("wr_cleanup", 40<<10)
	tests := []struct {
		name string
		fn   func(context.Context, *WebhookPayload) error
		req  func() *http.Request
		want int
	}{
		{"fn succeeds", func(context.Context, *WebhookPayload) error { return nil }, func() *http.Request { return delivery(body, testKey) }, http.StatusOK},
		{"fn fails", func(context.Context, *WebhookPayload) error { return errors.New("db down") }, func() *http.Request { return delivery(body, testKey) }, http.StatusInternalServerError},
		{"fn panics", func(context.Context, *WebhookPayload) error { panic("bug") }, func() *http.Request { return delivery(body, testKey) }, 0},
		{"forged", nil, func() *http.Request { return delivery(body, "sk_forger") }, http.StatusUnauthorized},
		{"client gone mid-body", nil, func() *http.Request {
			r := delivery(body, testKey)
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:30<<10]), &errReader{io.ErrUnexpectedEOF}))
			return r
		}, http.StatusServiceUnavailable},
		{"not a payload", nil, func() *http.Request {
			bad := append([]byte(`{"no_run":`), body[1:]...)
			return delivery(bad, testKey)
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &spillRecorder{dir: t.TempDir()}
			var reader io.Reader
			fn := func(ctx context.Context, p *WebhookPayload) error {
				reader, _ = p.LargeValue("output")
				if tt.fn == nil {
					return nil
				}
				return tt.fn(ctx, p)
			}
			h := mustWebhook(t, testKey).Handler(fn, WithMemoryBodyBytes(8<<10), rec.option())
			code := func() (code int) {
				defer func() {
					if v := recover(); v != nil {
						code = 0
					}
				}()
				return serve(h, tt.req()).Code
			}()
			assert.Equal(t, tt.want, code)
			open, made := rec.open()
			assert.Equal(t, 1, made)
			assert.Zero(t, open, "the spill file is closed when the handler returns")
			assertDirEmpty(t, rec.dir)
			if reader != nil {
				_, err := io.ReadAll(reader)
				assert.ErrorIs(t, err, os.ErrClosed, "a large value cannot be read after the handler returned")
			}
		})
	}
}

func TestHandlerSpillFileGoesAwayWhenClientDisconnects(t *testing.T) {
	t.Parallel()
	body, _ := largeDelivery("wr_gone", 40<<10)
	rec := &spillRecorder{dir: t.TempDir()}
	entered := make(chan struct{})
	returned := make(chan struct{})
	h := mustWebhook(t, testKey).Handler(func(ctx context.Context, _ *WebhookPayload) error {
		close(entered)
		<-ctx.Done() // the client hangs up while fn works
		return ctx.Err()
	}, WithMemoryBodyBytes(8<<10), rec.option())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = signedHeader(body, testKey, 1769873016)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	cancel()
	require.Error(t, <-done)
	<-returned
	open, made := rec.open()
	assert.Equal(t, 1, made)
	assert.Zero(t, open)
	assertDirEmpty(t, rec.dir)
}

func TestHandlerAnswers503WhenTheBodyCannotBeStored(t *testing.T) {
	t.Parallel()
	body, _ := largeDelivery("wr_disk", 40<<10)
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	tests := []struct {
		name string
		opts []HandlerOption
		want string // in the log
	}{
		{"disk full", []HandlerOption{(&spillRecorder{dir: t.TempDir(), failAt: 20 << 10}).option()}, "no space left on device"},
		{"missing directory", []HandlerOption{WithSpillDir(filepath.Join(t.TempDir(), "gone"))}, "no such file or directory"},
		{"not a directory", []HandlerOption{WithSpillDir(notADir)}, "not a directory"},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tt.name, chunked), func(t *testing.T) {
				t.Parallel()
				var buf safeBuffer
				var c countingFn
				opts := append([]HandlerOption{WithMemoryBodyBytes(8 << 10), WithHandlerLogger(newTestLogger(&buf))}, tt.opts...)
				h := mustWebhook(t, testKey).Handler(c.fn, opts...)
				r := delivery(body, testKey)
				if chunked {
					r.Body, r.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(body))), -1
				}
				rec := serve(h, r)
				assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "Skyvern retries 5xx")
				assert.Equal(t, "5", rec.Header().Get("Retry-After"))
				assert.Zero(t, c.calls.Load())
				assert.Contains(t, buf.String(), "cannot store webhook body")
				assert.Contains(t, buf.String(), tt.want)
				assert.NotContains(t, buf.String(), testKey)
			})
		}
	}
}

func TestHandlerMaxBodyIsTheOnlyRefusalForSize(t *testing.T) {
	t.Parallel()
	body, _ := largeDelivery("wr_cap", 40<<10)
	var c countingFn
	for _, chunked := range []bool{false, true} {
		h := mustWebhook(t, testKey).Handler(c.fn, WithMemoryBodyBytes(8<<10), WithMaxBodyBytes(int64(len(body)-1)), WithSpillDir(t.TempDir()))
		r := delivery(body, testKey)
		if chunked {
			r.Body, r.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(body))), -1
		}
		assert.Equal(t, http.StatusRequestEntityTooLarge, serve(h, r).Code)
		h = mustWebhook(t, testKey).Handler(c.fn, WithMemoryBodyBytes(8<<10), WithMaxBodyBytes(int64(len(body))), WithSpillDir(t.TempDir()))
		assert.Equal(t, http.StatusOK, serve(h, delivery(body, testKey)).Code)
	}
	assert.Equal(t, int32(2), c.calls.Load(), "each body at the cap is processed")
}

// BenchmarkHandlerLargeBody sends one 3 MiB workflow delivery (output,
// outputs and run_request of 1 MiB each) through Handler, held in memory
// (the baseline) or spilled to a file in a temporary directory. The
// repeats are duplicates, so fn runs once; reading, verifying and decoding
// are measured on every request.
func BenchmarkHandlerLargeBody(b *testing.B) {
	body, _ := largeDelivery("wr_bench", 1<<20)
	sig := Sign(body, testKey)
	for _, mode := range []struct {
		name string
		mem  int64
	}{{"memory", int64(len(body))}, {"spilled", 1 << 20}} {
		b.Run(mode.name, func(b *testing.B) {
			h := mustWebhook(b, testKey).Handler(func(context.Context, *WebhookPayload) error { return nil },
				WithMemoryBodyBytes(mode.mem), WithSpillDir(b.TempDir()))
			w := &benchWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest(http.MethodPost, "/skyvern/webhook", bytes.NewReader(body))
				r.Header.Set(SignatureHeader, sig)
				h.ServeHTTP(w, r)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// memSpill is a spill file in memory, for decoding tests.
type memSpill struct{ *bytes.Reader }

func (memSpill) Write(p []byte) (int, error) { return len(p), nil }
func (memSpill) Close() error                { return nil }

// FuzzSpilledDecode checks that a body decoded from a spill file, with a
// budget that keeps every value in memory, gives the payload that the
// in-memory decoding gives, and the same verdict on bad bodies.
func FuzzSpilledDecode(f *testing.F) {
	for _, s := range []string{
		string(deliveryBody("tsk_1", RunStatusCompleted)),
		`{"run_id":"wr_1","status":"failed","output":null,"outputs":{"a":[1,2.5,"x"]},"run_request":{"k":true}}`,
		`{"RUN_ID":"tsk_case","run_id":"tsk_2","step_count":3,"step_count":4}`,
		`{"task_id":"tsk_v2_1","created_at":"2026-01-31T15:20:42","finished_at":null}`,
		`{"run_id":"tsk_3","created_at":"yesterday"}`,
		`{"run_id":"tsk_4","step_count":"three"}`,
		`{"status":"completed"}`, `[]`, `null`, `{"run_id":"tsk_5"} x`, `{"run_id":"a\u0062"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := decodePayload(append([]byte(nil), body...))
		got, err := decodeSpilled(&receivedBody{file: memSpill{bytes.NewReader(body)}, size: int64(len(body))}, 1<<20)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("spilled: %v; in memory: %v", err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedPayload) {
				t.Fatalf("not a payload error: %v", err)
			}
			return
		}
		if len(got.Large.Names()) > 0 {
			t.Skip("a value over the inline size") // only in long inputs
		}
		if !got.Spilled() || got.Raw != nil {
			t.Fatalf("not marked spilled")
		}
		got.Large, want.Raw = nil, nil
		if diff := cmp.Diff(want, got, payloadCmp); diff != "" {
			t.Fatalf("(-in memory +spilled):\n%s", diff)
		}
	})
}

func TestHandlerAnswers408OnServerReadTimeout(t *testing.T) {
	t.Parallel()
	body := deliveryBody("tsk_slow", RunStatusCompleted)
	var c countingFn
	srv := httptest.NewUnstartedServer(mustWebhook(t, testKey).Handler(c.fn))
	srv.Config.ReadTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: %s\r\n\r\n", len(body), SignatureHeader, Sign(body, testKey))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	_, err = conn.Write(body[:len(body)/2]) // and then nothing, until the server gives up
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.Zero(t, c.calls.Load())
}
