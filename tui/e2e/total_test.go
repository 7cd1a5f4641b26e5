package e2e

import (
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// TestTotalAfterDaemonRestart: on the second page, the daemon stops and a
// new one starts on the same database with one key more. The page it
// answers after the hello is not counted (a later page): the status line
// must show the new total (101) without g, counted again after the hello
// and after the new key's notification.
func TestTotalAfterDaemonRestart(t *testing.T) {
	cfg := testConfig(t)
	stop := runDaemon(t, cfg, bulkKeys(100))
	tm := tuitest.Start(t, api.NewClient(cfg.SocketPath()), tui.Options{
		Title: "keyward e2e", Socket: cfg.SocketPath(), Now: func() time.Time { return now },
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}, 120, 24)
	waitFor(t, tm, "● connected", "1–18 of 100 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyPgDown})
	waitFor(t, tm, "19–36 of 100 keys")

	stop()
	waitFor(t, tm, "reconnecting…")
	runDaemon(t, cfg, bulkKeys(101))
	waitFor(t, tm, "reconnected 12:00:00", "19–36 of 101 keys")
}
