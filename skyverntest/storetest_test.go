package skyverntest_test

import (
	"testing"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/skyverntest"
)

func TestIdempotencyStoreMemoryStore(t *testing.T) {
	t.Parallel()
	skyverntest.TestIdempotencyStore(t, func(t *testing.T, cfg skyverntest.StoreConfig) skyvern.IdempotencyStore {
		s, err := skyvern.NewMemoryStore(skyvern.WithStoreLease(cfg.Lease), skyvern.WithStoreClock(cfg.Now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
