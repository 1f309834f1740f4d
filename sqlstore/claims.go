package sqlstore

import "sync"

// localClaim is what Complete and Release need to prove ownership of a
// key: the random token written with the claim. Times are Unix
// milliseconds.
//
// The interface passes only a key, so a Store cannot tell its own
// goroutines apart. When one of them takes over a key whose lease expired
// while another goroutine of the same Store still works on it, the two
// share the newest claim: the first Complete records the event (its work
// did succeed) and leaves the other with ErrLeaseLost, and a Release gives
// the key back only when no other holder of the Store remains, so that
// neither can delete a claim the other is working under.
type localClaim struct {
	token      string
	claimedAt  int64
	leaseUntil int64
	holders    int  // goroutines that acquired the claim and have not completed or released it
	lost       bool // completed by one holder, or taken over elsewhere: the others can only learn ErrLeaseLost
}

// localClaims is the registry of a Store's claims, keyed by key.
type localClaims struct {
	mu     sync.Mutex
	claims map[string]*localClaim
}

func newLocalClaims() *localClaims {
	return &localClaims{claims: make(map[string]*localClaim)}
}

// acquired registers a claim the database granted with token.
func (l *localClaims) acquired(key, token string, claimedAt, leaseUntil int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.claims[key]
	if c == nil {
		c = &localClaim{}
		l.claims[key] = c
	}
	c.token, c.claimedAt, c.leaseUntil, c.lost = token, claimedAt, leaseUntil, false
	c.holders++
}

// lookup returns the claim on key and a copy of its token and state, or
// nil when the Store holds no claim on key.
func (l *localClaims) lookup(key string) (c *localClaim, token string, holders int, lost bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c = l.claims[key]
	if c == nil {
		return nil, "", 0, false
	}
	return c, c.token, c.holders, c.lost
}

// finish records that one holder of c is done with it. With invalidate,
// the claim under token is over for the remaining holders too, unless a
// newer claim replaced it meanwhile.
func (l *localClaims) finish(key string, c *localClaim, token string, invalidate bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claims[key] != c {
		return // pruned by Cleanup meanwhile
	}
	c.holders--
	if c.holders <= 0 {
		delete(l.claims, key)
		return
	}
	if invalidate && c.token == token {
		c.lost = true
	}
}

// prune drops claims made before cutoff whose lease expired by now: the
// ones Cleanup deletes from the table.
func (l *localClaims) prune(cutoff, now int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, c := range l.claims {
		if c.claimedAt < cutoff && c.leaseUntil <= now {
			delete(l.claims, key)
		}
	}
}
