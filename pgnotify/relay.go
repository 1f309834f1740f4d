package pgnotify

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/skyvern-go/skyvern"
)

// Publisher receives the events other replicas processed. *skyvern.RunHub
// is one.
type Publisher interface {
	PublishPayload(p *skyvern.WebhookPayload)
}

// Relay carries processed webhook events between the replicas of a
// receiver over PostgreSQL: Notify writes each event to the events table
// and notifies the channel, and every replica's relay, listening there,
// reads the new rows and publishes them to its own Publisher (its RunHub).
// See the package documentation.
type Relay struct {
	db     *sql.DB
	dsn    string
	pub    Publisher
	cfg    config
	origin string // tells this relay's own rows from the others'

	queue chan outgoing
	kick  chan struct{} // a scan is wanted

	startOnce sync.Once
	closeOnce sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
	listener  *pq.Listener

	mu  sync.Mutex // guards cur
	cur *cursor

	sent, dropped, received, reconnects, scanErrors atomic.Int64
	connected                                       atomic.Bool
}

// outgoing is one event on its way to the table.
type outgoing struct {
	runID, status, runType, workflowRunID string
	body                                  []byte
}

// Stats counts what a Relay did, for metrics and tests.
type Stats struct {
	// Sent counts events written to the table.
	Sent int64
	// Dropped counts events not written: the queue was full, the relay
	// was closed, or the database refused them.
	Dropped int64
	// Received counts other replicas' events published to this one.
	Received int64
	// Reconnects counts re-established listening connections.
	Reconnects int64
	// ScanErrors counts failed reads of the table.
	ScanErrors int64
	// Listening reports whether the listening connection is up.
	Listening bool
}

// New returns a relay that writes through db and listens on a connection
// of its own opened with dsn (a lib/pq connection string or URL for the
// same database). Each replica makes its own relay, with its own pub; all
// of them use the same table. Call CreateSchema once (or run its SQL in a
// migration), then Start.
func New(db *sql.DB, dsn string, pub Publisher, opts ...Option) (*Relay, error) {
	if db == nil || dsn == "" || pub == nil {
		return nil, fmt.Errorf("%w: New needs a database, a connection string and a publisher", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("pgnotify: %w", err)
	}
	return &Relay{
		db:     db,
		dsn:    dsn,
		pub:    pub,
		cfg:    cfg,
		origin: hex.EncodeToString(id[:]),
		queue:  make(chan outgoing, cfg.queue),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}, nil
}

// quoted is the table's name as SQL.
func (r *Relay) quoted() string { return `"` + r.cfg.table + `"` }

// SchemaSQL returns the statements CreateSchema runs, for migrations.
func (r *Relay) SchemaSQL() []string {
	t := r.quoted()
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
    id              BIGSERIAL PRIMARY KEY,
    run_id          TEXT NOT NULL,
    status          TEXT NOT NULL,
    run_type        TEXT NOT NULL DEFAULT '',
    workflow_run_id TEXT NOT NULL DEFAULT '',
    body            BYTEA NOT NULL DEFAULT '',
    origin          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
)`,
		`CREATE INDEX IF NOT EXISTS "` + r.cfg.table + `_created_idx" ON ` + t + ` (created_at)`,
	}
}

// CreateSchema creates the events table and its index if they do not exist.
func (r *Relay) CreateSchema(ctx context.Context) error {
	for _, stmt := range r.SchemaSQL() {
		if _, err := r.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("pgnotify: create schema: %w", err)
		}
	}
	return nil
}

// Start opens the listening connection, waits (within ctx) until it
// listens, and starts the relay's goroutines, which run until Close. Events
// written from then on reach this relay's publisher, including those
// written while its connection was down: it reads them when it reconnects.
// Events of the last scan interval before Start are read too, so a replica
// that restarts quickly misses nothing its waiters could still want.
func (r *Relay) Start(ctx context.Context) error {
	err := errors.New("pgnotify: relay already started")
	r.startOnce.Do(func() { err = r.start(ctx) })
	return err
}

func (r *Relay) start(ctx context.Context) error {
	var low int64
	err := r.db.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(id), 0) FROM `+r.quoted()+` WHERE created_at < now() - make_interval(secs => $1)`,
		r.cfg.scanInterval.Seconds()).Scan(&low)
	if err != nil {
		return fmt.Errorf("pgnotify: read the events table: %w", err)
	}
	r.cur = newCursor(low)

	r.listener = pq.NewListener(r.dsn, r.cfg.minReconnect, r.cfg.maxReconnect, r.onListenerEvent)
	listened := make(chan error, 1)
	go func() { listened <- r.listener.Listen(r.cfg.table) }()
	select {
	case err = <-listened:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = r.listener.Close()
		return fmt.Errorf("pgnotify: listen on %s: %w", r.cfg.table, err)
	}
	r.connected.Store(true)

	r.wg.Add(3)
	go r.writeLoop()
	go r.listenLoop()
	go r.scanLoop()
	r.wantScan()
	return nil
}

