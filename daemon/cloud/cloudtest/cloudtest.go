// Package cloudtest is what the cloud connectors' tests share: the daemon's
// sink reduced to a real store on a real SQLite file, a sink that keeps
// nothing, and the sync benchmark every connector runs the same way.
package cloudtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/kek/kektest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// StoreSink is the daemon's sink reduced to what a source sees: the real
// store on a real SQLite file, plus the health it was last told.
type StoreSink struct {
	St     *store.Store
	mu     sync.Mutex
	health engine.Health
	reason string
}

var _ sources.Sink = (*StoreSink)(nil)

// Apply writes a batch as the daemon does.
func (s *StoreSink) Apply(ctx context.Context, b sources.Batch) error {
	_, err := s.St.Apply(ctx, store.Change{Source: b.Source, Upsert: b.Upsert, Remove: b.Remove, Events: b.Events})
	return err
}

// SetHealth records the source's health in the store and remembers it.
func (s *StoreSink) SetHealth(ctx context.Context, source string, h engine.Health, reason string) error {
	s.mu.Lock()
	s.health, s.reason = h, reason
	s.mu.Unlock()
	_, _, err := s.St.SetHealth(ctx, source, h, reason, nil)
	return err
}

// Known is the source's keys in the store.
func (s *StoreSink) Known(ctx context.Context, source string) ([]engine.Key, error) {
	return s.St.SourceKeys(ctx, source)
}

// Health is the health the source last reported, and why.
func (s *StoreSink) Health() (engine.Health, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health, s.reason
}

// Attach records src in st as the daemon does before its first sync (its
// name, kind and address) and gives it a StoreSink on st, returned: a
// source the test syncs itself (SyncNow) into a real store.
func Attach(tb testing.TB, st *store.Store, src *cloud.SyncSource) *StoreSink {
	tb.Helper()
	if err := st.EnsureSource(context.Background(), src.Name(), src.Kind(), src.Address()); err != nil {
		tb.Fatal(err)
	}
	sink := &StoreSink{St: st}
	src.Attach(sink)
	return sink
}

// Discard is a sink that keeps nothing: every sync is a first one.
type Discard struct{}

var _ sources.Sink = Discard{}

// Apply drops the batch.
func (Discard) Apply(context.Context, sources.Batch) error { return nil }

// SetHealth drops the health.
func (Discard) SetHealth(context.Context, string, engine.Health, string) error { return nil }

// Known is always nothing.
func (Discard) Known(context.Context, string) ([]engine.Key, error) { return nil, nil }

// Total is the sum of a connector's call counts.
func Total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// Bench is one connector holding Keys keys, ready for BenchSync.
type Bench struct {
	// Keys is how many keys the connector's cloud holds.
	Keys int
	// Source, Kind and Address name the source in the store.
	Source, Kind, Address string
	// Conn is the connector under test; Calls counts its requests to the
	// cloud by name, and Listing names those that list (the rest are per
	// key).
	Conn    cloud.Connector
	Calls   func() map[string]int
	Listing []string
	// Change changes key number k (0 to Keys-1) in the cloud, outside
	// keyward, in run i; j numbers the change within the run.
	Change func(b *testing.B, k, i, j int)
}

// StoreSource is a sync source of conn (no full refresh) writing into a
// real store on a real SQLite file, closed when the test ends.
func StoreSource(tb testing.TB, source, kind, address string, conn cloud.Connector) *cloud.SyncSource {
	tb.Helper()
	ctx := context.Background()
	st := storetest.New(tb)
	if err := st.EnsureSource(ctx, source, kind, address); err != nil {
		tb.Fatal(err)
	}
	src := cloud.NewViewSource(source, conn, time.Hour, nil)
	src.Attach(&StoreSink{St: st})
	return src
}

// BenchSync measures a sync of the connector's keys through the real
// client into a real SQLite store: the first sync (every key read), and a
// sync after 1% of the keys changed outside keyward (only they are read
// again). requests/op counts the cloud's requests; per-changed is the 1%
// sync's requests per changed key beyond the listing.
func BenchSync(b *testing.B, c Bench) {
	ctx := context.Background()
	src := StoreSource(b, c.Source, c.Kind, c.Address, c.Conn)
	n := c.Keys
	b.Run(fmt.Sprintf("keys=%d/first", n), func(b *testing.B) {
		for range b.N {
			r0 := Total(c.Calls())
			if err := src.SyncNow(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(Total(c.Calls())-r0), "requests/op")
			b.ReportMetric(float64(src.LastSync().Rows), "rows/op")
		}
	})
	b.Run(fmt.Sprintf("keys=%d/1pct-changed", n), func(b *testing.B) {
		var reqs, listing, rows, events int
		changed := max(n/100, 1)
		for i := range b.N {
			b.StopTimer()
			for j := range changed {
				c.Change(b, (i*changed+j)*97%n, i, j)
			}
			time.Sleep(1100 * time.Millisecond) // Updated has a one-second resolution
			r0 := c.Calls()
			b.StartTimer()
			if err := src.SyncNow(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			r1 := c.Calls()
			reqs += Total(r1) - Total(r0)
			for _, l := range c.Listing {
				listing += r1[l] - r0[l]
			}
			rows += src.LastSync().Rows
			events += src.LastSync().Events
		}
		b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
		b.ReportMetric(float64(reqs-listing)/float64(b.N*changed), "per-changed")
		b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
		b.ReportMetric(float64(events)/float64(b.N), "events/op")
	})
}

// Stderr points os.Stderr at a pipe until the returned func is called,
// which puts it back and returns what was written there: for a test that
// an SDK's log goes to the daemon's logger and not to the terminal.
func Stderr(t testing.TB) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	t.Cleanup(func() { os.Stderr = saved })
	return func() string {
		os.Stderr = saved
		w.Close()
		b, _ := io.ReadAll(r)
		r.Close()
		return string(b)
	}
}

// KEK generates a key-encryption key file in a test's temporary folder
// and loads it, as the daemon does with keys.kek_file (kektest.New).
func KEK(tb testing.TB) *kek.KEK {
	tb.Helper()
	k, _ := kektest.New(tb)
	return k
}

// NoPlaintext fails the test if a file matching glob (a database and its
// -wal and -shm files) holds any of secrets as plaintext.
func NoPlaintext(tb testing.TB, glob string, secrets ...[]byte) {
	tb.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		tb.Fatalf("no files match %s: %v", glob, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, secret := range secrets {
			if bytes.Contains(b, secret) {
				tb.Errorf("%s holds key material in plaintext", f)
			}
		}
	}
}
