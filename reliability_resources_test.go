package skyvern_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skyvern-go/skyvern"
)

// hugeBody is the size of the hostile bodies (100 MiB): far more than any
// limit, and never held in memory by the test itself.
const hugeBody = 100 << 20

const mib = 1 << 20

// patternReader yields n bytes of a repeating pattern without allocating
// them, so a test can stream 100 MiB through a handler.
type patternReader struct {
	head    []byte // sent once, first
	pattern []byte
	left    int64
	off     int
}

func newPatternReader(head, pattern string, n int64) *patternReader {
	return &patternReader{head: []byte(head), pattern: []byte(pattern), left: n}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	if len(r.head) > 0 {
		n = copy(p, r.head)
		r.head = r.head[n:]
	}
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	r.left -= int64(n)
	return n, nil
}

// heapUse is what measureHeap saw while a function ran.
type heapUse struct {
	// peak is the largest HeapAlloc sampled (every millisecond, and once at
	// the end) minus HeapAlloc before the call, after a GC. It counts
	// garbage not yet collected, so it is an upper bound of the live growth.
	peak uint64
	// total is the growth of TotalAlloc: every byte allocated meanwhile, by
	// any goroutine of the test binary.
	total uint64
}

func (h heapUse) String() string {
	return fmt.Sprintf("peak_heap=%.1fMB alloc=%.1fMB", float64(h.peak)/1e6, float64(h.total)/1e6)
}

// measureHeap runs fn while sampling the heap. The tests that use it are not
// parallel, so other tests' allocations do not inflate the figures.
func measureHeap(fn func()) heapUse {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var (
		mu   sync.Mutex
		peak uint64
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapAlloc)
		mu.Unlock()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	fn()
	close(stop)
	<-done
	sample()

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	use := heapUse{total: after.TotalAlloc - before.TotalAlloc}
	if peak > before.HeapAlloc {
		use.peak = peak - before.HeapAlloc
	}
	return use
}

// streamingServer answers every request with status and a huge body made by
// gen, with or without a Content-Length.
func streamingServer(t *testing.T, status int, contentType string, withLength bool, gen func() io.Reader) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		if withLength {
			w.Header().Set("Content-Length", strconv.Itoa(hugeBody))
		}
		w.WriteHeader(status)
		_, _ = io.Copy(w, gen()) // fails when the client hangs up, as intended
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestReliabilityResourceBounds(t *testing.T) {
	skipUnderShort(t, "streams 100 MiB hostile bodies")
	// Not parallel: the heap figures must not include other tests' work.
	ctx := context.Background()
	var lines []string

	t.Run("huge response body", func(t *testing.T) {
		tests := []struct {
			name       string
			withLength bool
			opts       []skyvern.Option
			limit      int64
			// maxPeak bounds the heap growth: the limit plus a 1 MiB
			// piece and slack, or far less where nothing is read.
			maxPeak uint64
		}{
			{"streamed, default limit", false, nil, skyvern.DefaultMaxResponseBytes, 80e6},
			{"streamed, 8 MiB limit", false, []skyvern.Option{skyvern.WithMaxResponseBytes(8 * mib)}, 8 * mib, 16e6},
			{"with Content-Length, default limit", true, nil, skyvern.DefaultMaxResponseBytes, 16e6},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv := streamingServer(t, http.StatusOK, "application/json", tt.withLength, func() io.Reader {
					return newPatternReader(`{"run_id":"tsk_1","output":"`, "0123456789abcdef", hugeBody)
				})
				c, err := skyvern.NewClient(testAPIKey, append([]skyvern.Option{skyvern.WithBaseURL(srv.URL)}, tt.opts...)...)
				require.NoError(t, err)
				var getErr error
				use := measureHeap(func() { _, getErr = c.GetRun(ctx, "tsk_1") })
				require.ErrorIs(t, getErr, skyvern.ErrResponseTooLarge)
				assert.Less(t, use.peak, tt.maxPeak, "limit %d bytes: %v", tt.limit, use)
				lines = append(lines, fmt.Sprintf("get_run_100MiB[%s]: ErrResponseTooLarge %v", tt.name, use))
			})
		}
	})

	t.Run("huge error body", func(t *testing.T) {
		srv := streamingServer(t, http.StatusBadGateway, "text/html", false, func() io.Reader {
			return newPatternReader("<html><head><title>502 Bad Gateway</title></head><body>", "<p>upstream went away</p>\n", hugeBody)
		})
		c, err := skyvern.NewClient(testAPIKey, skyvern.WithBaseURL(srv.URL), skyvern.WithRetryWait(time.Millisecond, 5*time.Millisecond))
		require.NoError(t, err)
		tests := []struct {
			name string
			call func() error
			// unknown: the call starts work, so a 502 leaves its outcome open.
			unknown bool
		}{
			{"get_run, retried", func() error { _, err := c.GetRun(ctx, "tsk_1"); return err }, false},
			{"run_task", func() error {
				_, err := c.RunTask(ctx, &skyvern.TaskRunRequest{Prompt: "p"})
				return err
			}, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var callErr error
				use := measureHeap(func() { callErr = tt.call() })
				var apiErr *skyvern.APIError
				require.ErrorAs(t, callErr, &apiErr)
				assert.Equal(t, tt.unknown, errors.Is(callErr, skyvern.ErrOutcomeUnknown))
				assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
				assert.Len(t, apiErr.Body, mib, "the error body is read up to 1 MiB")
				assert.Equal(t, "502 Bad Gateway", apiErr.Detail)
				assert.Less(t, use.peak, uint64(16e6), "%v", use)
				lines = append(lines, fmt.Sprintf("error_502_100MiB_html[%s]: APIError body=%d bytes %v", tt.name, len(apiErr.Body), use))
			})
		}
	})

	t.Run("huge webhook", func(t *testing.T) {
		wh, err := skyvern.NewWebhook(testAPIKey)
		require.NoError(t, err)
		// Under the default cap the forgery is read to its end (spilled
		// to disk, never held) before its signature can be judged.
		tests := []struct {
			name       string
			opts       []skyvern.HandlerOption
			withLength bool
			want       int
			maxPeak    uint64
		}{
			{"with Content-Length, default cap", nil, true, http.StatusUnauthorized, 16e6},
			{"chunked, 4 MiB cap", []skyvern.HandlerOption{skyvern.WithMaxBodyBytes(4 * mib)}, false, http.StatusRequestEntityTooLarge, 16e6},
			{"chunked, default cap", nil, false, http.StatusUnauthorized, 16e6},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var calls atomic.Int32
				opts := append([]skyvern.HandlerOption{skyvern.WithSpillDir(t.TempDir())}, tt.opts...)
				srv := httptest.NewServer(wh.Handler(func(context.Context, *skyvern.WebhookPayload) error {
					calls.Add(1)
					return nil
				}, opts...))
				t.Cleanup(srv.Close)
				var status int
				use := measureHeap(func() { status = postHuge(t, srv.URL, tt.withLength) })
				assert.Equal(t, tt.want, status)
				assert.Zero(t, calls.Load())
				assert.Less(t, use.peak, tt.maxPeak, "%v", use)
				lines = append(lines, fmt.Sprintf("webhook_100MiB[%s]: %d %v", tt.name, status, use))
			})
		}
	})

	t.Logf("reliability: resources %s", strings.Join(lines, "; "))
}

