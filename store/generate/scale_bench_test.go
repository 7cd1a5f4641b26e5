package generate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

var benchNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var (
	benchOnce  sync.Once
	benchStore *store.Store
	benchErr   error
)

// scaleStore opens (generating once, then reusing across runs) a database
// of KEYWARD_BENCH_KEYS keys (default 1,000,000) and KEYWARD_BENCH_EVENTS
// events (default 10,000,000) in the temp dir.
func scaleStore(b *testing.B) *store.Store {
	b.Helper()
	benchOnce.Do(func() {
		keys, events := envInt("KEYWARD_BENCH_KEYS", 1_000_000), envInt("KEYWARD_BENCH_EVENTS", 10_000_000)
		path := filepath.Join(os.TempDir(), fmt.Sprintf("keyward-bench-%d-%d.db", keys, events))
		ready := path + ".ready"
		ctx := context.Background()
		if _, err := os.Stat(ready); err != nil {
			os.Remove(path)
			s, err := store.Open(ctx, path)
			if err != nil {
				benchErr = err
				return
			}
			start := time.Now()
			if benchErr = Run(ctx, s, Options{Keys: keys, Events: events, Now: benchNow}); benchErr != nil {
				return
			}
			s.DB().Exec("ANALYZE")
			s.Close()
			fi, _ := os.Stat(path)
			fmt.Fprintf(os.Stderr, "generated %d keys, %d events in %s: %s, %.0f MiB\n", keys, events,
				time.Since(start).Round(time.Second), path, float64(fi.Size())/(1<<20))
			os.WriteFile(ready, nil, 0o644)
		}
		benchStore, benchErr = store.Open(ctx, path)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func BenchmarkScaleAgingSummary(b *testing.B) {
	s := scaleStore(b)
	th := engine.DefaultThresholds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.AgingCounts(context.Background(), benchNow, th); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScaleAgingFirstPage(b *testing.B) {
	s := scaleStore(b)
	for i := 0; i < b.N; i++ {
		page, _, err := s.Milestones(context.Background(), store.MilestoneQuery{From: benchNow.AddDate(0, 0, -90),
			To: benchNow.AddDate(0, 0, 90), Period: 365 * 24 * time.Hour, Limit: 50})
		if err != nil || len(page) != 50 {
			b.Fatalf("%d rows, %v", len(page), err)
		}
	}
}

func BenchmarkScaleActivityFirstPage(b *testing.B) {
	s := scaleStore(b)
	for i := 0; i < b.N; i++ {
		ev, _, err := s.Events(context.Background(), store.EventQuery{From: benchNow.AddDate(0, 0, -30), To: benchNow, Limit: 50})
		if err != nil || len(ev) != 50 {
			b.Fatalf("%d rows, %v", len(ev), err)
		}
	}
}

func BenchmarkScaleActivityComparisonFirstPage(b *testing.B) {
	s := scaleStore(b)
	for i := 0; i < b.N; i++ {
		ev, _, err := s.Events(context.Background(), store.EventQuery{Origin: engine.OriginSource, From: benchNow.AddDate(0, 0, -30), To: benchNow, Limit: 50})
		if err != nil || len(ev) != 50 {
			b.Fatalf("%d rows, %v", len(ev), err)
		}
	}
}

func BenchmarkScaleActivityPerDay30d(b *testing.B) {
	s := scaleStore(b)
	for i := 0; i < b.N; i++ {
		if _, err := s.EventsPerDay(context.Background(), store.EventQuery{From: benchNow.AddDate(0, 0, -30), To: benchNow}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScaleKeysFirstPage(b *testing.B) {
	s := scaleStore(b)
	for i := 0; i < b.N; i++ {
		p, err := s.Keys(context.Background(), store.KeyQuery{Limit: 50})
		if err != nil || len(p.Keys) != 50 {
			b.Fatalf("%d rows, %v", len(p.Keys), err)
		}
	}
}

// BenchmarkScaleKeysNextPage is scrolling: a page after a cursor, no count.
func BenchmarkScaleKeysNextPage(b *testing.B) {
	s := scaleStore(b)
	first, err := s.Keys(context.Background(), store.KeyQuery{Limit: 50, Sort: "-expires"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.Keys(context.Background(), store.KeyQuery{Limit: 50, Sort: "-expires", Cursor: first.NextCursor})
		if err != nil || len(p.Keys) != 50 {
			b.Fatalf("%d rows, %v", len(p.Keys), err)
		}
	}
}

func TestGeneratorIsReproducibleAndConsistent(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := Run(ctx, s, Options{Keys: 5000, Events: 20000, Now: benchNow}); err != nil {
		t.Fatal(err)
	}
	n, _ := s.CountKeys(ctx)
	if n != 5000 {
		t.Fatalf("%d keys", n)
	}
	counts, _ := s.AgingCounts(ctx, benchNow, engine.DefaultThresholds())
	buckets := map[engine.Bucket]bool{}
	for _, m := range counts {
		for b, c := range m {
			if c > 0 {
				buckets[b] = true
			}
		}
	}
	for _, want := range []engine.Bucket{engine.BucketExpired, engine.BucketOverdue, engine.BucketHealthy, engine.BucketRetired, "expiring-90d"} {
		if !buckets[want] {
			t.Errorf("generated inventory has no %s keys", want)
		}
	}
	ev, _, _ := s.Events(ctx, store.EventQuery{Limit: 10})
	if len(ev) != 10 || ev[0].KeyID == "" || ev[0].Source == "" {
		t.Fatalf("events %+v", ev)
	}
}

// BenchmarkScaleKeysText is the "/" filter (q=): a first page of 50 with
// its total, by a substring of the application (app0042: 200 keys at a
// million), of a name (0042.key.3: 125 keys) and by short text (two
// characters, the scan the trigram index cannot answer).
func BenchmarkScaleKeysText(b *testing.B) {
	s := scaleStore(b)
	for _, q := range []string{"app0042", "0042.key.3", "ke"} {
		b.Run("q="+q, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := s.Keys(context.Background(), store.KeyQuery{Text: q, Limit: 50})
				if err != nil || len(p.Keys) == 0 {
					b.Fatalf("%d rows, %v", len(p.Keys), err)
				}
			}
		})
	}
}
