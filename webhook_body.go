package skyvern

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/skyvern-go/skyvern/internal/boundedread"
	"github.com/skyvern-go/skyvern/internal/hmacpad"
)

// DefaultMemoryBodyBytes is how much of a webhook body a handler holds in
// memory (see WithMemoryBodyBytes).
const DefaultMemoryBodyBytes int64 = 4 << 20

// bodyCopyPiece is the size of the reads that stream a body to disk.
const bodyCopyPiece = 32 << 10

// WithMemoryBodyBytes sets how much of a webhook body Handler and Middleware
// hold in memory. A body up to n bytes is read into memory and decoded
// whole, as Raw. A longer one is written to a temporary file as it arrives
// (see WithSpillDir) and, once its signature verifies, reaches fn as a
// spilled payload: small fields decoded, large values left in the file (see
// WebhookPayload.Large). 0 selects DefaultMemoryBodyBytes; a negative n is
// invalid. It is also what one unverified request may make the handler
// buffer in memory.
func WithMemoryBodyBytes(n int64) HandlerOption {
	return func(c *handlerConfig) { setPositive(&c.firstInvalid, "WithMemoryBodyBytes", n, &c.memBody) }
}

// WithSpillDir sets the directory of the temporary files that hold bodies
// over the memory limit (WithMemoryBodyBytes). The default is os.TempDir().
// A file lives while its request is handled and is removed when the
// handler returns, whether fn succeeded, failed or panicked, or the client
// went away; on systems that allow it the file is unlinked as soon as it
// is created, so not even a crash leaves it behind. The directory needs
// room for WithMaxBodyBytes bytes per concurrent large delivery. If a file
// cannot be created or written (a missing or read-only directory, a full
// disk), the delivery is answered 503, which Skyvern retries, and the
// error is logged.
func WithSpillDir(dir string) HandlerOption {
	return func(c *handlerConfig) { c.spillDir = dir }
}

// spillFile is where a body over the memory limit goes: an *os.File,
// unless a test supplies another.
type spillFile interface {
	io.Writer
	io.ReaderAt
	io.Closer
}

// createSpillFile makes a temporary file in dir and unlinks it at once
// where the system allows, so that the open file is all there is of it.
func createSpillFile(dir string) (spillFile, error) {
	f, err := os.CreateTemp(dir, "skyvern-webhook-*")
	if err != nil {
		return nil, err
	}
	if os.Remove(f.Name()) != nil {
		return &removeOnClose{File: f}, nil // Windows: remove after closing
	}
	return f, nil
}

// removeOnClose removes its file when closed.
type removeOnClose struct{ *os.File }

func (f *removeOnClose) Close() error {
	err := f.File.Close()
	if rmErr := os.Remove(f.Name()); err == nil {
		err = rmErr
	}
	return err
}

// receivedBody is a verified body: in memory, or in a spill file.
type receivedBody struct {
	mem  []byte
	file spillFile // nil when the body is in mem
	size int64
}

func (b *receivedBody) close() {
	if b != nil && b.file != nil {
		_ = b.file.Close()
		b.file = nil
	}
}

// spillError is a failure to create or write a spill file.
type spillError struct{ err error }

func (e *spillError) Error() string { return "skyvern: webhook spill file: " + e.err.Error() }
func (e *spillError) Unwrap() error { return e.err }

// bodyMAC computes a body's HMAC under each of a Webhook's keys as the body
// streams by, so that it need not be held to be verified.
type bodyMAC struct {
	w       *Webhook
	scratch []*hmacpad.Scratch
}

func (w *Webhook) newBodyMAC() *bodyMAC {
	m := &bodyMAC{w: w, scratch: make([]*hmacpad.Scratch, len(w.keys))}
	for i := range w.keys {
		m.scratch[i] = w.keys[i].Begin(w.pool)
	}
	return m
}

// Write feeds p to every key's MAC. It never fails.
func (m *bodyMAC) Write(p []byte) (int, error) {
	for _, s := range m.scratch {
		_, _ = s.Write(p)
	}
	return len(p), nil
}

// matches reports whether want is the body's MAC under one of the keys,
// and gives the scratch space back.
func (m *bodyMAC) matches(want *[sha256.Size]byte) bool {
	ok := false
	for i, s := range m.scratch {
		// Every key is finished, so that the pool gets its scratch back.
		if m.w.keys[i].End(s, want) {
			ok = true
		}
		m.w.pool.Put(s)
	}
	m.scratch = nil
	return ok
}

// checkHeaders is the part of Verify that needs no body: the signature's
// form and, with a tolerance, the timestamp. It returns the MAC to expect.
func (w *Webhook) checkHeaders(h http.Header) ([sha256.Size]byte, error) {
	if w == nil || len(w.keys) == 0 {
		return [sha256.Size]byte{}, ErrEmptyKey
	}
	want, err := decodeSignature(headerValue(h, canonicalSignatureHeader))
	if err != nil {
		return want, err
	}
	if w.tolerance > 0 {
		return want, w.checkTimestamp(headerValue(h, canonicalTimestampHeader))
	}
	return want, nil
}

