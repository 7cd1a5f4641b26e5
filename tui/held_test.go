package tui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// withBulk is the fixture with 30 more KMIP keys, bulk.key.00 to .29, which
// sort after backup-kek: rows 10 to 39 of the list by name.
func withBulk() *fixture {
	f := newFixture()
	f.mu.Lock()
	base := f.keys[0]
	for i := range 30 {
		k := base
		k.Name = fmt.Sprintf("bulk.key.%02d", i)
		k.ID = engine.KeyID(k.Source, k.Name, "1")
		f.keys = append(f.keys, k)
	}
	f.mu.Unlock()
	return f
}

// TestBurstAcrossAPageActsOnTheKeyReached: 21 j and an x typed as one read
// (a held key over SSH, tmux send-keys -l) from the first row of pages of
// 18. The j that leaves the page asks for the next one; the keys after it
// arrived while it loaded and were dropped (j) or acted on the old page's
// last row (x named bulk.key.07, not the key the j's reached). They wait
// for the page now: the 22nd row, bulk.key.11, is selected and x is about
// it.
func TestBurstAcrossAPageActsOnTheKeyReached(t *testing.T) {
	f := withBulk()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "1–18 of 45 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(strings.Repeat("j", 21) + "x")})
	tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return "bulk.key.11 selected on 19–36 and x about it" }, func(b []byte) bool {
		s := ansi.Strip(string(b))
		return strings.Contains(s, "19–36 of 45 keys") && strings.Contains(selectedLine(s), "bulk.key.11") &&
			strings.Contains(s, "bulk.key.11 comes from kms-prod")
	})
	view := finalView(t, tm)
	if strings.Contains(view, "bulk.key.07 comes from") {
		t.Fatalf("x acted on bulk.key.07, the old page's last row:\n%s", view)
	}
}

// TestReportBurstAcrossAPage: the same in the Activity pane — 29 j in one
// read from the first row cross a page of events; the ones typed while
// the next page loaded were dropped, so the selection stopped on the new
// page's first row. Events are newest first: bulk event 29 on the first
// row, bulk event 0 on the 30th.
func TestReportBurstAcrossAPage(t *testing.T) {
	f := withBulk()
	f.mu.Lock()
	for i := range 30 {
		id := f.keys[len(f.keys)-30+i].ID
		f.events[id] = append(f.events[id], engine.Event{ID: int64(1000 + i), Time: fixedNow.Add(-time.Duration(30-i) * time.Minute),
			KeyID: id, Source: "kms-prod", Operation: engine.OpEdited, Actor: "bulk", Origin: engine.OriginKeyward,
			Details: fmt.Sprintf("bulk event %02d", i)})
	}
	f.mu.Unlock()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected")
	press(tm, "3")
	waitFor(t, tm, "bulk event 29")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(strings.Repeat("j", 29))})
	tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return "bulk.key.00 (bulk event 00) selected" }, func(b []byte) bool {
		return strings.Contains(selectedLine(ansi.Strip(string(b))), "bulk.key.00")
	})
	_ = finalView(t, tm)
}

// slowFind answers a lookup by name (a Keys query with text) after a
// while, as a daemon under load does.
type slowFind struct{ *fixture }

func (b slowFind) Keys(ctx context.Context, q api.KeyQuery) (*api.KeysPage, error) {
	if q.Text != "" {
		time.Sleep(300 * time.Millisecond)
	}
	return b.fixture.Keys(ctx, q)
}

// TestCommandKeyThenActionActsOnThatKey: ":key payments-wrap", enter and x
// typed as one read. The lookup was under way when x came, so x opened the
// actions of the row selected in the list (acme.crm.key.0) — the wrong
// key. Keys typed while a key is looked up, then read, wait for it: x is
// about payments-wrap. A name that opens no key drops what was typed after
// it, saying so.
func TestCommandKeyThenActionActsOnThatKey(t *testing.T) {
	f := newFixture()
	tm := startWith(t, slowFind{f}, 80, 24, tui.Options{})
	waitFor(t, tm, "● connected", "of 15 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(":key payments-wrap")})
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("x")})
	waitFor(t, tm, "Actions — payments-wrap in vault-emu")

	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(":key no-such-key")})
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("x")})
	tuitest.WaitLine(t, tm, 20*time.Second, "no such key, and the x typed after it dropped, said", func(l string) bool {
		return strings.Contains(l, "1 key typed") || strings.Contains(l, "1 keys typed")
	})
	view := finalView(t, tm)
	if strings.Contains(view, "Actions —") || strings.Contains(view, "not a cloud vault") {
		t.Fatalf("the x typed after a :key that opened nothing acted on the screen:\n%s", view)
	}
}
