package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skyvern-go/skyvern"
)

// MaxKeyLen is the longest key, in bytes, that a Store accepts. Webhook keys
// are a run id and a status, far shorter; the bound keeps every key within
// the size a database index entry can hold.
const MaxKeyLen = 1024

// ErrInvalidKey is returned, wrapped, for a key that is empty, longer than
// MaxKeyLen, not valid UTF-8 or contains a NUL byte (which PostgreSQL text
// cannot store).
var ErrInvalidKey = errors.New("sqlstore: invalid key")

// ErrNotClaimed is returned by Complete and Release when this Store holds no
// claim on the key: it was never claimed through this Store, or it was
// already completed or released. Claims are remembered by the Store value
// that made them, so the replica that claims must be the one that completes.
var ErrNotClaimed = errors.New("sqlstore: key not claimed by this store")

// ErrLeaseLost is returned by Complete and Release when the claim's lease
// expired and another worker took the key over (and may have completed it).
// The event has then been processed, or is being processed, a second time:
// the caller's work is not recorded, and the other worker's claim is left
// alone.
var ErrLeaseLost = errors.New("sqlstore: lease lost to another worker")

// Store is a skyvern.IdempotencyStore kept in a database table, so that
// several receiver replicas behind a load balancer process each webhook
// event once. It is safe for concurrent use. Create it with New.
type Store struct {
	db      *sql.DB
	lease   time.Duration
	now     func() time.Time
	queries queries

	claims *localClaims // the claims this Store acquired and has not completed or released
}

var _ skyvern.IdempotencyStore = (*Store)(nil)

type queries struct {
	claim, state, complete, completeAbsent, release, cleanup string
	schema                                                   []string
}

// New returns a Store that keeps its keys in db, a pool the caller opened
// with a driver of its choice and still owns (New neither pings nor closes
// it). The table must exist: create it with CreateSchema, or with the SQL
// from SchemaSQL in a migration.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil *sql.DB", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	return &Store{
		db:      db,
		lease:   cfg.lease,
		now:     cfg.now,
		queries: buildQueries(cfg.table, cfg.placeholder),
		claims:  newLocalClaims(),
	}, nil
}

func buildQueries(table string, p Placeholder) queries {
	t := quoteTable(table)
	bind := func(q string) string { return rebind(q, p) }
	return queries{
		// One statement decides the claim: a new key is inserted, an
		// existing one is taken over only when it is not done and its
		// lease has run out. RETURNING yields a row only when this
		// statement wrote it.
		claim: bind(`INSERT INTO ` + t + ` AS t (idempotency_key, claim_token, lease_until_ms, done_at_ms, updated_at_ms)
VALUES (?, ?, ?, NULL, ?)
ON CONFLICT (idempotency_key) DO UPDATE
SET claim_token = excluded.claim_token, lease_until_ms = excluded.lease_until_ms, updated_at_ms = excluded.updated_at_ms
WHERE t.done_at_ms IS NULL AND t.lease_until_ms <= excluded.updated_at_ms
RETURNING claim_token`),
		state: bind(`SELECT done_at_ms FROM ` + t + ` WHERE idempotency_key = ?`),
		// The token condition is what keeps a worker whose lease was taken
		// over from touching the new owner's row. done_at_ms is kept when
		// already set so that repeating a Complete whose answer was lost
		// changes nothing.
		complete: bind(`UPDATE ` + t + ` SET done_at_ms = COALESCE(done_at_ms, ?), updated_at_ms = ?
WHERE idempotency_key = ? AND claim_token = ?`),
		completeAbsent: bind(`INSERT INTO ` + t + ` (idempotency_key, claim_token, lease_until_ms, done_at_ms, updated_at_ms)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING`),
		release: bind(`DELETE FROM ` + t + ` WHERE idempotency_key = ? AND claim_token = ? AND done_at_ms IS NULL`),
		cleanup: bind(`DELETE FROM ` + t + ` WHERE updated_at_ms < ? AND (done_at_ms IS NOT NULL OR lease_until_ms <= ?)`),
		schema:  schemaStatements(table),
	}
}

// rebind turns the ? parameters of q into $1, $2, ... when the driver wants
// them. Table names are validated identifiers, so a ? is always a parameter.
func rebind(q string, p Placeholder) string {
	if p != PlaceholderDollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func validateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidKey)
	}
	return nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sqlstore: claim token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// execCount runs a statement and returns how many rows it changed, with
