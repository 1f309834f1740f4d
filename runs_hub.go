package skyvern

import (
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
// The hub remembers recent terminal events (bounded in number and age), so a
// wait that starts after the webhook arrived still returns immediately.
//
// A hub only hears the webhooks its own process receives. With several
// replicas behind a load balancer, a run's webhook may land on a replica
// other than the one waiting; that wait then ends at its next poll, which
// WaitForRun keeps making on its fallback schedule (see WaitWithHub), so
// the result is never missed, only later (by up to a few minutes). To keep
// the fast path across replicas, give each run a webhook_url that reaches
// the replica that started it, or relay events between replicas: a WithNotify hook forwards
// each payload to something every replica listens to (PostgreSQL
// LISTEN/NOTIFY, a message bus) and each listener calls Publish on its own
// hub. Either way, share one IdempotencyStore between the replicas (see the
// sqlstore package), so that each event is processed once wherever it
// lands.
//
// A RunHub is safe for concurrent use. The zero value is not usable; call
// NewRunHub.
type RunHub struct {
	mu       sync.Mutex
	waiters  map[string]map[chan hubEvent]struct{}
	recent   map[string]*list.Element // of *recentEvent
	order    *list.List               // oldest first
	capacity int
	ttl      time.Duration
	now      func() time.Time
}

type hubEvent struct {
	status RunStatus
	raw    json.RawMessage
}

type recentEvent struct {
	runID string
	event hubEvent
	at    time.Time
}

// HubOption configures a RunHub.
type HubOption func(*RunHub)

// WithHubMemory sets how many recent terminal events the hub remembers
// (default 10,000) and for how long (default 1 hour).
func WithHubMemory(events int, ttl time.Duration) HubOption {
	return func(h *RunHub) {
		if events > 0 {
			h.capacity = events
		}
		if ttl > 0 {
			h.ttl = ttl
		}
	}
}

// NewRunHub returns an empty hub.
func NewRunHub(opts ...HubOption) *RunHub {
	h := &RunHub{
		waiters:  make(map[string]map[chan hubEvent]struct{}),
		recent:   make(map[string]*list.Element),
		order:    list.New(),
		capacity: 10_000,
		ttl:      time.Hour,
		now:      time.Now,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(h)
		}
	}
	return h
}

// Publish records that run runID reached status, with the webhook's raw JSON
// body (a run object), and wakes its waiters. Non-terminal statuses are
// ignored: a waiter only wants the end.
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

// publishPayload publishes a verified delivery under the id of its run
// and, for a task v2 run, under the id of the workflow run behind it as
// well: get_run answers for that wr_ id with the task v2 run, so a wait may
// be on it. Such a waiter reads the run with GetRun when woken (the body's
// run_id is not the id it waits on), and so gets what polling would give.
func (h *RunHub) publishPayload(p *WebhookPayload) {
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
		h.order.Remove(el)
	}
	h.recent[runID] = h.order.PushBack(&recentEvent{runID: runID, event: ev, at: now})
	for h.order.Len() > h.capacity {
		h.evict(h.order.Front())
	}
	for el := h.order.Front(); el != nil && now.Sub(el.Value.(*recentEvent).at) > h.ttl; el = h.order.Front() {
		h.evict(el)
	}
}

func (h *RunHub) evict(el *list.Element) {
	delete(h.recent, el.Value.(*recentEvent).runID)
	h.order.Remove(el)
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
// terminal webhook, including one that arrived before the wait began (then
// without a single poll). Polling goes on meanwhile as the slow fallback for
// a webhook that lands on another replica, arrives late or never comes: one
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
