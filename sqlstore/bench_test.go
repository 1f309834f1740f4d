package sqlstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/sqlstore"
)

// BenchmarkClaimComplete measures the store's cost for one event: a Claim
// of a new key and its Complete, from one goroutine and from several
// sharing a pool; "duplicate" is the Claim of a redelivered, completed
// event. Throughput is reported as claims/s.
func BenchmarkClaimComplete(b *testing.B) {
	db := openDB(b)
	table := newTable(b, db)
	s, err := sqlstore.New(db, sqlstore.WithTable(table))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var next atomic.Int64
	newKey := func(prefix string) string {
		return prefix + strconv.FormatInt(next.Add(1), 10)
	}
	claimComplete := func(key string) error {
		c, err := s.Claim(ctx, key)
		if err != nil || c.Result != skyvern.ClaimAcquired {
			return fmt.Errorf("Claim(%s) = %+v, %v", key, c, err)
		}
		return s.Complete(ctx, key, c.Token)
	}
	reportClaims := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
	}

	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := claimComplete(newKey("serial:")); err != nil {
				b.Fatal(err)
			}
		}
		reportClaims(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := claimComplete(newKey("parallel:")); err != nil {
					b.Error(err) // FailNow is not allowed off the benchmark's goroutine
					return
				}
			}
		})
		reportClaims(b)
	})
	b.Run("duplicate", func(b *testing.B) {
		key := newKey("duplicate:")
		if err := claimComplete(key); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if c, err := s.Claim(ctx, key); err != nil || c.Result != skyvern.ClaimDone {
				b.Fatalf("Claim(%s) = %+v, %v", key, c, err)
			}
		}
		reportClaims(b)
	})
}