// errors prefixed by op.
func (s *Store) execCount(ctx context.Context, op, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return n, nil
}

// claimAttempts bounds the loop for a key that is released by its holder
// between the insert and the read of Claim; after that Claim answers
// ClaimBusy and the caller claims again.
const claimAttempts = 3

// Claim tries to take key. It answers ClaimAcquired when the key was absent
// or its previous holder's lease had expired (the caller must then call
// Complete or Release on this same Store), ClaimDone when the key was
// completed, and ClaimBusy when another worker holds an unexpired claim.
// After an error the claim may have been made with its answer lost; the key
// is then free again when the lease expires.
func (s *Store) Claim(ctx context.Context, key string) (skyvern.ClaimResult, error) {
	if err := validateKey(key); err != nil {
		return 0, err
	}
	for range claimAttempts {
		token, err := newToken()
		if err != nil {
			return 0, err
		}
		now := s.nowMS()
		leaseUntil := now + s.lease.Milliseconds()
		var got string
		err = s.db.QueryRowContext(ctx, s.queries.claim, key, token, leaseUntil, now).Scan(&got)
		if err == nil {
			s.claims.acquired(key, token, now, leaseUntil)
			return skyvern.ClaimAcquired, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("sqlstore: claim: %w", err)
		}
		var doneAt sql.NullInt64
		err = s.db.QueryRowContext(ctx, s.queries.state, key).Scan(&doneAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return 0, fmt.Errorf("sqlstore: claim: %w", err)
		case doneAt.Valid:
			return skyvern.ClaimDone, nil
		default:
			return skyvern.ClaimBusy, nil
		}
	}
	return skyvern.ClaimBusy, nil
}

// Complete records key as done after the caller's processing succeeded, so
// that no later Claim acquires it. It returns ErrNotClaimed when this Store
// does not hold key and ErrLeaseLost when another worker took the key over
// after this claim's lease expired (or, within this Store, already completed
// it). A claim whose lease expired but that nobody took over still
// completes. After an error from the database, calling Complete again is
// safe.
func (s *Store) Complete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	c, token, _, lost := s.claims.lookup(key)
	if c == nil {
		return ErrNotClaimed
	}
	if lost {
		s.claims.finish(key, c, token, false)
		return ErrLeaseLost
	}
	now := s.nowMS()
	n, err := s.execCount(ctx, "complete", s.queries.complete, now, now, key, token)
	if err != nil {
		return err
	}
	if n == 0 {
		// The row is gone (Cleanup removed the stale claim, or a worker
		// that took it over released it): the work did succeed, so record
		// it unless someone else holds or completed the key meanwhile.
		n, err = s.execCount(ctx, "complete", s.queries.completeAbsent, key, token, now, now, now)
		if err != nil {
			return err
		}
	}
	s.claims.finish(key, c, token, true)
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Release gives key back after the caller's processing failed, so that the
// next delivery of the event can claim it at once. It returns ErrNotClaimed
// when this Store does not hold key and ErrLeaseLost when another worker
// took the key over (its claim is left alone). While another goroutine of
// this Store still holds the key (see Complete), Release leaves the claim to
// it and returns nil. After an error from the database the claim is no
// longer this Store's; it lapses when its lease expires.
func (s *Store) Release(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	c, token, holders, lost := s.claims.lookup(key)
	switch {
	case c == nil:
		return ErrNotClaimed
	case lost:
		s.claims.finish(key, c, token, false)
		return ErrLeaseLost
	case holders > 1:
		s.claims.finish(key, c, token, false)
		return nil
	}
	// The last holder leaves before deleting the row. Once the row is gone,
	// another goroutine of this Store may claim the key afresh; were this
	// holder still registered, that claim would count it as a co-holder,
	// and its own Release would then leave the row to a holder that is no
	// longer there, blocking the event for a whole lease.
	s.claims.finish(key, c, token, false)
	n, err := s.execCount(ctx, "release", s.queries.release, key, token)
	if err != nil {
		return err
	}
	if n == 0 {
		// Nothing deleted: either the key is already free (a repeated
		// Release, or Cleanup removed the stale claim), which is what the
		// caller wanted, or another worker has it.
		var doneAt sql.NullInt64
		err = s.db.QueryRowContext(ctx, s.queries.state, key).Scan(&doneAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("sqlstore: release: %w", err)
		default:
			return ErrLeaseLost
		}
	}
	return nil
}
