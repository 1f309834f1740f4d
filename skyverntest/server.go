package skyverntest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// maxRequestBody bounds what the server reads of one request body.
const maxRequestBody = 64 << 20

// Errors returned by the methods that drive runs.
var (
	// ErrRunNotFound means no run has the given id.
	ErrRunNotFound = errors.New("skyverntest: run not found")
	// ErrRunFinished means the run already has a terminal status.
	ErrRunFinished = errors.New("skyverntest: run already finished")
	// ErrInvalidStatus means the status is not one a run can be moved to by
	// the method called.
	ErrInvalidStatus = errors.New("skyverntest: invalid status")
	// ErrServerClosed means Close was called while waiting.
	ErrServerClosed = errors.New("skyverntest: server closed")
	// ErrNoRetryPending means the run has no retry waiting to start.
	ErrNoRetryPending = errors.New("skyverntest: no retry pending")
)

// Server is an in-process fake of the Skyvern API on a loopback httptest
// server. It keeps runs and workflows in memory, answers in Skyvern's wire
// format, moves runs through their statuses under the test's control (or on
// a timer, see WithAutoAdvance), and delivers signed webhooks when runs
// finish. All methods are safe for concurrent use.
type Server struct {
	cfg       config
	ts        *httptest.Server
	routes    []routeDef
	ctx       context.Context // canceled by Close; bounds deliveries and waits
	cancel    context.CancelFunc
	hookHTTP  *http.Client
	ownHookTr *http.Transport

	mu            sync.Mutex
	closed        bool
	wg            sync.WaitGroup
	changed       chan struct{} // closed and replaced on every state change
	ids           *idGen
	rnd           *rand.Rand
	orgID         string
	runs          map[string]*run
	runOrder      []*run
	v2ByWorkflow  map[string]*run // backing wr_ id -> task v2 run
	workflows     map[string]*workflowRecord
	workflowOrder []*workflowRecord
	creating      map[string]bool // idempotent creates in progress
	faults        map[Route][]*queuedFault
	faultPolicy   func(Route) *Fault
	faultPolicyMu sync.Mutex
	requests      []Request
	attempts      []DeliveryAttempt
	webhooks      []WebhookDelivery

	storage *storageHost // the presigned URLs' host; has its own lock
	surface surfaceState // artifacts, uploads, TOTP codes, timelines
}

// call carries what the dispatcher learned about a request.
type call struct {
	route  Route
	params []string
	body   pyjson.Value // nil when the body was empty
	raw    []byte
	apiKey string
}

// NewServer starts a fake Skyvern server on a loopback address. Call Close
// when done.
func NewServer(opts ...Option) *Server {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s := &Server{
		cfg:          cfg,
		routes:       newRouteTable(),
		changed:      make(chan struct{}),
		rnd:          cfg.newRand(),
		runs:         map[string]*run{},
		v2ByWorkflow: map[string]*run{},
		workflows:    map[string]*workflowRecord{},
		creating:     map[string]bool{},
		faults:       map[Route][]*queuedFault{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ids = newIDGen(s.rnd, s.now)
	s.orgID = cfg.orgID
	if s.orgID == "" {
		s.orgID = s.ids.next("o")
	}
	s.hookHTTP, s.ownHookTr = newWebhookClient(cfg.transport)
	s.storage = newStorageHost()
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL returns the base URL of the server (http://127.0.0.1:port), to be
// given to a client as its base URL.
func (s *Server) URL() string { return s.ts.URL }

// APIKey returns the API key the server accepts.
func (s *Server) APIKey() string { return s.cfg.apiKey }

// OrganizationID returns the organization id (o_...) of the server's only
// organization.
func (s *Server) OrganizationID() string { return s.orgID }

// Client returns an HTTP client for the server whose idle connections are
// closed by Close. It does not add the API key.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server: it cancels pending timers and webhook deliveries,
// waits for them and for in-flight requests to finish, and closes idle
// connections. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	s.cancel()
	s.ts.Close()
	s.storage.close()
	s.wg.Wait()
	if s.ownHookTr != nil {
		s.ownHookTr.CloseIdleConnections()
	}
}

// now is the server's clock, truncated to microseconds like Python's
// datetime.
func (s *Server) now() time.Time {
	return s.cfg.clock().UTC().Truncate(time.Microsecond)
}

// goLocked runs fn in a goroutine that Close waits for. It must be called
// with s.mu held; it does nothing once the server is closed.
func (s *Server) goLocked(fn func()) {
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// notifyLocked wakes every waiter. It must be called with s.mu held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) is true, ctx is done or
// the server is closed.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if closed {
			return ErrServerClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// withServerContext returns a context that is also canceled when the
// server closes, so a request blocked on a receiver cannot hold Close up.
func (s *Server) withServerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// sleep waits for d unless ctx or the server is done first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil && s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return // the client went away mid-body
	}
	rd, params, pathExists := matchRoute(s.routes, r.Method, r.URL.Path)
	var route Route
	if rd != nil {
		route = rd.route
	}
	sw := &statusWriter{ResponseWriter: w}
	idx := s.logRequest(r, raw, route)
	defer func() { s.setRequestStatus(idx, sw.status) }()

	switch {
	case rd == nil && pathExists:
		writeDetail(sw, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	case rd == nil:
		writeDetail(sw, http.StatusNotFound, "Not Found")
		return
	case len(raw) > maxRequestBody:
		writeDetail(sw, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	c := &call{route: rd.route, params: params, raw: raw}
	if f := s.takeFault(rd.route); f != nil {
		s.setRequestFault(idx, f)
		s.serveWithFault(sw, r, rd, c, f)
		return
	}
	s.serveRoute(sw, r, rd, c)
}

// serveRoute runs the route's handler after the steps FastAPI takes before
// it: the JSON body is decoded first (so a malformed body is a 422 even
// without credentials), then the API key is checked.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rd *routeDef, c *call) {
	if rd.hasBody && len(bytes.TrimSpace(c.raw)) > 0 {
		v, err := pyjson.Parse(c.raw)
		if err != nil {
			writeJSONDecodeError(w, err)
			return
		}
		c.body = v
	}
	key := r.Header.Get("x-api-key")
	if rd.route == RouteGetVersion {
		rd.handle(s, w, r, c) // the one route without authentication
		return
	}
	if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.apiKey)) != 1 {
		writeDetail(w, http.StatusForbidden, "Invalid credentials")
		return
	}
	c.apiKey = key
	rd.handle(s, w, r, c)
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeJSON writes v as FastAPI would: Pydantic bytes, Skyvern's security
// headers.
func writeJSON(w http.ResponseWriter, status int, v pyjson.Value) {
	writeRaw(w, status, pyjson.Encode(v, pyjson.Response))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeDetail writes {"detail": msg}, the shape of HTTPException and
// SkyvernHTTPException.
func writeDetail(w http.ResponseWriter, status int, msg string) {
	obj := pyjson.NewObject()
	obj.Set("detail", pyjson.String(msg))
	writeJSON(w, status, obj)
}

// writeUnexpected writes the 500 of an unhandled exception, whose key is
// "error", not "detail".
func writeUnexpected(w http.ResponseWriter, exceptionName string) {
	obj := pyjson.NewObject()
	obj.Set("error", pyjson.String("Unexpected error: "+exceptionName))
	writeJSON(w, http.StatusInternalServerError, obj)
}

// httpError is an error answer decided inside request processing.
type httpError struct {
	status int
	detail string
}

func (e *httpError) write(w http.ResponseWriter) { writeDetail(w, e.status, e.detail) }
