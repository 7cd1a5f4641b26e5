package generate

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// BenchmarkAliasSearch is the "/" filter (q=) by alias in a large
// database: KEYWARD_BENCH_DB names a copy (never the original: it is
// migrated, and 1,000 AWS keys of three aliases each are written to it,
// once). A first page of 50 with its total, by the first alias (the one a
// key is shown by), by the third, by part of the third matching ten keys,
// and by part of a name, so the aliases' cost can be read beside the
// names'. Skipped without KEYWARD_BENCH_DB.
func BenchmarkAliasSearch(b *testing.B) {
	path := os.Getenv("KEYWARD_BENCH_DB")
	if path == "" {
		b.Skip("KEYWARD_BENCH_DB: a copy of a large keyward.db")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const source = "aws-bench"
	keys := make([]engine.Key, 1000)
	for i := range keys {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		keys[i] = engine.Key{ID: engine.KeyID(source, id, "current"), Source: source, Name: id, Version: "current",
			Algorithm: "AES", Length: 256, State: engine.StateActive, Created: &benchNow,
			Tags: map[string]string{engine.TagAliases: fmt.Sprintf("alias/pay-%04d,alias/ledger-%04d,alias/settle-%04d", i, i, i)}}
	}
	if err := s.EnsureSource(ctx, source, "aws", ""); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Apply(ctx, store.Change{Source: source, Upsert: keys}); err != nil {
		b.Fatal(err)
	}
	n, err := s.CountKeys(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d keys", n)
	for _, c := range []struct {
		q    string
		want int
	}{{"alias/pay-0042", 1}, {"settle-0042", 1}, {"settle-004", 10}, {"app0042.key.3", -1}} {
		b.Run("q="+c.q, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := s.Keys(ctx, store.KeyQuery{Text: c.q, Limit: 50})
				if err != nil || len(p.Keys) == 0 || c.want > 0 && p.Total != c.want {
					b.Fatalf("%d rows of %d, %v", len(p.Keys), p.Total, err)
				}
			}
		})
	}
}
