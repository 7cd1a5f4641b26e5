package daemon

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// churnSource holds n keys and, on every sync, writes all of them again in
// pages of 500 with a few state changes, as a full cloud sync does. Its
// syncs go through a sources.Loop, as every polling source's do, so syncs
// asked for while one runs are shared as they are in the daemon.
type churnSource struct {
	n    int
	mu   sync.Mutex
	sink sources.Sink
	rng  *rand.Rand
	loop *sources.Loop
}

func (s *churnSource) Name() string    { return "churn" }
func (s *churnSource) Kind() string    { return "demo" }
func (s *churnSource) Address() string { return "in-process" }

func (s *churnSource) Run(ctx context.Context, sink sources.Sink) error {
	s.mu.Lock()
	s.sink = sink
	s.loop = sources.NewLoop("churn", sources.Schedule{Interval: time.Hour}, nil, nil)
	s.mu.Unlock()
	if err := s.SyncNow(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func (s *churnSource) SyncNow(ctx context.Context) error {
	s.mu.Lock()
	loop, sink := s.loop, s.sink
	s.mu.Unlock()
	return loop.Once(ctx, sink, func(ctx context.Context, _ bool) (sources.Outcome, error) {
		return sources.Outcome{}, s.sync(ctx)
	})
}

// sync writes every key once; the loop runs one at a time.
func (s *churnSource) sync(ctx context.Context) error {
	states := []engine.State{engine.StateActive, engine.StateDisabled}
	for start := 0; start < s.n; start += 500 {
		var b sources.Batch
		b.Source = "churn"
		for i := start; i < min(start+500, s.n); i++ {
			name := fmt.Sprintf("app%03d.key.%d", i/16, i%16)
			st := engine.StateActive
			if s.rng.Intn(100) == 0 {
				st = states[s.rng.Intn(2)]
			}
			b.Upsert = append(b.Upsert, engine.Key{ID: "churn/" + name, Source: "churn", Name: name, Algorithm: "AES", Length: 256, State: st})
		}
		if err := s.sink.Apply(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// TestKeysLatencyUnderLoad measures GET /v1/keys (first pages with their
// totals) while 45 clients read and 5 admins sync a 9,000-key source over
// and over. It is a measurement, not a check: run it with
// KEYWARD_LOAD=1 go test ./daemon -run TestKeysLatencyUnderLoad -v
// (under flock /tmp/keyward-bench.lock); BENCHMARKS.md has the figures.
// Each of the 50 clients is its own api.Client (its own transport), so each
// holds one connection, as 50 processes would; every read counts.
func TestKeysLatencyUnderLoad(t *testing.T) {
	if os.Getenv("KEYWARD_LOAD") == "" {
		t.Skip("a measurement: set KEYWARD_LOAD=1")
	}
	src := &churnSource{n: 9000, rng: rand.New(rand.NewSource(1))}
	r := startOpts(t, testConfig(t), Options{Sources: []sources.Source{src}})
	dur := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("KEYWARD_LOAD_DURATION")); err == nil {
		dur = d
	}
	c0 := api.NewClient(r.socket)
	for { // wait for the first sync
		p, err := c0.Keys(context.Background(), api.KeyQuery{Source: "churn", Limit: 1})
		if err == nil && p.Total == 9000 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	syncs, failed := 0, 0
	var firstErr error
	var wg sync.WaitGroup
	queries := []api.KeyQuery{{Limit: 50}, {Limit: 50, State: "active"}, {Limit: 50, Source: "churn", State: "disabled"}, {Limit: 50, Sort: "-created"}}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := api.NewClient(r.socket)
			for n := 0; ctx.Err() == nil; n++ {
				if i < 5 {
					err := c.Do(ctx, http.MethodPost, "/sync", nil, nil, nil)
					mu.Lock()
					if err == nil {
						syncs++
					}
					mu.Unlock()
					continue
				}
				start := time.Now()
				_, err := c.Keys(ctx, queries[n%len(queries)])
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						failed++
						if firstErr == nil {
							firstErr = err
						}
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		t.Fatal("no read answered")
	}
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("%d key reads in %s (%.0f/s), %d syncs of 9,000 keys, %d failed: p50 %s, p90 %s, p99 %s, max %s",
		len(lat), dur, float64(len(lat))/dur.Seconds(), syncs, failed, q(0.5), q(0.9), q(0.99), lat[len(lat)-1])
	if firstErr != nil {
		// 50 clients hold one connection each, under the daemon's 64 per
		// user: a refused or failed read is a fault, not a figure to leave
		// out of the latencies.
		t.Errorf("%d reads failed, the first: %v", failed, firstErr)
	}
}
