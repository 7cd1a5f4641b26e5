package daemon

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine"
)

// TestStopDuringAPollThenSourceRemoved: a daemon polls a KMIP source; an
// administrator's keyward sync is in a poll the KMS does not answer when
// the daemon is stopped. The stop ends within its budget (not when the
// KMS answers), and the daemon, started again on the same data with the
// source removed from its configuration, opens its database, keeps the
// source's keys as last seen and says the source is not configured any
// more.
func TestStopDuringAPollThenSourceRemoved(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stall := make(chan struct{})
	var armed atomic.Bool
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(t.TempDir(), "kms"),
		Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}},
		AfterLocate: func() {
			if armed.Load() {
				select {
				case <-stall:
				case <-ctx.Done():
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	t.Cleanup(func() { close(stall) }) // runs first: the KMS answers, then stops
	cfg := testConfig(t)
	src := srv.SourceConfig("kms", time.Hour)
	src.Timeout = engine.Duration(time.Minute) // longer than any stop budget
	cfg.KMIP = []config.KMIPSource{src}
	r := run(t, cfg, Options{})
	c := api.NewClient(r.socket)
	waitKeys(t, c, 2)
	locates := srv.Counts()[kmip.OperationLocate]
	armed.Store(true)
	go func() { _, _ = c.Sync(ctx, "kms") }()
	for srv.Counts()[kmip.OperationLocate] == locates { // the sync's Locate waits on the KMS
		if ctx.Err() != nil {
			t.Fatal("the sync never sent its Locate")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(stopped); took > 10*time.Second {
		t.Fatalf("the daemon took %s to stop during a poll", took)
	}
	cfg.KMIP = nil
	r = run(t, cfg, Options{})
	c = api.NewClient(r.socket)
	found := sourceNamed(ctx, t, c, "kms")
	if found == nil || found.Health != engine.HealthUnknown || found.Reason != "not in the configuration any more; its keys are kept as last seen" {
		t.Fatalf("the removed source: %+v", found)
	}
	keys, err := c.Keys(ctx, api.KeyQuery{Source: "kms"})
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("the removed source's keys: %+v, %v", keys, err)
	}
}
