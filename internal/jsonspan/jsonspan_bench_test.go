package jsonspan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkMembers walks a 16 MiB document made of one large string, the
// shape of a big webhook output, against json.Valid on the same bytes as
// the baseline (which holds the document in memory and keeps nothing).
func BenchmarkMembers(b *testing.B) {
	doc := []byte(`{"run_id":"wr_1","status":"completed","output":"` + strings.Repeat("0123456789abcdef", 1<<20) + `"}`)
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for i := 0; i < b.N; i++ {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("Members", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Members(bytes.NewReader(doc), 1<<20, 64<<10); err != nil {
				b.Fatal(err)
			}
		}
	})
}
