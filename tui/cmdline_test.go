package tui_test

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// The command line: : with tab completion goes to a pane; a key opened
// from a report returns to the report on esc (the back stack); :key NAME
// opens a key; ↑ brings back the last command; :sync SOURCE syncs.
func TestCommandLine(t *testing.T) {
	f := newFixture()
	tm := startLoaded(t, f, 80, 24)

	press(tm, ":", "ag", "tab")
	waitFor(t, tm, ":aging")
	press(tm, "enter")
	waitFor(t, tm, "2026-08-25 → 2027-02-21")
	press(tm, "enter", "enter") // an entry, then its key
	waitFor(t, tm, "(esc back)")
	press(tm, "esc")
	waitFor(t, tm, "2026-08-25 → 2027-02-21")

	press(tm, ":", "key acme.hr.key.1", "enter")
	waitFor(t, tm, "tag owner=hr-platform")
	press(tm, "esc", ":")
	tm.Send(tea.KeyMsg{Type: tea.KeyUp})
	waitFor(t, tm, ":key acme.hr.key.1")
	press(tm, "esc")

	press(tm, ":", "sy", "tab", "v", "tab")
	waitFor(t, tm, ":sync vault-emu")
	press(tm, "enter")
	waitFor(t, tm, "✔ synced vault-emu")
	press(tm, ":", "nonsense", "enter")
	waitFor(t, tm, "unknown command nonsense")
	view := golden(t, tm, 80, 24)
	f.wantCalls(t, `sync "vault-emu"`)
	if !strings.Contains(view, "unknown command nonsense") {
		t.Errorf("an unknown command is not said:\n%s", view)
	}
}

// TestCommandLineKnowsEveryPane: tab completes every pane's name — the
// Schedules pane's too (the verbs were a list written before it came, so
// :sch⏎tab stayed :sch) — and an unknown command lists it.
func TestCommandLineKnowsEveryPane(t *testing.T) {
	f := newFixture()
	tm := startLoaded(t, f, 80, 24)
	press(tm, ":", "sch", "tab")
	waitFor(t, tm, ":schedules")
	press(tm, "enter")
	waitFor(t, tm, "NEXT RUN")
	press(tm, ":", "nonsense", "enter")
	waitFor(t, tm, "unknown command nonsense", "schedules, key, sync")
	_ = finalView(t, tm)
}

// esc on a key opened from a report returns to that report, not to the
// key list.
func TestBackStack(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	openPane(t, tm, "3", "bob")
	press(tm, "enter", "enter")
	waitFor(t, tm, "kms-prod/acme.hr.key.2/1  (esc back)")
	press(tm, "esc")
	waitFor(t, tm, "events over")
	view := finalView(t, tm)
	if !strings.Contains(view, "events over") || strings.Contains(view, "NAME") {
		t.Errorf("esc did not return to the Activity pane:\n%s", view)
	}
}
