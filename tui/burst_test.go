package tui_test

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/tui"
)

// burst sends runes in one key message, as bubbletea does for keys that
// arrive in one read: a paste, a fast typist, a key held over SSH, tmux
// send-keys -l.
func burst(tm *teatest.TestModel, s string) {
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)})
}

// selectedRow is the index, among the table's rows under the header, of the
// row drawn with the selection marker.
func selectedRow(t *testing.T, view string) int {
	t.Helper()
	lines := strings.Split(view, "\n")
	header := -1
	for i, l := range lines {
		if header < 0 && strings.Contains(l, "NAME") {
			header = i
			continue
		}
		if header >= 0 && strings.HasPrefix(l, "›") {
			return i - header - 1
		}
	}
	t.Fatalf("no selected row:\n%s", view)
	return -1
}

func TestBurstMovesTheCursor(t *testing.T) {
	tm := startLoaded(t, newFixture(), 120, 30)
	burst(tm, "jjj")
	burst(tm, "jjk") // down, down, up: one more
	view := finalView(t, tm)
	if got := selectedRow(t, view); got != 4 {
		t.Errorf("after \"jjj\" and \"jjk\" in two messages the cursor is on row %d, want 4:\n%s", got, view)
	}
}

func TestBurstCyclesTheSort(t *testing.T) {
	tm := startLoaded(t, newFixture(), 120, 30)
	burst(tm, "ssss") // name → source → state → created → expires
	waitFor(t, tm, "sort expires")
	_ = finalView(t, tm)
}

// A burst that opens the filter is text from there on: "/pay" filters on
// "pay", as when typed slowly.
func TestBurstOpensFilterAndTypes(t *testing.T) {
	tm := startLoaded(t, newFixture(), 120, 30)
	burst(tm, "/pay")
	waitFor(t, tm, "1–2 of 2 keys")
	_ = finalView(t, tm)
}

// A paste into a dialog's text field arrives whole, as text: j and k in it
// are letters, not moves.
func TestPasteIntoDialogField(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "n")
	waitFor(t, tm, "New key in vault-emu")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jk-orders-kek"), Paste: true})
	press(tm, "enter", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "✔ created jk-orders-kek in vault-emu")
	_ = finalView(t, tm)
	if c := f.Calls(); len(c) != 1 || !strings.HasPrefix(c[0], "create vault-emu/jk-orders-kek ") {
		t.Errorf("requests: %q", c)
	}
}

// Typed fast in the delete confirmation, the key's name is text too.
func TestBurstIntoConfirmation(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x")
	waitFor(t, tm, "delete")
	press(tm, "d")
	waitFor(t, tm, "Type payments-wrap to confirm")
	burst(tm, "payments-wrap")
	press(tm, "enter")
	waitCalls(t, f, 1)
	_ = finalView(t, tm)
	if c := f.Calls(); len(c) != 1 || !strings.Contains(c[0], "delete") {
		t.Errorf("requests: %q", c)
	}
}

// NO_COLOR (Options.NoColor, set by Run) draws with the colourless styles,
// whose selection is reverse video rather than a background colour.
func TestNoColorOptionUsesColourlessStyles(t *testing.T) {
	m := tui.New(context.Background(), newFixture(), tui.Options{NoColor: true})
	defer m.Close()
	st := m.Context().Styles
	if !st.RowSelected.GetReverse() {
		t.Errorf("selected rows are not reversed without colour")
	}
	if _, ok := st.RowSelected.GetBackground().(lipgloss.NoColor); !ok {
		t.Errorf("selected rows have a background colour: %v", st.RowSelected.GetBackground())
	}
}

// Pasted text is never run as commands: where no text field has the focus
// a paste is ignored, and the status line says so.
func TestPasteOutsideATextFieldIsIgnored(t *testing.T) {
	f := newFixture()
	tm := startLoaded(t, f, 120, 30)
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjjY"), Paste: true})
	waitFor(t, tm, "pasted text ignored")
	view := finalView(t, tm)
	if got := selectedRow(t, view); got != 0 {
		t.Errorf("a paste moved the cursor to row %d:\n%s", got, view)
	}
	f.wantCalls(t)
}
