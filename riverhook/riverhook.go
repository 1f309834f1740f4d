package riverhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/skyvern-go/skyvern"
)

// EventArgs is the River job of one webhook event: the verified payload,
// keyed for uniqueness by the event's idempotency key.
type EventArgs struct {
	// Key is the payload's IdempotencyKey. It is the only field in the
	// job's uniqueness: every delivery of one event has the same key.
	Key string `json:"key" river:"unique"`
	// RunID and Status repeat the payload's, for reading jobs in SQL or
	// River's UI.
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	// Payload is the webhook body as received. River stores job args as
	// jsonb, so its key order and spacing may come back changed; the
	// signature was verified before the job was inserted.
	Payload json.RawMessage `json:"payload"`
}

// EventKind is the River job kind of EventArgs.
const EventKind = "skyvern_webhook_event"

// Kind implements river.JobArgs.
func (EventArgs) Kind() string { return EventKind }

// InsertOpts implements river.JobArgsWithInsertOpts: jobs are unique by
// Key, in River's default unique states (available, pending, scheduled,
// running, retryable, completed). A delivery of an event whose job exists
// in one of them inserts nothing; one whose job was discarded (dead
// lettered) or cancelled inserts a new job, so a replay retries it.
func (EventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// WebhookPayload decodes the job's payload.
func (a EventArgs) WebhookPayload() (*skyvern.WebhookPayload, error) {
	var p skyvern.WebhookPayload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Inserter inserts a job and returns once it is committed.
// *river.Client[pgx.Tx] is one.
type Inserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Option configures NewHandler.
type Option func(*handlerConfig)

type handlerConfig struct {
	insertOpts  *river.InsertOpts
	handlerOpts []skyvern.HandlerOption
	final       func(*skyvern.WebhookPayload) bool
}

// WithInsertOpts sets the options of every inserted job (queue, priority,
// max attempts, tags); uniqueness stays by event. nil keeps River's
// defaults.
func WithInsertOpts(opts *river.InsertOpts) Option {
	return func(c *handlerConfig) { c.insertOpts = opts }
}

// WithHandlerOptions passes options to the underlying skyvern handler:
// WithHandlerLogger, WithMaxBodyBytes, WithNotify, WithRunHub and so on.
// The handler's idempotency store is River's unique jobs, so an
// IdempotencyStore given here is not used. WithNotify and WithRunHub hooks
// run once an event's job is committed (or found to exist), before a
// worker processes it: a woken WaitForRun learns that the run ended, not
// that your processing did.
func WithHandlerOptions(opts ...skyvern.HandlerOption) Option {
	return func(c *handlerConfig) { c.handlerOpts = append(c.handlerOpts, opts...) }
}

// WithFinal sets which verified deliveries carry an event to process. The
// default, Final, keeps only final outcomes. Interim deliveries (an attempt
// that Skyvern will retry under the same run id) never reach the predicate:
// skyvern's Handler answers them itself, or hands them to a WithInterimHook
// given through WithHandlerOptions.
func WithFinal(final func(*skyvern.WebhookPayload) bool) Option {
	return func(c *handlerConfig) {
		if final != nil {
			c.final = final
		}
	}
}

// Final reports whether a delivery carries the run's final outcome: its
// status is terminal and no retry is pending (see WebhookPayload.IsFinal;
// an interim delivery of an attempt Skyvern will retry is followed by the
// final one). It is the default of WithFinal.
func Final(p *skyvern.WebhookPayload) bool { return p.IsFinal() }

// NewHandler returns an http.Handler that receives Skyvern webhooks,
// verifies them with wh and turns each new final event into a River job
// of kind EventKind, answering 200 as soon as the job is committed. Its
// answers are those of skyvern's Webhook.Handler (405, 413, 401, 400), and:
//
//   - 200 once the job is inserted, or already exists (a duplicate or a
//     replay: River's unique jobs insert nothing);
//   - 200 without a job for an interim delivery (see WithFinal);
//   - 500 when the insert fails, so that Skyvern delivers again;
//   - 500 to every request when an option given through WithHandlerOptions
//     is invalid (see skyvern.HandlerOption; check them at startup with
//     skyvern's Webhook.CheckHandlerOptions).
//
// Register NewWorker with the River client that works the jobs; it runs
// the processing with River's retries, backoff and dead-letter (discarded)
// state.
func NewHandler(wh *skyvern.Webhook, ins Inserter, opts ...Option) http.Handler {
	cfg := handlerConfig{final: Final}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	enqueue := func(ctx context.Context, p *skyvern.WebhookPayload) error {
		if !cfg.final(p) {
			return nil
		}
		args := EventArgs{Key: p.IdempotencyKey(), RunID: p.RunID, Status: string(p.Status), Payload: p.Raw}
		if _, err := ins.Insert(ctx, args, cfg.insertOpts); err != nil {
			return fmt.Errorf("riverhook: insert job for %s: %w", args.Key, err)
		}
		return nil
	}
	hopts := append(append([]skyvern.HandlerOption(nil), cfg.handlerOpts...), skyvern.WithIdempotencyStore(uniqueJobs{}))
	return wh.Handler(enqueue, hopts...)
}

// uniqueJobs is the handler's IdempotencyStore: every delivery may try its
// insert, and River's unique index is what keeps one job per event. A
// second record would only disagree with it (a key marked done whose
// insert was rolled back, or an interim delivery marking its final one
// done).
type uniqueJobs struct{}

func (uniqueJobs) Claim(context.Context, string) (skyvern.Claim, error) {
	return skyvern.Claim{Result: skyvern.ClaimAcquired, Token: "river", Lease: time.Hour}, nil
}
func (uniqueJobs) Renew(context.Context, string, string) error    { return nil }
func (uniqueJobs) Complete(context.Context, string, string) error { return nil }
func (uniqueJobs) Release(context.Context, string, string) error  { return nil }

// Worker is the River worker of EventArgs jobs. It decodes the payload and
// calls the processing function; an error (or a panic, which River
// recovers) fails the attempt, and River retries it with backoff until the
// job's max attempts, then discards it (its dead-letter state).
type Worker struct {
	river.WorkerDefaults[EventArgs]
	process func(context.Context, *skyvern.WebhookPayload) error
}

// NewWorker returns a Worker that runs process for each event. Register it
// with river.AddWorker.
func NewWorker(process func(context.Context, *skyvern.WebhookPayload) error) *Worker {
	return &Worker{process: process}
}

// ErrUndecodablePayload is returned, wrapped and marked for River to
// cancel the job, when a job's payload does not decode: retrying cannot
// help.
var ErrUndecodablePayload = errors.New("riverhook: undecodable payload")

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[EventArgs]) error {
	p, err := job.Args.WebhookPayload()
	if err != nil {
		return river.JobCancel(fmt.Errorf("%w: job %d: %v", ErrUndecodablePayload, job.ID, err))
	}
	return w.process(ctx, p)
}
