package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// BenchmarkWriteBehindSync: how long a one-event write (what every
// state-changing socket request records) waits when it arrives 50 ms into
// a sync that writes 9,000 changed keys and their events in one
// transaction. Reported as wait-ms and sync-ms per sync.
func BenchmarkWriteBehindSync(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "keyward.db"), SchemaVersion())
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		b.Fatal(err)
	}
	if os.Getenv("KEYWARD_BENCH_NO_AGING_TRIGGERS") != "" {
		for _, tr := range []string{"aging_days_insert", "aging_days_delete", "aging_days_update"} {
			if _, err := s.db.Exec("DROP TRIGGER " + tr); err != nil {
				b.Fatal(err)
			}
		}
	}
	var wait, sync time.Duration
	for round := 0; round < b.N; round++ {
		c := Change{Source: "kms"}
		for i := 0; i < 9000; i++ {
			at := now.Add(time.Duration(i+round) * time.Hour)
			name := fmt.Sprintf("app.key.%d", i)
			c.Upsert = append(c.Upsert, engine.Key{ID: "kms/" + name, Source: "kms", Name: name, State: engine.StateActive, Expires: &at})
			c.Events = append(c.Events, engine.Event{Time: at, KeyID: "kms/" + name, Source: "kms", Operation: "updated", Actor: "sync", Origin: engine.OriginSource})
		}
		done := make(chan error, 1)
		start := time.Now()
		go func() { _, err := s.Apply(ctx, c); sync += time.Since(start); done <- err }()
		time.Sleep(50 * time.Millisecond)
		w := time.Now()
		if _, err := s.Record(ctx, engine.Event{Time: now, Source: "kms", Operation: "note", Actor: "admin", Origin: engine.OriginSource}); err != nil {
			b.Fatal(err)
		}
		wait += time.Since(w)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(wait.Milliseconds())/float64(b.N), "wait-ms")
	b.ReportMetric(float64(sync.Milliseconds())/float64(b.N), "sync-ms")
}
