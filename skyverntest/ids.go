package skyverntest

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"strconv"
	"time"
)

// Layout of Skyvern's 64-bit ids: seconds since 2022-06-20T00:00:00Z in the
// top 32 bits, a 21-bit worker hash, a 10-bit sequence, and a version bit.
const (
	idEpoch       = 1655683200
	idWorkerBits  = 21
	idWorkerShift = 11
	idSeqBits     = 10
	idSeqShift    = 1
)

// idGen issues snowflake-like ids in Skyvern's layout. It is used under the
// server's lock.
type idGen struct {
	worker  uint64
	seq     uint64
	second  int64
	inSec   uint64
	issued  map[uint64]struct{}
	nowFunc func() time.Time
}

func newIDGen(rnd *rand.Rand, now func() time.Time) *idGen {
	return &idGen{
		worker:  uint64(rnd.Int63()) & (1<<idWorkerBits - 1),
		seq:     uint64(rnd.Int63()) & (1<<idSeqBits - 1),
		issued:  map[uint64]struct{}{},
		nowFunc: now,
	}
}

// next returns prefix + "_" + a new id. Like Skyvern, it adds the number of
// 1024-id blocks issued within one second to the worker hash, so a frozen
// test clock still yields unique ids.
func (g *idGen) next(prefix string) string {
	sec := g.nowFunc().Unix()
	if sec != g.second {
		g.second, g.inSec = sec, 0
	}
	for {
		g.inSec++
		g.seq++
		overflow := (g.inSec - 1) >> idSeqBits
		n := uint64(sec-idEpoch)&(1<<32-1)<<32 |
			(g.worker+overflow)&(1<<idWorkerBits-1)<<idWorkerShift |
			g.seq&(1<<idSeqBits-1)<<idSeqShift
		if _, dup := g.issued[n]; dup {
			continue // a clock that went backwards; skip ids already handed out
		}
		g.issued[n] = struct{}{}
		return prefix + "_" + strconv.FormatUint(n, 10)
	}
}

// idempotentWorkflowID is the permanent id Skyvern derives for a create with
// an Idempotency-Key.
func idempotentWorkflowID(orgID, key string) string {
	sum := sha256.Sum256([]byte("create_workflow\x00" + orgID + "\x00" + key))
	return "wpid_" + hex.EncodeToString(sum[:])
}
