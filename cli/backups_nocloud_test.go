package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/vault"
)

// A cloud source removed from keyward.toml after its keys were backed up
// leaves the backups in the database, and the administrator who needs
// them most sees them: a daemon with no cloud source lists them (the
// real daemon, on its socket, through the CLI), and a restore says which
// source it needs. Without the KEK the listing says what holds them.
func TestBackupsListedWithNoCloudSource(t *testing.T) {
	dir := t.TempDir()
	bare := daemontest.NewConfig(dir)
	daemontest.WithKEK(t, bare)
	cfg := *bare // the same data, socket and KEK, and the vault
	daemontest.AzureVault(t, &cfg, "vault", vault.KeySpec{Name: "orders-kek", Versions: 2})
	first := daemontest.Run(t, &cfg, daemon.Options{})
	kw := func(sock string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, append([]string{"--socket", sock}, args...)...)
	}
	if code, out, errs := kw(first.Addr, "sync", "--source", "vault"); code != ExitOK {
		t.Fatalf("sync: exit %d %s%s", code, out, errs)
	}
	code, out, errs := kw(first.Addr, "key", "backup", "vault", "orders-kek")
	if code != ExitOK {
		t.Fatalf("backup: exit %d %s", code, errs)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}

	// The [[azure]] section is gone; the database and the KEK stay.
	second := daemontest.Run(t, bare, daemon.Options{})
	sock := second.Addr
	code, out, errs = kw(sock, "key", "backups")
	if code != ExitOK || !strings.Contains(out, id) || !strings.Contains(out, "orders-kek") {
		t.Fatalf("key backups with no cloud source: exit %d\n%s%s", code, out, errs)
	}
	var list struct {
		Backups []struct{ ID, Source, Key string }
	}
	code, out, _ = kw(sock, "key", "backups", "--json")
	if err := json.Unmarshal([]byte(out), &list); code != ExitOK || err != nil || len(list.Backups) != 1 ||
		list.Backups[0].ID != id || list.Backups[0].Source != "vault" {
		t.Fatalf("key backups --json: exit %d %v %s", code, err, out)
	}
	// Restore needs the vault, and says which one and how to get it back.
	code, _, errs = kw(sock, "key", "restore", id)
	if code == ExitOK || !strings.Contains(errs, `the azure source "vault"`) || !strings.Contains(errs, "[[azure]] section") ||
		!strings.Contains(errs, "--to") {
		t.Errorf("restore with its source gone: exit %d %q", code, errs)
	}
	code, _, errs = kw(sock, "key", "restore", id, "--to", "elsewhere")
	if code == ExitOK || !strings.Contains(errs, `no cloud source named "elsewhere"`) {
		t.Errorf("restore into an unknown source: exit %d %q", code, errs)
	}
	// The other cloud routes still say no cloud source is configured.
	code, _, errs = kw(sock, "key", "backup", "vault", "orders-kek")
	if code == ExitOK || !strings.Contains(errs, "no cloud source is configured") {
		t.Errorf("backup with no cloud source: exit %d %q", code, errs)
	}
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}

	// With keys.kek_file gone too, the listing says the backups are there
	// and what opens them, rather than an empty list.
	noKEK := *bare
	noKEK.Keys.KEKFile = ""
	sock = daemontest.Start(t, &noKEK, daemon.Options{})
	code, out, errs = kw(sock, "key", "backups")
	if code == ExitOK || !strings.Contains(errs, "holds 1 backup") || !strings.Contains(errs, "keys.kek_file") {
		t.Errorf("key backups with no KEK: exit %d %q%q", code, out, errs)
	}
}
