// Package e2e tests keyward's TUI against the real daemon: in-process, on a
// real Unix socket and a real SQLite file in a temp dir, through the real
// socket API client. It is a separate package so that the TUI's own tests do
// not depend on the daemon building.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	os.Exit(m.Run())
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// runDaemon starts a daemon on cfg serving keys from a seed source, waits
// until its inventory holds them, and returns a function that stops it (and
// waits until it has).
func runDaemon(tb testing.TB, cfg *config.Config, keys []engine.Key) (stop func()) {
	tb.Helper()
	stop = startWith(tb, cfg, daemon.Options{
		Sources: []sources.Source{seed.New("acme-kms", keys)},
		Now:     func() time.Time { return now },
	})
	c := api.NewClient(cfg.SocketPath())
	var st *api.Status
	var err error
	testkit.Eventually(tb, 60*time.Second, fmt.Sprintf("the daemon's inventory to reach %d keys", len(keys)), func() bool {
		st, err = c.Status(context.Background())
		return err == nil && st.Keys >= len(keys)
	}, func() string {
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d keys", st.Keys)
	})
	return stop
}

// startWith runs a daemon and returns a function that stops it and waits.
func startWith(tb testing.TB, cfg *config.Config, opts daemon.Options) (stop func()) {
	tb.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	r := daemontest.Run(tb, cfg, opts)
	return func() { _ = r.Stop() }
}

func testConfig(tb testing.TB) *config.Config {
	dir := tb.TempDir()
	cfg := daemontest.NewConfig(dir)
	return cfg
}

func waitFor(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	tuitest.WaitFor(t, tm, 15*time.Second, want...)
}

// TestTUIAgainstDaemon: the seeded keys show, a key's detail shows its
// activity from the daemon's log, and when the daemon stops the status line
// says "reconnecting…" until a new daemon answers on the socket, then says it
// reconnected and shows the keys again.
func TestTUIAgainstDaemon(t *testing.T) {
	cfg := testConfig(t)
	keys := seed.AcmeKeys("acme-kms", now)
	stop := runDaemon(t, cfg, keys)

	tm := tuitest.Start(t, api.NewClient(cfg.SocketPath()), tui.Options{
		Title: "keyward e2e", Socket: cfg.SocketPath(), Now: func() time.Time { return now },
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}, 120, 30)
	waitFor(t, tm, "● connected", "acme.crm.key.0", fmt.Sprintf("of %d keys", len(keys)))

	// The key's detail comes from GET /v1/keys/{id} with its activity.
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "acme-kms/acme.backup.kek", "Activity", "discovered", "AES-256 pre-active")

	stop()
	waitFor(t, tm, "reconnecting…", "daemon not reachable")
	runDaemon(t, cfg, keys)
	waitFor(t, tm, "reconnected 12:00:00")

	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'5'}})
	waitFor(t, tm, "acme-kms", "● ok")

	// The report panes read the daemon's report endpoints.
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'2'}})
	waitFor(t, tm, "2026-08-25 → 2027-02-21", "total", "MILESTONE")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'3'}})
	waitFor(t, tm, "events over", "OPERATION")
	view := tuitest.Quit(t, tm, 10*time.Second).View()
	status := view[strings.LastIndex(view, "\n")+1:]
	if !strings.Contains(status, "● connected") || !strings.Contains(status, "reconnected 12:00:00") {
		t.Errorf("status line after the daemon came back: %q", status)
	}
}