// Close stops the relay: events already queued are written (for at most a
// few seconds), then the listening connection is closed. It does not close
// the database.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		r.wg.Wait()
		if r.listener != nil {
			_ = r.listener.Close()
			// lib/pq's listener forwards what its connection had
			// buffered before it notices the close, and would block on
			// a full channel forever: take it until the listener closes
			// the channel (or goes quiet).
			for open := true; open; {
				select {
				case _, open = <-r.listener.NotificationChannel():
				case <-time.After(100 * time.Millisecond):
					open = false
				}
			}
		}
	})
	return nil
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	return Stats{
		Sent:       r.sent.Load(),
		Dropped:    r.dropped.Load(),
		Received:   r.received.Load(),
		Reconnects: r.reconnects.Load(),
		ScanErrors: r.scanErrors.Load(),
		Listening:  r.connected.Load(),
	}
}

// Notify publishes a processed delivery to this replica's publisher and
// queues it for the others. It is the hook for skyvern.WithNotify (which
// makes skyvern.WithRunHub unnecessary for the same hub), and it never
// blocks: the write happens on the relay's own goroutine, and when its
// queue is full the event is dropped for the other replicas (counted in
// Stats.Dropped), whose waiters then end at their next poll.
//
// Only terminal statuses are relayed; a waiter only wants the end.
func (r *Relay) Notify(p *skyvern.WebhookPayload) {
	if p == nil || !p.Status.IsTerminal() {
		return
	}
	r.pub.PublishPayload(p)
	ev := outgoing{
		runID:         runID(p),
		status:        string(p.Status),
		runType:       string(p.RunType),
		workflowRunID: p.WorkflowRunID,
	}
	if len(p.Raw) <= r.cfg.maxBody {
		ev.body = p.Raw
	}
	select {
	case <-r.stop: // closed: nothing would write it
		r.dropped.Add(1)
		return
	default:
	}
	select {
	case r.queue <- ev:
	default:
		r.dropped.Add(1)
		r.log(slog.LevelWarn, "pgnotify: queue full, event not relayed", "run_id", ev.runID)
	}
}

// runID is the id a payload's run goes by, as the SDK reads it: run_id,
// else task_id, else workflow_run_id.
func runID(p *skyvern.WebhookPayload) string {
	switch {
	case p.RunID != "":
		return p.RunID
	case p.TaskID != "":
		return p.TaskID
	}
	return p.WorkflowRunID
}

// writeLoop writes queued events in batches, each batch in one statement
// that also notifies the channel with the batch's highest id.
func (r *Relay) writeLoop() {
	defer r.wg.Done()
	batch := make([]outgoing, 0, r.cfg.notifyMaxBatch)
	for {
		select {
		case <-r.stop:
			r.flush(batch[:0])
			return
		case ev := <-r.queue:
			batch = append(batch[:0], ev)
		}
	fill:
		for len(batch) < r.cfg.notifyMaxBatch {
			select {
			case ev := <-r.queue:
				batch = append(batch, ev)
			default:
				break fill
			}
		}
		r.write(context.Background(), batch)
	}
}

