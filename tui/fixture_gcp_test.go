package tui_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// gcpCaps is what daemon/cloud/gcp declares.
var gcpCaps = []string{engine.CapCreate, engine.CapUpload, engine.CapUploadOct, engine.CapUpdate, engine.CapRotate,
	engine.CapDelete, engine.CapRecover, engine.CapRotationPolicy, engine.CapBackup, engine.CapRestore,
	engine.CapVersionEnable, engine.CapVersionDelete, engine.CapVersionRecover, engine.CapVersionPrimary}

// rowSink collects what a sync source writes.
type rowSink struct {
	mu   sync.Mutex
	rows map[string]engine.Key
}

func (s *rowSink) Apply(_ context.Context, b sources.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range b.Upsert {
		s.rows[k.ID] = k
	}
	return nil
}
func (s *rowSink) SetHealth(context.Context, string, engine.Health, string) error { return nil }
func (s *rowSink) Known(context.Context, string) ([]engine.Key, error)            { return nil, nil }

// newGCPFixture is the fixture with the demo's Google Cloud project beside
// the KMS and the Azure vault. Its rows are not written by hand: the
// demo's seed in keyward's Cloud KMS fake (pinned to the fixture's clock)
// is synced through the real connector and sync source, so the golden
// shows what the daemon would.
func newGCPFixture(t *testing.T) *fixture {
	t.Helper()
	fake := gcpkms.New(gcpkms.DemoProject)
	fake.Now = func() time.Time { return fixedNow }
	if err := fake.SeedDemo(fixedNow); err != nil {
		t.Fatal(err)
	}
	addr, stop, err := fake.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	p, err := gcp.New(context.Background(), gcp.Settings{Name: "gcp-prod", Project: gcpkms.DemoProject, Locations: []string{"europe-west1", "us"},
		Credential: gcp.CredNone, Endpoint: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	src := cloud.NewSyncSource("gcp-prod", p, time.Hour, nil)
	src.Now = func() time.Time { return fixedNow }
	sink := &rowSink{rows: map[string]engine.Key{}}
	src.Attach(sink)
	if err := src.SyncNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := newFixture()
	f.gcp = true
	th := engine.DefaultThresholds()
	for _, k := range sink.rows {
		k.Updated = fixedNow
		a := engine.Classify(k, fixedNow, th)
		k.Aging = &a
		f.keys = append(f.keys, k)
	}
	last := fixedNow.Add(-3 * time.Minute)
	f.sources = append(f.sources, api.SourceInfo{Source: engine.Source{Name: "gcp-prod", Kind: "gcp", Address: "projects/" + gcpkms.DemoProject,
		Health: engine.HealthOK, LastSync: &last, Keys: len(sink.rows)}, Capabilities: gcpCaps})
	f.status.Keys = len(f.keys)
	f.status.Sources = append(f.status.Sources, f.sources[len(f.sources)-1].Source)
	return f
}
