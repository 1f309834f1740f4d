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

// ErrLeaseLost is [skyvern.ErrLeaseLost], which Renew, Complete and
// Release return for a claim token that no longer holds its key.
//
// Deprecated: Match [skyvern.ErrLeaseLost] instead; this is the same value,
// kept so that existing errors.Is checks still compile.
var ErrLeaseLost = skyvern.ErrLeaseLost

// Store is a [skyvern.IdempotencyStore] kept in a database table, so that
// several receiver replicas behind a load balancer process each webhook
// event once. It is safe for concurrent use, and holds no state of its own
// besides its settings: a claim is known by its token, so any Store on the
// same table may renew, complete or release it. Create it with New.
type Store struct {
	db      *sql.DB
	lease   time.Duration
	now     func() time.Time
	queries queries
}

var _ skyvern.IdempotencyStore = (*Store)(nil)

type queries struct {
	claim, renew, complete, release, holder, cleanup string
	schema                                           []string
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
			continue
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
	}, nil
}

func buildQueries(table string, p Placeholder) queries {
	t := quoteTable(table)
	bind := func(q string) string { return rebind(q, p) }
	// A key is taken over when it is not done and its lease has run out;
	// excluded.updated_at_ms is the claim's "now".
	takeover := `t.done_at_ms IS NULL AND t.lease_until_ms <= excluded.updated_at_ms`
	takeIf := func(col string) string {
		return col + ` = CASE WHEN ` + takeover + ` THEN excluded.` + col + ` ELSE t.` + col + ` END`
	}
	return queries{
		// One statement decides the claim and reports what it found: a
		// new key is inserted; an existing one always takes the update
		// path, which keeps the row unless it may be taken over, so that
		// RETURNING yields the row as it now is. The claim is the caller's
		// when the row carries the caller's new token.
		claim: bind(`INSERT INTO ` + t + ` AS t (idempotency_key, claim_token, lease_until_ms, done_at_ms, updated_at_ms)
VALUES (?, ?, ?, NULL, ?)
ON CONFLICT (idempotency_key) DO UPDATE
SET ` + takeIf("claim_token") + `, ` + takeIf("lease_until_ms") + `, ` + takeIf("updated_at_ms") + `
RETURNING claim_token, done_at_ms`),
		// The token condition is what keeps a worker whose lease was taken
		// over from touching the new holder's row; an expired lease is not
		// revived, even if nobody took it over.
		renew: bind(`UPDATE ` + t + ` SET lease_until_ms = ?, updated_at_ms = ?
WHERE idempotency_key = ? AND claim_token = ? AND done_at_ms IS NULL AND lease_until_ms > ?`),
		// A row under this token is marked done (and stays as it was if it
		// already is, so that repeating a Complete whose answer was lost
		// changes nothing); an absent row is inserted done, since the work
		// succeeded and nobody holds the key; a row under another token is
		// left alone, and no row is counted.
		complete: bind(`INSERT INTO ` + t + ` AS t (idempotency_key, claim_token, lease_until_ms, done_at_ms, updated_at_ms)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (idempotency_key) DO UPDATE
SET done_at_ms = COALESCE(t.done_at_ms, excluded.done_at_ms), updated_at_ms = COALESCE(t.done_at_ms, excluded.updated_at_ms)
WHERE t.claim_token = excluded.claim_token`),
		// The done guard: a Release never deletes a completed key.
		release: bind(`DELETE FROM ` + t + ` WHERE idempotency_key = ? AND claim_token = ? AND done_at_ms IS NULL`),
		holder:  bind(`SELECT claim_token FROM ` + t + ` WHERE idempotency_key = ?`),
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

// Claim tries to take key. It answers ClaimAcquired, with a new token, when
// the key was absent or its previous holder's lease had expired;
// ClaimDone when the key was completed; and ClaimBusy when another worker
// holds an unexpired claim (or, rarely, when a concurrent claim's row
// appeared in the middle of this one: claiming again gives the answer).
// It is one statement, one round trip. After an error the claim may have
// been made with its answer lost; the key is then free again when the lease
// expires.
func (s *Store) Claim(ctx context.Context, key string) (skyvern.Claim, error) {
	if err := validateKey(key); err != nil {
		return skyvern.Claim{}, err
	}
	token, err := newToken()
	if err != nil {
		return skyvern.Claim{}, err
	}
	now := s.nowMS()
	var (
		holder string
		doneAt sql.NullInt64
	)
	err = s.db.QueryRowContext(ctx, s.queries.claim, key, token, now+s.lease.Milliseconds(), now).Scan(&holder, &doneAt)
	switch {
	case err != nil:
		return skyvern.Claim{}, fmt.Errorf("sqlstore: claim: %w", err)
	case holder == token:
		return skyvern.Claim{Result: skyvern.ClaimAcquired, Token: token, Lease: s.lease}, nil
	case doneAt.Valid:
		return skyvern.Claim{Result: skyvern.ClaimDone}, nil
	}
	return skyvern.Claim{Result: skyvern.ClaimBusy}, nil
}

// checkClaim validates the arguments of Renew, Complete and Release. The
// empty token never holds a key.
func checkClaim(key, token string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if token == "" {
		return skyvern.ErrLeaseLost
	}
	return nil
}

// Renew restarts the lease of the claim token holds on key, in one
// statement. It returns [skyvern.ErrLeaseLost] when token does not hold
// key, or when its lease already expired (even if nobody took the key
// over: renew at least every third of the lease, as the webhook handler
// does).
func (s *Store) Renew(ctx context.Context, key, token string) error {
	if err := checkClaim(key, token); err != nil {
		return err
	}
	now := s.nowMS()
	return s.execHeld(ctx, "renew", s.queries.renew, now+s.lease.Milliseconds(), now, key, token, now)
}

// execHeld runs a statement guarded by a claim token: changing no row means
// the token does not hold the key.
func (s *Store) execHeld(ctx context.Context, op, query string, args ...any) error {
	n, err := s.execCount(ctx, op, query, args...)
	if err == nil && n == 0 {
		return skyvern.ErrLeaseLost
	}
	return err
}

// Complete records key as done by the claim token after the caller's
// processing succeeded, so that no later Claim acquires it, in one
// statement. It returns [skyvern.ErrLeaseLost] when another worker took the
// key over after this claim's lease expired (or completed it). A claim
// whose lease expired but that nobody took over still completes, and so
// does one whose row is gone (Cleanup removed the stale claim, or the
// worker that took it over released it). After an error from the database,
// calling Complete again is safe.
func (s *Store) Complete(ctx context.Context, key, token string) error {
	if err := checkClaim(key, token); err != nil {
		return err
	}
	now := s.nowMS()
	return s.execHeld(ctx, "complete", s.queries.complete, key, token, now, now, now)
}

// Release gives key back after the processing under token failed, so that
// the next delivery of the event can claim it at once. It returns
// [skyvern.ErrLeaseLost] when another worker holds or completed the key;
// its claim is left alone. Releasing a key that is already free, or that
// token completed, changes nothing and returns nil.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := checkClaim(key, token); err != nil {
		return err
	}
	n, err := s.execCount(ctx, "release", s.queries.release, key, token)
	if err != nil || n > 0 {
		return err
	}
	// Nothing deleted, which is rare: the key is already free (a repeated
	// Release, or Cleanup removed the stale claim), or this token completed
	// it, or another worker has it.
	var holder string
	err = s.db.QueryRowContext(ctx, s.queries.holder, key).Scan(&holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("sqlstore: release: %w", err)
	case holder != token:
		return skyvern.ErrLeaseLost
	}
	return nil
}
