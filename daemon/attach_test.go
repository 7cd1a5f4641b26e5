package daemon

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// lateSource is a source whose Run has not begun by the time it is asked
// to sync (as under load, when the daemon answers on its socket before a
// source's goroutine is scheduled): Run never attaches the sink itself.
type lateSource struct {
	mu   sync.Mutex
	sink sources.Sink
}

func (s *lateSource) Name() string    { return "late" }
func (s *lateSource) Kind() string    { return "demo" }
func (s *lateSource) Address() string { return "in-process" }

func (s *lateSource) Run(ctx context.Context, _ sources.Sink) error {
	<-ctx.Done()
	return nil
}

func (s *lateSource) Attach(sink sources.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink = sink
}

func (s *lateSource) SyncNow(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return errors.New("source is not running yet")
	}
	return s.sink.Apply(ctx, sources.Batch{Source: "late", Upsert: []engine.Key{{ID: "late/k", Source: "late", Name: "k", State: engine.StateActive}}})
}

// TestSyncRightAfterStart: a source takes its sink before the daemon
// answers on its socket, so keyward sync right after the start syncs it
// (it answered "source is not running yet" when the sync won the race
// with the source's goroutine: seen under load in the GCP daemon test).
func TestSyncRightAfterStart(t *testing.T) {
	r := startOpts(t, testConfig(t), Options{Sources: []sources.Source{&lateSource{}}})
	c := api.NewClient(r.socket)
	ctx := context.Background()
	if _, err := c.Sync(ctx, "late"); err != nil {
		t.Fatalf("sync right after the start: %v", err)
	}
	if k, err := c.Key(ctx, "late/k"); err != nil || k.Key.Name != "k" {
		t.Fatalf("the sync's key: %+v, %v", k, err)
	}
}
