package e2e

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/azure"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/tui"
)

// startVaultDaemon runs a real daemon on a real socket with one [[azure]]
// source pointing at the emulated Key Vault (served over HTTPS on
// 127.0.0.1, the real azkeys client talking to it) and the cloud routes
// mounted under /v1/cloud/ as the daemon wires them.
func startVaultDaemon(t *testing.T) (*config.Config, *vault.Server) {
	t.Helper()
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
	cfg := testConfig(t)
	az, err := srv.AzureSource("vault", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Azure = []config.AzureSource{az}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, err := azure.New(az)
	if err != nil {
		t.Fatal(err)
	}
	src := cloud.NewSyncSource("vault", conn, time.Hour, nil)
	mgr := cloud.NewManager(nil, nil, src)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, cfg, daemon.Options{
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			Sources: []sources.Source{src},
			Mounts:  []daemon.Mount{{Pattern: "/v1/cloud/", Handler: mgr.Handler(api.CallerFromContext)}},
			Ready:   func(s string) { ready <- s },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("daemon not ready after 60s")
	}
	t.Cleanup(func() { cancel(); <-done })
	return cfg, srv
}

// TestRotateFromTUIAgainstVault: x, r, enter in the Keys pane rotates a key
// in the (emulated) vault through the real daemon; the vault holds a second
// version, the daemon's "keys" notification makes the pane show it, and the
// key's activity lists the rotation with the caller.
func TestRotateFromTUIAgainstVault(t *testing.T) {
	cfg, srv := startVaultDaemon(t)
	m := tui.New(context.Background(), api.NewClient(cfg.SocketPath()), tui.Options{
		Title: "keyward e2e", Socket: cfg.SocketPath(),
	})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	t.Cleanup(func() { _ = tm.Quit() })
	// The vault holds one key: the first sync brings it in.
	waitFor(t, tm, "● connected", "orders-kek", "1–1 of 1 keys")
	tm.Type("x")
	waitFor(t, tm, "Actions — orders-kek in vault", "[r] rotate")
	tm.Type("r")
	waitFor(t, tm, "Rotate orders-kek in vault?")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "✔ rotated orders-kek in vault: 2 versions", "1–2 of 2 keys")
	if v := srv.Versions("orders-kek"); len(v) != 2 {
		t.Fatalf("the vault holds %d versions of orders-kek after the rotation, want 2", len(v))
	}
	// The Activity pane has the rotation, done through keyward.
	tm.Type("3")
	waitFor(t, tm, "rotated", "orders-kek")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	view := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).View()
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "rotated") && strings.Contains(l, "keyward") {
			return
		}
	}
	t.Errorf("no activity line shows the rotation made through keyward:\n%s", view)
}