// postHuge sends a 100 MiB POST on a raw connection and reads the answer
// while the body is still being written, since a server that refuses it
// answers before the upload ends. It returns the status.
func postHuge(t *testing.T, serverURL string, withLength bool) int {
	t.Helper()
	body := newPatternReader(`{"run_id":"tsk_1","output":"`, "0123456789abcdef", hugeBody)
	return postStream(t, serverURL, strings.Repeat("ab", 32), body, hugeBody, withLength)
}

// postStream sends body (size bytes, signed with signature) as postHuge
// does, with a Content-Length or chunked, and returns the status.
func postStream(t *testing.T, serverURL, signature string, body io.Reader, size int64, withLength bool) int {
	t.Helper()
	addr := strings.TrimPrefix(serverURL, "http://")
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))

	head := "POST / HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
		skyvern.SignatureHeader + ": " + signature + "\r\n"
	if withLength {
		head += "Content-Length: " + strconv.FormatInt(size, 10) + "\r\n\r\n"
	} else {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	}
	writeDone := make(chan error, 1)
	go func() {
		writeDone <- writeHuge(conn, head, body, withLength)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	_ = conn.Close() // stops the writer if the server did not
	<-writeDone
	return resp.StatusCode
}

// writeHuge writes the request head and body, chunked or not, and returns
// the first error (the server hanging up, normally).
func writeHuge(conn net.Conn, head string, body io.Reader, withLength bool) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	if _, err := io.WriteString(w, head); err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		n, readErr := body.Read(buf)
		var err error
		switch {
		case n > 0 && withLength:
			_, err = w.Write(buf[:n])
		case n > 0:
			_, err = fmt.Fprintf(w, "%x\r\n%s\r\n", n, buf[:n])
		}
		if err != nil {
			return err
		}
		if readErr != nil {
			break
		}
	}
	if !withLength {
		if _, err := io.WriteString(w, "0\r\n\r\n"); err != nil {
			return err
		}
	}
	return w.Flush()
}
