package sqlstore

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/skyvern-go/skyvern"
)

// DefaultTable is the table a Store uses unless WithTable names another.
const DefaultTable = "skyvern_webhook_events"

// DefaultLease is how long a claim holds a key without a renewal unless
// WithLease sets another duration: [skyvern.DefaultStoreLease], whose
// documentation sizes it against Skyvern's delivery retries. The webhook
// handler renews its claims every third of the lease while its function
// runs, so the lease bounds how long the event of a replica that died
// mid-processing stays blocked, not how long processing may take.
const DefaultLease = skyvern.DefaultStoreLease

// ErrInvalidOption is returned, wrapped, by New for an option value it
// cannot use (a nil database, a negative lease or one shorter than a
// millisecond, an unknown placeholder style), and by Cleanup for a
// retention that is not positive.
var ErrInvalidOption = errors.New("sqlstore: invalid option")

// ErrInvalidTable is returned, wrapped, by New and SchemaSQL for a table name
// that is not a plain identifier. Table names are interpolated into SQL
// text, so anything else (quotes, spaces, semicolons) is refused outright
// rather than escaped.
var ErrInvalidTable = errors.New("sqlstore: invalid table name")

// Placeholder is the bind-parameter syntax of the database driver.
type Placeholder int

const (
	// PlaceholderDollar writes parameters as $1, $2, ... (PostgreSQL and
	// its wire-compatible databases; SQLite accepts it too).
	PlaceholderDollar Placeholder = iota + 1
	// PlaceholderQuestion writes parameters as ? (SQLite drivers and other
	// databases that speak INSERT ... ON CONFLICT with ? parameters).
	PlaceholderQuestion
)

// Option configures a Store. The options follow the rule of the skyvern
// package: a nil option is ignored, a zero value ("", 0, nil) selects the
// documented default, and an invalid value (negative, among others) makes
// New return an error.
type Option func(*config) error

type config struct {
	table       string
	lease       time.Duration
	placeholder Placeholder
	now         func() time.Time
}

func defaultConfig() config {
	return config{
		table:       DefaultTable,
		lease:       DefaultLease,
		placeholder: PlaceholderDollar,
		now:         time.Now,
	}
}

// WithTable sets the table name: a letter or underscore followed by up to 47
// letters, digits or underscores, optionally qualified by a schema name of
// the same form ("webhooks.skyvern_events"). The limit of 48 leaves room for
// the derived index name within PostgreSQL's 63-byte identifiers. The name
// is quoted in SQL, so it is case-sensitive. "" selects DefaultTable.
func WithTable(name string) Option {
	return func(c *config) error {
		name = tableOrDefault(name)
		if err := validateTable(name); err != nil {
			return err
		}
		c.table = name
		return nil
	}
}

// WithLease sets how long a claim holds a key without a renewal before
// another worker may take it over (default DefaultLease). Shorter leases
// hand a dead replica's events on sooner; longer ones survive longer stalls
// of a live replica (a paused VM, a database unreachable for two thirds of
// the lease), which otherwise lose their event to a redelivery. Beyond
// about 15 s, a replica that dies while processing a task's webhook leaves
// the event to a later RetryRunWebhook, because Skyvern's three attempts
// are over before the lease lapses. 0 selects DefaultLease; any other
// value must be at least a millisecond, the resolution of the stored times.
func WithLease(d time.Duration) Option {
	return func(c *config) error {
		if d == 0 {
			d = DefaultLease
		}
		if d < time.Millisecond {
			return fmt.Errorf("%w: lease %v is shorter than 1ms", ErrInvalidOption, d)
		}
		c.lease = d
		return nil
	}
}

// WithPlaceholder sets the bind-parameter syntax (default
// PlaceholderDollar, which the zero Placeholder selects).
func WithPlaceholder(p Placeholder) Option {
	return func(c *config) error {
		if p == 0 {
			p = PlaceholderDollar
		}
		if p != PlaceholderDollar && p != PlaceholderQuestion {
			return fmt.Errorf("%w: unknown placeholder style %d", ErrInvalidOption, int(p))
		}
		c.placeholder = p
		return nil
	}
}

// WithClock replaces time.Now as the source of lease and completion times,
// for tests that move time forward instead of sleeping. Every Store that
// shares a table must read comparable clocks: leases written by one replica
// are judged by the clock of another. nil selects time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			now = time.Now
		}
		c.now = now
		return nil
	}
}

func tableOrDefault(name string) string {
	if name == "" {
		return DefaultTable
	}
	return name
}

var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

func validateTable(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("%w: %q has more than one dot", ErrInvalidTable, name)
	}
	for _, p := range parts {
		if !identifierPattern.MatchString(p) {
			return fmt.Errorf("%w: %q (want a letter or underscore, then up to 47 letters, digits or underscores, optionally schema-qualified)", ErrInvalidTable, name)
		}
	}
	return nil
}

// quoteTable double-quotes each part of a validated name, so reserved words
// such as "order" work as table names.
func quoteTable(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, ".")
}

// indexName is the unqualified name of the index Cleanup relies on;
// PostgreSQL places an index in its table's schema.
func indexName(table string) string {
	parts := strings.Split(table, ".")
	return `"` + parts[len(parts)-1] + `_updated_idx"`
}
