package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// TestKill9BetweenCreateAndActivate: a real daemon in its own process
// (TestScheduleKillChild) runs keyward rotate-app on a KMIP ring and is
// killed with SIGKILL once the KMS made the new generation and before its
// answer reached the daemon: acme.crm.key.3 is left Pre-Active, and the
// killed daemon recorded nothing. A new daemon on the same data dir opens
// the database, and the next rotate-app finishes that rotation (activates
// key.3) instead of creating key.4: one Create on the KMS in all, one
// rotation event, saying so.
func TestKill9BetweenCreateAndActivate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child daemons")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	created, release := make(chan struct{}, 1), make(chan struct{})
	var first atomic.Bool
	first.Store(true)
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(dir, "kms"),
		Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}},
		AfterCreate: func() {
			if first.Swap(false) { // the first Create only
				created <- struct{}{}
				<-release // its answer waits until the daemon is dead
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	t.Cleanup(func() { close(release) })
	src := srv.SourceConfig("kms", time.Hour)
	sock := filepath.Join(dir, "keyward.sock")
	cfgPath := filepath.Join(dir, "keyward.toml")
	toml := fmt.Sprintf(`data_dir = %q
socket = %q
[[kmip]]
name = "kms"
addresses = [%q]
server_name = %q
ca_file = %q
cert_file = %q
key_file = %q
poll_interval = "1h"
[[kmip.application]]
name = "crm"
pattern = "acme.crm.key.*"
`, filepath.Join(dir, "data"), sock, src.Addresses[0], src.ServerName, src.CAFile, src.CertFile, src.KeyFile)
	if err := os.WriteFile(cfgPath, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(sock)
	waitKeys := func(n int) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, fmt.Sprintf("the daemon and %d keys", n), func() bool {
			p, err := c.Keys(ctx, api.KeyQuery{Source: "kms", Limit: 100})
			return err == nil && len(p.Keys) == n
		}, func() string {
			logText, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			return "daemon log:\n" + tail(logText)
		})
	}

	child := startChild(t, dir, cfgPath)
	waitKeys(2)
	srv.ResetCounts()
	go func() { _, _ = c.RotateApp(ctx, "kms", "crm") }()
	select {
	case <-created:
	case <-ctx.Done():
		t.Fatal("the rotation never reached the KMS's Create")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	child = startChild(t, dir, cfgPath)
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
	}()
	waitKeys(3) // key.3, Pre-Active, seen by the new daemon's first poll
	rot, err := c.RotateApp(ctx, "kms", "crm")
	if err != nil {
		t.Fatalf("rotate-app after the kill: %v", err)
	}
	if rot.Generation != "acme.crm.key.3" || rot.Previous != "acme.crm.key.2" || !strings.Contains(rot.Note, "finished the rotation a lost answer left half done") {
		t.Fatalf("rotate-app after the kill: %+v; want acme.crm.key.3 finished", rot)
	}
	if n := srv.Counts()[kmip.OperationCreate]; n != 1 {
		t.Fatalf("%d Creates on the KMS for one rotation, want 1", n)
	}
	p, err := c.Keys(ctx, api.KeyQuery{Source: "kms", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range p.Keys {
		if k.Name == "acme.crm.key.4" || k.State == engine.StatePreActive {
			t.Fatalf("after the rotation the KMS holds %s, %s", k.Name, k.State)
		}
	}
	rep, err := c.ActivityReport(ctx, api.ReportQuery{Operation: engine.OpRotated, Source: "kms", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var byKeyward []engine.Event
	for _, ev := range rep.Events {
		if ev.Origin == engine.OriginKeyward {
			byKeyward = append(byKeyward, ev)
		}
	}
	if len(byKeyward) != 1 || byKeyward[0].KeyID != engine.KeyID("kms", "acme.crm.key.3", "") {
		t.Fatalf("rotation events by keyward: %+v; want one, of acme.crm.key.3", byKeyward)
	}
}
