package pgnotify

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Defaults of New.
const (
	// DefaultTable is the events table, and the notification channel,
	// unless WithTable names another.
	DefaultTable = "skyvern_run_events"
	// DefaultMaxBody is the largest webhook body relayed with its event.
	// A larger one is relayed by run id and status only; waiters on other
	// replicas then read the run with one GetRun.
	DefaultMaxBody = 1 << 20
	// DefaultScanInterval is how often a relay reads new events even
	// without a notification: the fallback while its listening connection
	// is down, and the net under a notification that went missing.
	DefaultScanInterval = 2 * time.Second
	// DefaultRetention is how long events stay in the table. A replica
	// that is disconnected for longer misses the older ones (its waiters
	// then end at their next poll).
	DefaultRetention = time.Hour
	// DefaultQueue is how many outgoing events may wait to be written.
	DefaultQueue = 4096
)

// The reconnection waits of a relay unless WithReconnect sets others.
const (
	defaultMinReconnect = 50 * time.Millisecond
	defaultMaxReconnect = 5 * time.Second
)

// ErrInvalidOption is returned, wrapped, by New for an argument or option
// it cannot use.
var ErrInvalidOption = errors.New("pgnotify: invalid option")

// Option configures a Relay. The options follow the rule of the skyvern
// package: a nil option is ignored, a zero value ("", 0) selects the
// documented default (or turns a feature off where the option says so),
// and an invalid value (negative, among others) makes New return an error.
type Option func(*config) error

type config struct {
	table          string
	maxBody        int
	scanInterval   time.Duration
	retention      time.Duration
	queue          int
	minReconnect   time.Duration
	maxReconnect   time.Duration
	gapTimeout     time.Duration
	logger         *slog.Logger
	now            func() time.Time
	notifyMaxBatch int
}

func defaultConfig() config {
	return config{
		table:          DefaultTable,
		maxBody:        DefaultMaxBody,
		scanInterval:   DefaultScanInterval,
		retention:      DefaultRetention,
		queue:          DefaultQueue,
		minReconnect:   defaultMinReconnect,
		maxReconnect:   defaultMaxReconnect,
		gapTimeout:     10 * time.Second,
		now:            time.Now,
		notifyMaxBatch: 64,
	}
}

var namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// WithTable sets the events table, which is also the name of the
// notification channel: a lower-case letter or underscore, then up to 47
// lower-case letters, digits or underscores. Replicas that relay to each
// other use the same name. "" selects DefaultTable.
func WithTable(name string) Option {
	return func(c *config) error {
		if name == "" {
			name = DefaultTable
		}
		if !namePattern.MatchString(name) {
			return fmt.Errorf("%w: table %q (want [a-z_][a-z0-9_]{0,47})", ErrInvalidOption, name)
		}
		c.table = name
		return nil
	}
}

// WithMaxBody sets the largest webhook body relayed with its event (default
// DefaultMaxBody); larger ones are relayed by run id and status only.
// n = 0 relays no bodies at all; a negative n is invalid.
func WithMaxBody(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max body %d", ErrInvalidOption, n)
		}
		c.maxBody = n
		return nil
	}
}

// WithScanInterval sets how often the relay reads new events without being
// notified (default DefaultScanInterval, which 0 selects). A negative d is
// invalid.
func WithScanInterval(d time.Duration) Option {
	return func(c *config) error {
		if d == 0 {
			d = DefaultScanInterval
		}
		if d < 0 {
			return fmt.Errorf("%w: scan interval %v", ErrInvalidOption, d)
		}
		c.scanInterval = d
		return nil
	}
}

// WithRetention sets how long events stay in the table (default
// DefaultRetention, which 0 selects). Every relay deletes older events now
// and then. Any other value under a second, negative ones included, is
// invalid.
func WithRetention(d time.Duration) Option {
	return func(c *config) error {
		if d == 0 {
			d = DefaultRetention
		}
		if d < time.Second {
			return fmt.Errorf("%w: retention %v is under a second", ErrInvalidOption, d)
		}
		c.retention = d
		return nil
	}
}

// WithQueue sets how many outgoing events may wait to be written (default
// DefaultQueue, which 0 selects; a negative n is invalid). When the queue
// is full, Notify drops the event: other replicas' waiters then end at
// their next poll.
func WithQueue(n int) Option {
	return func(c *config) error {
		if n == 0 {
			n = DefaultQueue
		}
		if n < 1 {
			return fmt.Errorf("%w: queue %d", ErrInvalidOption, n)
		}
		c.queue = n
		return nil
	}
}

// WithReconnect sets the first wait before the listening connection is
// re-established after a loss (default 50 ms) and the cap it doubles up to
// while attempts fail (default 5 s). 0 selects the default of either
// bound; negative bounds, or a cap below the first wait, are invalid.
func WithReconnect(minWait, maxWait time.Duration) Option {
	return func(c *config) error {
		if minWait == 0 {
			minWait = defaultMinReconnect
		}
		if maxWait == 0 {
			maxWait = max(defaultMaxReconnect, minWait)
		}
		if minWait < 0 || maxWait < minWait {
			return fmt.Errorf("%w: reconnect waits %v, %v", ErrInvalidOption, minWait, maxWait)
		}
		c.minReconnect, c.maxReconnect = minWait, maxWait
		return nil
	}
}

// WithLogger makes the relay log lost connections, failed writes and
// dropped events to l. A relay is silent by default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}
