package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine"
)

// kmsDaemon runs a real daemon whose KMIP source, adjusted by tune, polls
// an embedded KMS seeded with two generations of crm every second.
func kmsDaemon(t *testing.T, tune func(*config.KMIPSource)) (*config.Config, *kms.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(dir, "kms"), Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	cfg := daemontest.NewConfig(dir)
	src := srv.SourceConfig("kms", time.Second)
	tune(&src)
	cfg.KMIP = []config.KMIPSource{src}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, cfg, daemon.Options{})
	return cfg, srv
}

// TestStatusShowsAKMSOutage: keyward status against a real daemon whose
// KMIP source points at an embedded KMS that goes away. While the KMS
// answers, status names the KMS address and the KMIP version spoken; once
// it is down, the source is degraded with since-when and a reason an
// administrator can act on, and the poll line says it failed.
func TestStatusShowsAKMSOutage(t *testing.T) {
	cfg, srv := kmsDaemon(t, func(src *config.KMIPSource) { src.RetryMax = engine.Duration(time.Second) })

	status := func(want ...string) string {
		t.Helper()
		var out string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			_, out, _ = run(t, "--socket", cfg.Socket, "status")
			all := true
			for _, w := range want {
				all = all && strings.Contains(out, w)
			}
			if all {
				return out
			}
		}
		t.Fatalf("keyward status never said %q:\n%s", want, out)
		return ""
	}
	status("kms: KMIP 1.4 at "+srv.Addr(), "2 keys matched")

	srv.Stop()
	out := status(" degraded ", "is the KMS running", "failed: ")
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "kms ") {
			row = l
		}
	}
	if !strings.Contains(row, "kmip") || !strings.Contains(row, " ago ") || !strings.Contains(row, "connection refused") {
		t.Fatalf("the source row does not say since when and why:\n%s", out)
	}
}

// TestStatusShowsWhatLeavesNext: with a full ring, keyward status (a real
// daemon polling the embedded KMS) names the generation the next rotation
// pushes out, with its recent use read from the daemon's usage table.
func TestStatusShowsWhatLeavesNext(t *testing.T) {
	cfg, _ := kmsDaemon(t, func(src *config.KMIPSource) { src.Applications[0].Generations = 2 })
	var out string
	// The line comes with the first poll, first saying "its recent use is
	// not known yet" until the usage read that follows: wait for the end.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, out, _ = run(t, "--socket", cfg.Socket, "status")
		if strings.Contains(out, "out of the crm ring: no decrypts in the last 7d") {
			break
		}
	}
	if !strings.Contains(out, "out of the crm ring: no decrypts in the last 7d") {
		t.Fatalf("keyward status does not say what leaves next:\n%s", out)
	}
}

// TestRotateAppAgainstAKMS: keyward key rotate-app against a real daemon
// polling the embedded KMS creates the next generation of the ring and
// says which, in words and (--json) as the socket API's object.
func TestRotateAppAgainstAKMS(t *testing.T) {
	cfg, _ := kmsDaemon(t, func(*config.KMIPSource) {})
	var code int
	var out, errs string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, out, errs = run(t, "--socket", cfg.Socket, "key", "rotate-app", "kms", "crm"); code == ExitOK {
			break
		}
	}
	if code != ExitOK || !strings.HasPrefix(out, "rotated kms/crm: acme.crm.key.") || !strings.Contains(out, " (after acme.crm.key.") {
		t.Fatalf("key rotate-app: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "--socket", cfg.Socket, "key", "rotate-app", "kms/crm", "--json")
	var rot api.AppRotation
	if err := json.Unmarshal([]byte(out), &rot); code != ExitOK || err != nil || rot.Source != "kms" || rot.Application != "crm" || rot.Generation == "" || rot.Previous == "" {
		t.Fatalf("key rotate-app --json: exit %d, %v\n%s%s", code, err, out, errs)
	}
}

// TestStatusJSONCarriesThePolls: keyward status --json is the /v1/status
// object with, beside its fields, each KMIP source's latest poll as the
// socket API gives it (its Locates and the Locates it sent again).
func TestStatusJSONCarriesThePolls(t *testing.T) {
	cfg, _ := kmsDaemon(t, func(*config.KMIPSource) {})
	var out string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, out, _ = run(t, "--socket", cfg.Socket, "status", "--json")
		if strings.Contains(out, `"kmip_polls"`) {
			break
		}
	}
	var got struct {
		Keys      int                       `json:"keys"`
		KMIPPolls map[string]map[string]any `json:"kmip_polls"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	p := got.KMIPPolls["kms"]
	if got.Keys < 2 || p == nil || p["locates"] == nil || p["relocates"] != float64(0) || p["matched"] != float64(2) {
		t.Fatalf("status --json: keys %d, kms poll %v\n%s", got.Keys, p, out)
	}
}
