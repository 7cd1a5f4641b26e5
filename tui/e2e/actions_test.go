package e2e

import (
	"context"
	"errors"
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
	// The daemon wires [[azure]] sources and mounts /v1/cloud/ itself; a
	// daemon built before that wiring gets them as options instead.
	stop := startWith(t, cfg, daemon.Options{})
	_, err = api.NewClient(cfg.SocketPath()).CloudSources(context.Background())
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeNotFound {
		stop()
		conn, err := azure.New(az)
		if err != nil {
			t.Fatal(err)
		}
		src := cloud.NewSyncSource("vault", conn, time.Hour, nil)
		mgr := cloud.NewManager(nil, nil, src)
		startWith(t, cfg, daemon.Options{Sources: []sources.Source{src},
			Mounts: []daemon.Mount{{Pattern: "/v1/cloud/", Handler: mgr.Handler(api.CallerFromContext)}}})
	} else if err != nil {
		t.Fatalf("GET /v1/cloud/sources: %v", err)
	}
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
	// The Activity pane has the rotation, done through keyward (a table
	// line, not the status line's "✔ rotated …").
	tm.Type("3")
	activity := func(l string) bool {
		return strings.Contains(l, "rotated") && strings.Contains(l, "keyward") && !strings.Contains(l, "✔")
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, l := range strings.Split(string(b), "\n") {
			if activity(l) {
				return true
			}
		}
		return false
	}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	_ = tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
}
