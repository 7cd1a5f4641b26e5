package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// startVaultDaemon runs a real daemon on a real socket with one [[azure]]
// source pointing at the emulated Key Vault (served over HTTPS on
// 127.0.0.1, the real azkeys client talking to it) and the cloud routes
// mounted under /v1/cloud/ as the daemon wires them.
func startVaultDaemon(t *testing.T) (*config.Config, *vault.Server) {
	t.Helper()
	cfg, srvs := startVaultsDaemon(t, "vault")
	return cfg, srvs[0]
}

// startVaultsDaemon is startVaultDaemon with one emulated vault per name
// (all of the same geography, so a backup of one restores into another)
// and a key-encryption key, so the daemon can keep backups. The first
// vault holds the key orders-kek.
func startVaultsDaemon(t *testing.T, names ...string) (*config.Config, []*vault.Server) {
	t.Helper()
	cfg := testConfig(t)
	daemontest.WithKEK(t, cfg)
	var srvs []*vault.Server
	for i, name := range names {
		var keys []vault.KeySpec
		if i == 0 {
			keys = append(keys, vault.KeySpec{Name: "orders-kek", Versions: 1})
		}
		srvs = append(srvs, daemontest.AzureVault(t, cfg, name, keys...))
	}
	// The daemon wires [[azure]] sources and mounts /v1/cloud/ itself.
	startWith(t, cfg, daemon.Options{})
	return cfg, srvs
}

// TestRotateFromTUIAgainstVault: x, r, enter in the Keys pane rotates a key
// in the (emulated) vault through the real daemon; the vault holds a second
// version, the daemon's "keys" notification makes the pane show it, and the
// key's activity lists the rotation with the caller.
func TestRotateFromTUIAgainstVault(t *testing.T) {
	cfg, srv := startVaultDaemon(t)
	tm := tuitest.Start(t, api.NewClient(cfg.SocketPath()), tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath()}, 120, 30)
	// The vault holds one key: the first sync brings it in.
	waitFor(t, tm, "● connected", "orders-kek", "1–1 of 1 key ")
	tm.Type("x")
	waitFor(t, tm, "Actions — orders-kek in vault", "[r] rotate")
	tm.Type("r")
	waitFor(t, tm, "Rotate orders-kek in vault?")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "✔ rotated orders-kek in vault: 2 versions", "1–2 of 2 keys")
	if v := srv.Versions("orders-kek"); len(v) != 2 {
		t.Fatalf("the vault holds %d versions of orders-kek after the rotation, want 2", len(v))
	}
	// The Activity pane has the rotation, done through keyward (a table
	// line, not the status line's "✔ rotated …").
	tm.Type("3")
	activity := func(l string) bool {
		return strings.Contains(l, "rotated") && strings.Contains(l, "keyward") && !strings.Contains(l, "✔")
	}
	tuitest.WaitLine(t, tm, 15*time.Second, "the rotation, done through keyward, in the Activity pane", activity)
	tuitest.Quit(t, tm, 10*time.Second)
}

// TestBackupsFromTUIAgainstVault: against the real daemon and two emulated
// vaults of one geography, a backup of orders-kek taken in vault is listed
// by B; the key, purged from vault, comes back from the list into vault;
// restored into vault-dr, which never held it, it appears there too; and
// deleting the backup (the key's name typed again) leaves the daemon with
// no backup.
func TestBackupsFromTUIAgainstVault(t *testing.T) {
	cfg, srvs := startVaultsDaemon(t, "vault", "vault-dr")
	c := api.NewClient(cfg.SocketPath())
	ctx := context.Background()
	waitKey := func(source string, want engine.State) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			page, err := c.Keys(ctx, api.KeyQuery{Source: source, Text: "orders-kek"})
			if err == nil && len(page.Keys) > 0 && page.Keys[0].State == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("orders-kek never %s in %s", want, source)
	}
	waitKey("vault", engine.StateActive)
	bk, err := c.BackupCloudKey(ctx, "vault", "orders-kek")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"delete", "purge"} {
		if _, err := c.CloudKeyOp(ctx, "vault", "orders-kek", op, "orders-kek"); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	waitKey("vault", engine.StatePurged)
	if v := srvs[0].Versions("orders-kek"); len(v) != 0 {
		t.Fatalf("the vault still holds orders-kek after the purge: %v", v)
	}

	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath()}, 120, 30)
	waitFor(t, tm, "● connected", "orders-kek", "purged")
	enter := tea.KeyMsg{Type: tea.KeyEnter}

	// Back into the vault it was purged from.
	tm.Type("B")
	waitFor(t, tm, "Stored backups (1)", "orders-kek · from vault · 1 version")
	tm.Send(enter)
	waitFor(t, tm, "Backup "+bk.ID+" of orders-kek", "[s] restore into vault (where it was taken)", "restore into vault-dr")
	tm.Type("s")
	waitFor(t, tm, "Restore orders-kek into vault?")
	tm.Send(enter)
	waitFor(t, tm, "✔ restored orders-kek into vault from backup "+bk.ID)
	if v := srvs[0].Versions("orders-kek"); len(v) != 1 {
		t.Fatalf("the vault holds %d versions of orders-kek after the restore, want 1", len(v))
	}
	waitKey("vault", engine.StateActive)

	// Into vault-dr, whose inventory never held the key.
	tm.Type("B")
	waitFor(t, tm, "Stored backups (1)")
	tm.Send(enter)
	waitFor(t, tm, "restore into vault-dr")
	tm.Send(tea.KeyMsg{Type: tea.KeyDown})
	tm.Send(enter)
	waitFor(t, tm, "Restore orders-kek into vault-dr?")
	tm.Send(enter)
	waitFor(t, tm, "✔ restored orders-kek into vault-dr from backup "+bk.ID, "vault-dr")
	waitKey("vault-dr", engine.StateActive)
	if v := srvs[1].Versions("orders-kek"); len(v) != 1 {
		t.Fatalf("vault-dr holds %d versions of orders-kek, want 1", len(v))
	}

	// Delete the backup.
	tm.Type("B")
	waitFor(t, tm, "Stored backups (1)")
	tm.Send(enter)
	waitFor(t, tm, "[d] delete this backup from keyward")
	tm.Type("d")
	waitFor(t, tm, "Delete backup "+bk.ID+" of orders-kek (vault)?", "Type orders-kek to confirm")
	tm.Type("orders-kek")
	tm.Send(enter)
	waitFor(t, tm, "✔ deleted backup "+bk.ID+" of orders-kek (vault)", "Stored backups (0)", "keyward stores no key backup")
	tuitest.Quit(t, tm, 10*time.Second)
	if left, err := c.CloudBackups(ctx); err != nil || len(left) != 0 {
		t.Errorf("backups left in the daemon: %v %v", left, err)
	}
}
