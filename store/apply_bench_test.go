package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyward/keyward/engine"
)

// BenchmarkApplyUnchanged is a full sync that finds nothing changed: 9,000
// keys written again as they are, in batches of 500 (what a cloud sync or
// the load test's admins do over and over).
func BenchmarkApplyUnchanged(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "churn", "demo", ""); err != nil {
		b.Fatal(err)
	}
	var keys []engine.Key
	for i := 0; i < 9000; i++ {
		name := fmt.Sprintf("app%03d.key.%d", i/16, i%16)
		keys = append(keys, engine.Key{ID: "churn/" + name, Source: "churn", Name: name, Algorithm: "AES", Length: 256,
			State: engine.StateActive, Application: fmt.Sprintf("app%03d", i/16), Tags: map[string]string{"team": "crm"}})
	}
	sync := func() {
		for start := 0; start < len(keys); start += 500 {
			if _, err := s.Apply(ctx, Change{Source: "churn", Upsert: keys[start:min(start+500, len(keys))]}); err != nil {
				b.Fatal(err)
			}
		}
	}
	sync()
	for b.Loop() {
		sync()
	}
}
