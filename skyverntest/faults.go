package skyverntest

import (
	"net/http"
	"net/http/httptest"
	"time"
)

// Fault is a misbehaviour injected into the answer to one request. The
// fields combine: Latency comes first, then the first of Drop, Status and
// DropAfterProcessing that is set; with none of them the request is served
// normally after the latency.
type Fault struct {
	// Status answers with this status code without processing the request
	// (unless StatusAfterProcessing is set). A code outside 100-999 is sent
	// as 500.
	Status int
	// StatusAfterProcessing makes Status answer a request that was
	// processed fully (a run or workflow IS created): a server that failed
	// after doing the work, or a proxy whose 502 or 504 hides the answer.
	// The processed answer is discarded. Without Status it has no effect.
	StatusAfterProcessing bool
	// Body is the body sent with Status. By default a 500 gets Skyvern's
	// unhandled-exception body {"error":"Unexpected error: InjectedFault"}
	// and any other status {"detail":"<status text>"}.
	Body string
	// Header holds extra headers sent with Status (for example a text/html
	// Content-Type to imitate a proxy's error page).
	Header http.Header
	// RetryAfter is sent as the Retry-After header with Status.
	RetryAfter string
	// Latency delays the answer (or the processing) by this much. A client
	// that gives up meanwhile stops the request unless ProcessAfterGiveUp is
	// set.
	Latency time.Duration
	// ProcessAfterGiveUp makes a request whose client gave up during the
	// Latency (a client timeout, a closed connection) still be processed
	// once the latency has passed, as a real server goes on with a request
	// it has started: a run or workflow IS created, and the answer goes
	// nowhere.
	ProcessAfterGiveUp bool
	// Drop closes the connection without an answer; the request is not
	// processed.
	Drop bool
	// DropAfterProcessing processes the request fully (a run or workflow IS
	// created) and then closes the connection without an answer: the
	// outcome is unknown to the client.
	DropAfterProcessing bool
	// Times is how many requests the fault affects: 0 or 1 means the next
	// one, a negative value every request until ClearFaults.
	Times int
}

type queuedFault struct {
	fault Fault
	left  int // < 0: forever
}

// InjectFault queues a fault for the next requests to route. Faults queued
// for the same route apply in order.
func (s *Server) InjectFault(route Route, f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], &queuedFault{fault: f, left: left})
}

// SetFaultPolicy installs a function consulted for every request that no
// queued fault applies to; it returns the fault to apply, or nil. Calls are
// serialized, so the function may use a non-thread-safe random source; it
// must not call SetFaultPolicy or ClearFaults. A nil function removes the
// policy.
func (s *Server) SetFaultPolicy(fn func(Route) *Fault) {
	s.faultPolicyMu.Lock()
	defer s.faultPolicyMu.Unlock()
	s.faultPolicy = fn
}

// ClearFaults removes every queued fault and the fault policy.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = map[Route][]*queuedFault{}
	s.mu.Unlock()
	s.SetFaultPolicy(nil)
}

// takeFault returns the fault to apply to a request on route, if any.
func (s *Server) takeFault(route Route) *Fault {
	s.mu.Lock()
	if q := s.faults[route]; len(q) > 0 {
		f := q[0].fault
		if q[0].left > 0 {
			q[0].left--
			if q[0].left == 0 {
				s.faults[route] = q[1:]
			}
		}
		s.mu.Unlock()
		return &f
	}
	s.mu.Unlock()
	s.faultPolicyMu.Lock()
	defer s.faultPolicyMu.Unlock()
	if s.faultPolicy == nil {
		return nil
	}
	if f := s.faultPolicy(route); f != nil {
		cp := *f
		return &cp
	}
	return nil
}

func (s *Server) serveWithFault(w http.ResponseWriter, r *http.Request, rd *routeDef, c *call, f *Fault) {
	if f.Latency > 0 && f.ProcessAfterGiveUp {
		if !s.sleep(s.ctx, f.Latency) {
			return
		}
		if r.Context().Err() != nil {
			w = httptest.NewRecorder()
		}
	} else if f.Latency > 0 && !s.sleep(r.Context(), f.Latency) {
		return
	}
	switch {
	case f.Drop:
		dropConnection(w)
	case f.Status != 0 && f.StatusAfterProcessing:
		s.serveRoute(httptest.NewRecorder(), r, rd, c)
		writeFault(w, f)
	case f.Status != 0:
		writeFault(w, f)
	case f.DropAfterProcessing:
		s.serveRoute(httptest.NewRecorder(), r, rd, c)
		dropConnection(w)
	default:
		s.serveRoute(w, r, rd, c)
	}
}

func writeFault(w http.ResponseWriter, f *Fault) {
	status := f.Status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body == "" && f.Header.Get("Content-Type") == "" {
		if status == http.StatusInternalServerError {
			writeUnexpected(w, "InjectedFault")
			return
		}
		writeDetail(w, status, http.StatusText(status))
		return
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(f.Body))
}

// dropConnection closes the client's connection without writing anything.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