// flush writes what is still queued when the relay closes.
func (r *Relay) flush(batch []outgoing) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case ev := <-r.queue:
			batch = append(batch, ev)
			if len(batch) < r.cfg.notifyMaxBatch {
				continue
			}
		default:
		}
		if len(batch) == 0 {
			return
		}
		r.write(ctx, batch)
		batch = batch[:0]
	}
}

// writeTimeout bounds one attempt to write a batch, so that a database that
// stopped answering cannot hold the writer (and Close) forever.
const writeTimeout = 5 * time.Second

// write inserts a batch, trying a few times over a short while: a failed
// attempt is usually a connection the server just dropped.
func (r *Relay) write(ctx context.Context, batch []outgoing) {
	var q strings.Builder
	q.WriteString(`WITH ins AS (INSERT INTO ` + r.quoted() + ` (run_id, status, run_type, workflow_run_id, body, origin) VALUES `)
	args := make([]any, 0, 6*len(batch)+2)
	args = append(args, r.cfg.table, r.origin)
	for i, ev := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
		body := ev.body
		if body == nil || !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 {
			// Not text PostgreSQL can hold (convert_from refuses it):
			// relayed by id and status only.
			body = []byte{}
		}
		args = append(args, ev.runID, ev.status, ev.runType, ev.workflowRunID, body, r.origin)
	}
	// One notification per row. A notification's payload must stay under
	// 8000 bytes: a small body rides along ("id origin body"), which
	// spares the listeners a read of the table; any other row is notified
	// by id alone and read from the table. inlineMax leaves room for the
	// id and the origin.
	q.WriteString(` RETURNING id, body) SELECT pg_notify($1, CASE WHEN octet_length(body) BETWEEN 1 AND ` +
		strconv.Itoa(inlineMax) + ` THEN id::text || ' ' || $2 || ' ' || convert_from(body, 'UTF8') ELSE id::text END) FROM ins`)
	var err error
	for attempt, pause := 0, 20*time.Millisecond; attempt < 3; attempt, pause = attempt+1, pause*4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
		actx, cancel := context.WithTimeout(ctx, writeTimeout)
		_, err = r.db.ExecContext(actx, q.String(), args...)
		cancel()
		if err == nil {
			r.sent.Add(int64(len(batch)))
			return
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.dropped.Add(int64(len(batch)))
	r.log(slog.LevelError, "pgnotify: events not relayed", "events", len(batch), "error", err)
}

// onListenerEvent runs on the listener's goroutine; it must be quick.
func (r *Relay) onListenerEvent(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventDisconnected:
		r.connected.Store(false)
		r.log(slog.LevelWarn, "pgnotify: listening connection lost; reading the table every scan interval until it is back", "error", err)
	case pq.ListenerEventReconnected:
		r.connected.Store(true)
		r.reconnects.Add(1)
	case pq.ListenerEventConnectionAttemptFailed:
		r.log(slog.LevelWarn, "pgnotify: reconnect failed", "error", err)
	}
}

// listenLoop turns notifications into scans. A nil notification follows a
// reconnect, after which anything may have been missed.
func (r *Relay) listenLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.stop:
			return
		case n, ok := <-r.listener.NotificationChannel():
			if !ok {
				return // the listener was closed
			}
			if n != nil && r.fromNotification(n.Extra) {
				continue
			}
			r.wantScan() // after a reconnect (n == nil) anything may have been missed
		}
	}
}

// inlineMax is the largest body a notification carries.
const inlineMax = 7900

