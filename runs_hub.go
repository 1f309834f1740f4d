package skyvern

import (
	"bytes"
	"container/list"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// RunHub lets WaitForRun return the moment a run's verified webhook arrives,
// instead of at the next poll. The webhook handler publishes to the hub (see
// WithRunHub for the handler side, and WaitWithHub for the waiting side);
// waiters in the same process are woken at once.
//
// The hub remembers recent terminal events (bounded in number, age and
// bytes), so a wait that starts after the webhook arrived still returns
// immediately. What it keeps of an event is what a waiter needs: the run's
// status always, and the body (from which the waiter builds the run) while
// it fits the byte budget of WithHubBytes. A remembered event whose body was
// dropped still ends a late wait at once, with one GetRun instead of the
// whole poll schedule.
//
// A hub only hears the webhooks its own process receives. With several
// replicas behind a load balancer, a run's webhook may land on a replica
// other than the one waiting; that wait then ends at its next poll, which
// WaitForRun keeps making on its fallback schedule (see WaitWithHub), so
// the result is never missed, only later (by up to a few minutes). To keep
// the fast path across replicas, relay events between them: a WithNotify
// hook forwards each payload to something every replica listens to and
// each listener calls PublishPayload on its own hub (the pgnotify package
// does this over the PostgreSQL the replicas share), or give each run a
// webhook_url that reaches the replica that started it. Either way, share
// one IdempotencyStore between the replicas (see the sqlstore package), so
// that each event is processed once wherever it lands.
//
// A RunHub is safe for concurrent use. The zero value is not usable; call
// NewRunHub.
type RunHub struct {
	mu       sync.Mutex
	waiters  map[string]map[chan hubEvent]struct{}
	recent   map[string]*list.Element // of *recentEvent
	order    *list.List               // of *recentEvent, oldest first
	bodies   *list.List               // of *recentEvent that still hold a body, oldest first
	bytes    int64                    // what the remembered events cost, by hubEventCost
	capacity int
	maxBytes int64
	maxBody  int64
	ttl      time.Duration
	now      func() time.Time
}

type hubEvent struct {
	status RunStatus
	raw    json.RawMessage
}

type recentEvent struct {
	runID  string
	event  hubEvent
	at     time.Time
	cost   int64
	bodyEl *list.Element // in RunHub.bodies, nil once the body is dropped
}

// Defaults of NewRunHub's memory.
const (
	// DefaultHubEvents is how many recent terminal events a RunHub
	// remembers.
	DefaultHubEvents = 10_000
	// DefaultHubTTL is how long a RunHub remembers an event.
	DefaultHubTTL = time.Hour
	// DefaultHubBytes is what the remembered events of a RunHub may cost
	// in all, bodies included.
	DefaultHubBytes int64 = 32 << 20
	// DefaultHubBodyBytes is the largest body a RunHub keeps; events with
	// larger bodies are remembered by status only.
	DefaultHubBodyBytes int64 = 1 << 20
)

// hubEntryOverhead approximates what a remembered event costs besides its
// run id and body: the list element, the map entry and the struct. It makes
// the byte budget bound the hub's memory also when bodies are tiny.
const hubEntryOverhead = 192

// HubOption configures [NewRunHub]. The options follow the package's one
// rule (see "Options" in the package documentation): a nil option is
// ignored, a zero value selects the documented default, and a negative
// value makes NewRunHub return an error matching [ErrInvalidOption].
type HubOption func(*hubConfig)

type hubConfig struct {
	capacity int
	maxBytes int64
	maxBody  int64
	ttl      time.Duration
	firstInvalid
}

// WithHubMemory sets how many recent terminal events the hub remembers
// (default DefaultHubEvents) and for how long (default DefaultHubTTL).
// A zero value selects its default; a negative one is invalid.
// WithHubBytes bounds the same memory in bytes; whichever bound is reached
// first applies.
func WithHubMemory(events int, ttl time.Duration) HubOption {
	return func(c *hubConfig) {
		if events < 0 || ttl < 0 {
			c.invalid("WithHubMemory", "must not be negative, got %d and %v", events, ttl)
			return
		}
		if events > 0 {
			c.capacity = events
		}
		if ttl > 0 {
			c.ttl = ttl
		}
	}
}

// WithHubBytes bounds the hub's memory in bytes: total is what all
// remembered events may cost together (default DefaultHubBytes), counting
// each one's body, run id and a fixed overhead; maxBody is the largest body
// kept at all (default DefaultHubBodyBytes, and never more than total).
// When the total is exceeded the oldest bodies are dropped first, keeping
// their events' statuses, and then the oldest events. A zero value selects
// its default; a negative one is invalid.
func WithHubBytes(total, maxBody int64) HubOption {
	return func(c *hubConfig) {
		if total < 0 || maxBody < 0 {
			c.invalid("WithHubBytes", "must not be negative, got %d and %d", total, maxBody)
			return
		}
		if total > 0 {
			c.maxBytes = total
		}
		if maxBody > 0 {
			c.maxBody = maxBody
		}
	}
}

// NewRunHub returns an empty hub, or an error matching [ErrInvalidOption]
// if an option is invalid.
func NewRunHub(opts ...HubOption) (*RunHub, error) {
	cfg := hubConfig{
		capacity: DefaultHubEvents,
		maxBytes: DefaultHubBytes,
		maxBody:  DefaultHubBodyBytes,
		ttl:      DefaultHubTTL,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	return &RunHub{
		waiters:  make(map[string]map[chan hubEvent]struct{}),
		recent:   make(map[string]*list.Element),
		order:    list.New(),
		bodies:   list.New(),
		capacity: cfg.capacity,
		maxBytes: cfg.maxBytes,
		maxBody:  min(cfg.maxBody, cfg.maxBytes),
		ttl:      cfg.ttl,
		now:      time.Now,
	}, nil
}

// Publish records that run runID reached status, with the webhook's raw JSON
// body (a run object), and wakes its waiters. Non-terminal statuses are
// ignored: a waiter only wants the end. raw may be nil when the body is not
// at hand (a relay that did not carry it): waiters then read the run with
// GetRun at once. The hub keeps its own copy of what it remembers, so the
// caller may reuse raw afterwards. Publish only final outcomes
// (WebhookPayload.IsFinal): a relay that forwards what WithNotify hands it
// does so already. Should an interim body (retry_pending true) be published
// anyway, WaitForRun does not take it for the result; it polls instead.
func (h *RunHub) Publish(runID string, status RunStatus, raw json.RawMessage) {
	if runID == "" || !status.IsTerminal() {
		return
	}
	ev := hubEvent{status: status, raw: raw}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remember(runID, ev)
	for ch := range h.waiters[runID] {
		select {
		case ch <- ev:
		default: // the waiter already has an event pending
		}
	}
}

// PublishPayload publishes a verified delivery under the id of its run
// and, for a task v2 run, under the id of the workflow run behind it as
// well: get_run answers for that wr_ id with the task v2 run, so a wait may
// be on it. Such a waiter reads the run with GetRun when woken (the body's
// run_id is not the id it waits on), and so gets what polling would give.
// WithRunHub calls it for every processed delivery; a relay between
// replicas calls it with the payloads it receives.
//
// An interim delivery of a retried workflow (retry pending) is not
// published: its terminal status is not the run's end.
func (h *RunHub) PublishPayload(p *WebhookPayload) {
	if !p.IsFinal() {
		return
	}
	id := p.runID()
	h.Publish(id, p.Status, p.Raw)
	if wr := p.WorkflowRunID; wr != "" && wr != id && isTaskV2(p.RunType, id) {
		h.Publish(wr, p.Status, p.Raw)
	}
}

// isTaskV2 tells task v2 runs by their run_type or, in payloads of servers
// that did not send one, by the prefix of their id.
func isTaskV2(t RunType, id string) bool {
	return t == RunTypeTaskV2 || strings.HasPrefix(id, "tsk_v2_")
}

func (h *RunHub) remember(runID string, ev hubEvent) {
	now := h.now()
	if el, ok := h.recent[runID]; ok {
		h.evict(el)
	}
	rec := &recentEvent{runID: runID, event: hubEvent{status: ev.status}, at: now}
	if len(ev.raw) > 0 && int64(len(ev.raw)) <= h.maxBody {
		// A copy of exactly its length: raw may be a window on a larger
		// buffer (the request body) that must not stay alive with it.
		rec.event.raw = bytes.Clone(ev.raw)
		rec.bodyEl = h.bodies.PushBack(rec)
	}
	rec.cost = hubEntryOverhead + int64(len(runID)) + int64(len(rec.event.raw))
	h.recent[runID] = h.order.PushBack(rec)
	h.bytes += rec.cost
	for h.order.Len() > h.capacity {
		h.evict(h.order.Front())
	}
	for el := h.order.Front(); el != nil && now.Sub(el.Value.(*recentEvent).at) > h.ttl; el = h.order.Front() {
		h.evict(el)
	}
	for h.bytes > h.maxBytes && h.order.Len() > 0 {
		if front := h.bodies.Front(); front != nil {
			h.dropBody(front.Value.(*recentEvent))
			continue
		}
		h.evict(h.order.Front())
	}
}

// dropBody forgets an event's body but keeps its status, which is enough to
// end a late wait with a single GetRun.
func (h *RunHub) dropBody(rec *recentEvent) {
	if rec.bodyEl == nil {
		return
	}
	h.bodies.Remove(rec.bodyEl)
	rec.bodyEl = nil
	n := int64(len(rec.event.raw))
	rec.event.raw = nil
	rec.cost -= n
	h.bytes -= n
}

func (h *RunHub) evict(el *list.Element) {
	rec := el.Value.(*recentEvent)
	h.dropBody(rec)
	h.bytes -= rec.cost
	delete(h.recent, rec.runID)
	h.order.Remove(el)
}

// MemoryBytes returns what the hub's remembered events cost by the measure
// WithHubBytes bounds, for metrics and tests.
func (h *RunHub) MemoryBytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes
}

// subscribe registers a waiter for runID. The channel receives the run's
// terminal event, at once if the hub already knows it. The returned function
// unregisters the waiter.
func (h *RunHub) subscribe(runID string) (<-chan hubEvent, func()) {
	ch := make(chan hubEvent, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if el, ok := h.recent[runID]; ok {
		rec := el.Value.(*recentEvent)
		if h.now().Sub(rec.at) <= h.ttl {
			ch <- rec.event
		}
	}
	set := h.waiters[runID]
	if set == nil {
		set = make(map[chan hubEvent]struct{})
		h.waiters[runID] = set
	}
	set[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if cur := h.waiters[runID]; cur != nil {
			delete(cur, ch)
			if len(cur) == 0 {
				delete(h.waiters, runID)
			}
		}
	}
}

// Waiters returns how many waits are registered, for metrics and tests.
func (h *RunHub) Waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.waiters {
		n += len(set)
	}
	return n
}

// WaitWithHub makes WaitForRun return as soon as hub receives the run's
// final webhook (an interim delivery of a retried workflow does not end the
// wait), including one that arrived before the wait began (then without a
// single poll). Polling goes on meanwhile as the slow fallback for a
// webhook that lands on another replica, arrives late or never comes: one
// poll at once, then pauses from [DefaultHubPollInterval] doubling to
// [DefaultMaxHubPollInterval] (unless WithPollInterval sets the schedule);
// whichever sees the run finished first ends the wait. The
// run is built from the verified webhook body; if that body is not a run
// object for the id waited on (a legacy payload, or a wait on the workflow
// run behind a task v2 run), WaitForRun fetches the run with GetRun at
// once instead.
func WaitWithHub(hub *RunHub) WaitOption {
	return func(w *waitConfig) { w.hub = hub }
}
