package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/azure"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// TestBackupsFromTUIWithNoCloudSource: a backup taken through the real
// daemon stays in the TUI's stored-backups list (B) once its [[azure]]
// section is removed from the configuration and the daemon restarted with
// no cloud source; the backup's menu says no configured vault can take it
// back (the daemon answered the list with "no cloud source is
// configured… nothing to act on").
func TestBackupsFromTUIWithNoCloudSource(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := vault.Start(ctx, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.AddKey(vault.KeySpec{Name: "orders-kek", Versions: 1}); err != nil {
		t.Fatal(err)
	}
	caFile, tokenFile, err := srv.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Keys.KEKFile = filepath.Join(t.TempDir(), "kek")
	if err := kek.Generate(cfg.Keys.KEKFile); err != nil {
		t.Fatal(err)
	}
	bare := *cfg // the same data, socket and KEK, no cloud section
	az := azure.EmulatorSettings("vault", srv.URL, caFile, tokenFile, srv.Geography())
	cfg.AddSource("azure", &az)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	stop := startWith(t, cfg, daemon.Options{})
	c := api.NewClient(cfg.SocketPath())
	var bk *api.BackupInfo
	testkit.Eventually(t, 30*time.Second, "a backup of orders-kek", func() bool {
		bk, err = c.BackupCloudKey(ctx, "vault", "orders-kek")
		return err == nil
	}, func() string { return err.Error() })
	stop()

	startWith(t, &bare, daemon.Options{})
	tm := tuitest.Start(t, api.NewClient(bare.SocketPath()), tui.Options{Title: "keyward e2e", Socket: bare.SocketPath()}, 120, 30)
	waitFor(t, tm, "● connected")
	tm.Type("B")
	waitFor(t, tm, "Stored backups (1)", "orders-kek · from vault")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "Backup "+bk.ID+" of orders-kek", "No configured vault can take it back",
		"Vault vault is not configured: add its [[azure]] section back", "[d] delete this backup from keyward")
	tuitest.Quit(t, tm, 10*time.Second)
}