// fromNotification handles a notification's payload: "id" for a row to
// read from the table, or "id origin body" for one that came whole. It
// reports whether the event is handled, so that no read is needed.
func (r *Relay) fromNotification(extra string) bool {
	idText, rest, inline := strings.Cut(extra, " ")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return false
	}
	if !inline {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.cur.covers(id) // our own write, or read already
	}
	origin, body, ok := strings.Cut(rest, " ")
	if !ok {
		return false
	}
	r.mu.Lock()
	fresh := r.cur.observe(id)
	r.cur.advance(r.cfg.now(), r.cfg.gapTimeout)
	r.mu.Unlock()
	if !fresh || origin == r.origin {
		return true
	}
	var p skyvern.WebhookPayload
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return false // read the row instead
	}
	r.received.Add(1)
	r.pub.PublishPayload(&p)
	return true
}

func (r *Relay) wantScan() {
	select {
	case r.kick <- struct{}{}:
	default: // one is pending; it will read this event too
	}
}

// scanLoop reads new events when asked, every scan interval, and soon again
// while a gap is open or a read failed; and it deletes old events.
func (r *Relay) scanLoop() {
	defer r.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-r.stop
		cancel()
	}()
	tick := time.NewTicker(r.cfg.scanInterval)
	defer tick.Stop()
	cleanupEvery := min(r.cfg.retention/4, time.Minute)
	nextCleanup := time.Now().Add(cleanupEvery)
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-tick.C:
		case <-retry.C:
		}
		again, err := r.scan(ctx)
		if err != nil && ctx.Err() == nil {
			r.scanErrors.Add(1)
			r.log(slog.LevelWarn, "pgnotify: reading events failed", "error", err)
			again = true
		}
		if again {
			retry.Reset(50 * time.Millisecond)
		}
		if now := time.Now(); now.After(nextCleanup) {
			nextCleanup = now.Add(cleanupEvery)
			if _, err := r.db.ExecContext(ctx, `DELETE FROM `+r.quoted()+` WHERE created_at < now() - make_interval(secs => $1)`,
				r.cfg.retention.Seconds()); err != nil && ctx.Err() == nil {
				r.log(slog.LevelWarn, "pgnotify: deleting old events failed", "error", err)
			}
		}
	}
}

const scanLimit = 500

// scan publishes the events after the cursor and advances it. It reports
// whether another scan is due soon: a gap is open (a row may still commit).
func (r *Relay) scan(ctx context.Context) (again bool, err error) {
	for {
		r.mu.Lock()
		low := r.cur.low
		r.mu.Unlock()
		rows, err := r.db.QueryContext(ctx, `SELECT id, run_id, status, run_type, workflow_run_id, body, origin FROM `+
			r.quoted()+` WHERE id > $1 ORDER BY id LIMIT `+strconv.Itoa(scanLimit), low)
		if err != nil {
			return false, err
		}
		n, err := r.publishRows(rows)
		if err != nil {
			return false, err
		}
		r.mu.Lock()
		r.cur.advance(r.cfg.now(), r.cfg.gapTimeout)
		gap := r.cur.gapAt != 0
		moved := r.cur.low > low
		r.mu.Unlock()
		if n < scanLimit || !moved {
			return gap, nil
		}
	}
}

func (r *Relay) publishRows(rows *sql.Rows) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var (
			id     int64
			p      skyvern.WebhookPayload
			origin string
			body   []byte
		)
		var status, runType string
		if err := rows.Scan(&id, &p.RunID, &status, &runType, &p.WorkflowRunID, &body, &origin); err != nil {
			return n, err
		}
		r.mu.Lock()
		fresh := r.cur.observe(id)
		r.mu.Unlock()
		if !fresh || origin == r.origin {
			continue
		}
		p.Status, p.RunType = skyvern.RunStatus(status), skyvern.RunType(runType)
		if len(body) > 0 {
			// Written by a replica after its handler verified it.
			var full skyvern.WebhookPayload
			if err := json.Unmarshal(body, &full); err == nil {
				p = full
			}
		}
		r.received.Add(1)
		r.pub.PublishPayload(&p)
	}
	return n, rows.Err()
}

func (r *Relay) log(level slog.Level, msg string, args ...any) {
	if r.cfg.logger != nil {
		r.cfg.logger.Log(context.Background(), level, msg, args...)
	}
}