// readVerified reads and verifies a delivery's body. A request whose
// headers cannot verify is refused before its body is read; the body is
// authenticated as it streams in, memory holding at most the memory limit
// of it and a spill file the rest. On failure it has already answered and
// returns false; on success the caller must close the body.
func (rc *receiver) readVerified(rw http.ResponseWriter, r *http.Request) (*receivedBody, bool) {
	if rc.misconfigured(rw, r) {
		return nil, false
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	want, err := rc.wh.checkHeaders(r.Header)
	if err != nil {
		rc.reject(rw, r, err)
		return nil, false
	}
	if r.ContentLength > rc.cfg.maxBody {
		rc.tooLarge(rw, r)
		return nil, false
	}
	mac := rc.wh.newBodyMAC()
	body, err := rc.readBody(rw, r, mac)
	if err != nil {
		mac.matches(&want) // gives the scratch space back
		rc.readFailed(rw, r, err)
		return nil, false
	}
	if !mac.matches(&want) {
		body.close()
		rc.reject(rw, r, ErrInvalidSignature)
		return nil, false
	}
	return body, true
}

// readBody reads the capped body into memory while it fits the memory
// limit, and into a spill file from there on, feeding every byte to mac.
func (rc *receiver) readBody(rw http.ResponseWriter, r *http.Request, mac io.Writer) (*receivedBody, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return &receivedBody{}, nil
	}
	src := io.TeeReader(http.MaxBytesReader(rw, r.Body, rc.cfg.maxBody), mac)
	memLimit := min(rc.cfg.memBody, rc.cfg.maxBody)
	var head [][]byte
	if r.ContentLength <= memLimit {
		// Most bodies end within the memory limit: read them into memory
		// and spill only one that grows past it (a body of unknown length,
		// or one longer than announced when a caller hands the handler a
		// request of its own). A length sizes the first piece (plus one
		// byte, so that EOF needs no second piece), but is trusted for no
		// more than 1 MiB before the bytes arrive.
		first := 0
		if r.ContentLength >= 0 {
			first = int(min(r.ContentLength, 1<<20)) + 1
		}
		mem, err := boundedread.ReadAll(src, first, memLimit)
		if err == nil {
			return &receivedBody{mem: mem, size: int64(len(mem))}, nil
		}
		var partial *boundedread.OverLimitError
		if !errors.As(err, &partial) {
			return nil, err
		}
		head = partial.Pieces
	}
	return rc.spill(head, src)
}

// spill writes head and the rest of src to a new spill file.
func (rc *receiver) spill(head [][]byte, src io.Reader) (*receivedBody, error) {
	create := rc.cfg.createSpill
	if create == nil {
		create = createSpillFile
	}
	f, err := create(rc.cfg.spillDir)
	if err != nil {
		return nil, &spillError{err}
	}
	size := int64(0)
	write := func(p []byte) error {
		n, err := f.Write(p)
		size += int64(n)
		if err != nil {
			_ = f.Close()
			return &spillError{err}
		}
		return nil
	}
	for i, piece := range head {
		if err := write(piece); err != nil {
			return nil, err
		}
		head[i] = nil // the piece may go while the rest streams in
	}
	buf := make([]byte, bodyCopyPiece)
	for {
		n, readErr := src.Read(buf)
		if n > 0 {
			if err := write(buf[:n]); err != nil {
				return nil, err
			}
		}
		if readErr == io.EOF {
			return &receivedBody{file: f, size: size}, nil
		}
		if readErr != nil {
			_ = f.Close()
			return nil, readErr
		}
	}
}

// reject answers 401 for a delivery that does not verify.
func (rc *receiver) reject(rw http.ResponseWriter, r *http.Request, err error) {
	rc.log(r.Context(), slog.LevelWarn, "skyvern: rejected webhook", "error", err, "remote_addr", r.RemoteAddr)
	http.Error(rw, "unauthorized", http.StatusUnauthorized)
}

func (rc *receiver) tooLarge(rw http.ResponseWriter, r *http.Request) {
	rc.log(r.Context(), slog.LevelWarn, "skyvern: webhook body too large", "limit", rc.cfg.maxBody)
	http.Error(rw, "request body too large", http.StatusRequestEntityTooLarge)
}

// readFailed answers a body that could not be received. Only a body over
// the hard maximum is refused for good (413); everything else asks Skyvern
// to deliver again: a read timeout with 408, a broken connection or a spill
// file that cannot be written with 503.
func (rc *receiver) readFailed(rw http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	var spillErr *spillError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		rc.tooLarge(rw, r)
	case errors.As(err, &spillErr):
		dir := rc.cfg.spillDir
		if dir == "" {
			dir = os.TempDir()
		}
		rc.log(r.Context(), slog.LevelError, "skyvern: cannot store webhook body", "error", err, "dir", dir)
		rw.Header().Set("Retry-After", strconv.Itoa(int(busyRetryAfter.Seconds())))
		http.Error(rw, "cannot store request body, retry later", http.StatusServiceUnavailable)
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		rc.log(r.Context(), slog.LevelWarn, "skyvern: webhook body read timed out", "error", err)
		http.Error(rw, "request body read timed out", http.StatusRequestTimeout)
	default:
		rc.log(r.Context(), slog.LevelWarn, "skyvern: cannot read webhook body", "error", err)
		http.Error(rw, "cannot read request body, retry later", http.StatusServiceUnavailable)
	}
}

// errBodyUnavailable is what a reader of a spilled body gets once the
// handler has returned and the spill file is gone.
var errBodyUnavailable = fmt.Errorf("skyvern: spilled webhook body read after the handler returned: %w", os.ErrClosed)
