package e2e

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// G against the real daemon (SQLite's reverse order) shows the last page,
// its rows in the list's order, the last key selected; pgup walks back to
// the rows just before it, g returns to the top.
func TestEndAgainstDaemon(t *testing.T) {
	cfg := testConfig(t)
	runDaemon(t, cfg, bulkKeys(100))
	d := newDriver(t, cfg.SocketPath())
	defer d.Model.Close()
	d.Start(80, 24)
	d.Key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'G'}}, d.Model.Active().StatusValue())
	if got := d.Model.Active().StatusValue(); got != "83–100 of 100 keys" {
		t.Fatalf("after G: %q\n%s", got, d.Model.View())
	}
	v := ansi.Strip(d.Model.View())
	// Natural order: bulk.key.81 … bulk.key.99 end the list.
	if !strings.Contains(v, "› bulk.key.99 ") || strings.Index(v, "bulk.key.82 ") > strings.Index(v, "bulk.key.83 ") {
		t.Errorf("the last page is not in order with its last key selected:\n%s", v)
	}
	d.Settle(200 * time.Millisecond) // a refresh the first poll's notification asked for
	d.Key(tea.KeyMsg{Type: tea.KeyPgUp}, d.Model.Active().StatusValue())
	if got := d.Model.Active().StatusValue(); got != "65–82 of 100 keys" {
		t.Errorf("pgup from the end: %q\n%s", got, d.Model.View())
	}
	d.Key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'g'}}, d.Model.Active().StatusValue())
	if got := d.Model.Active().StatusValue(); !strings.HasPrefix(got, "1–18 of 100") {
		t.Errorf("g: %q", got)
	}
}
