package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
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

// brokenVault is a cloud connector whose listing always fails (only what
// a sync calls is implemented).
type brokenVault struct{ cloud.Connector }

func (brokenVault) Kind() string    { return "azure" }
func (brokenVault) Address() string { return "https://broken.vault.azure.net" }
func (brokenVault) ListKeys(context.Context, func([]cloud.KeyVersion) error) error {
	return fmt.Errorf("%w: 403 Forbidden: the client lacks the keys/list permission", cloud.ErrAccess)
}

// TestCloudSyncErrorNamesTheSourceOnce: keyward sync of a cloud source
// that fails says which source once, then why (it said "sync broken: sync
// broken: …": the source and the socket API both named it).
func TestCloudSyncErrorNamesTheSourceOnce(t *testing.T) {
	src := cloud.NewSyncSource("broken", brokenVault{}, time.Hour, nil)
	r := startOpts(t, testConfig(t), Options{Sources: []sources.Source{src}})
	_, err := api.NewClient(r.socket).Sync(context.Background(), "broken")
	if err == nil || strings.Count(err.Error(), "broken") != 1 || !strings.Contains(err.Error(), "sync broken: ") ||
		!strings.Contains(err.Error(), "lacks the keys/list permission") {
		t.Fatalf("sync error %v: want the source named once, then the reason", err)
	}
}
