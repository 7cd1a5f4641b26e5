package e2e

import (
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// TestBackupsFromTUIWithNoCloudSource: a backup taken through the real
// daemon stays in the TUI's stored-backups list (B) once its [[azure]]
// section is removed from the configuration and the daemon restarted with
// no cloud source; the backup's menu says no configured vault can take it
// back (the daemon used to answer the list with "no cloud source is
// configured… nothing to act on").
func TestBackupsFromTUIWithNoCloudSource(t *testing.T) {
	ctx := context.Background()
	bare := testConfig(t)
	daemontest.WithKEK(t, bare)
	cfg := *bare // the same data, socket and KEK, and the vault
	daemontest.AzureVault(t, &cfg, "vault", vault.KeySpec{Name: "orders-kek", Versions: 1})
	stop := startWith(t, &cfg, daemon.Options{})
	c := api.NewClient(cfg.SocketPath())
	var bk *api.BackupInfo
	var err error
	testkit.Eventually(t, 30*time.Second, "a backup of orders-kek", func() bool {
		bk, err = c.BackupCloudKey(ctx, "vault", "orders-kek")
		return err == nil
	}, func() string { return err.Error() })
	stop()

	startWith(t, bare, daemon.Options{})
	tm := tuitest.Start(t, api.NewClient(bare.SocketPath()), tui.Options{Title: "keyward e2e", Socket: bare.SocketPath()}, 120, 30)
	waitFor(t, tm, "● connected")
	tm.Type("B")
	waitFor(t, tm, "Stored backups (1)", "orders-kek · from vault")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "Backup "+bk.ID+" of orders-kek", "No configured vault can take it back",
		"Vault vault is not configured: add its [[azure]] section back", "[d] delete this backup from keyward")
	tuitest.Quit(t, tm, 10*time.Second)
}
