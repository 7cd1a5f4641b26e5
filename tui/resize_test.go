package tui_test

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/tui/tuitest"
)

// selectedLine is the last row of view marked as selected (›): in output
// read from the program, the one drawn last.
func selectedLine(view string) string {
	found := ""
	for _, l := range strings.Split(view, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "›") {
			found = l
		}
	}
	return found
}

// TestResizeKeepsTheSelectedKey: a terminal made shorter holds fewer rows,
// so the page is fetched again at the new size; the selected key was
// further down than the new page's end, and the selection fell onto
// another key (acme.crm.key.3 for payments-signing at 60×10), which x then
// acted on. It follows the key across the smaller pages, and stays on it
// when the terminal grows back.
func TestResizeKeepsTheSelectedKey(t *testing.T) {
	f := newFixture()
	tm := startLoaded(t, f, 80, 24)
	tm.Type("jjjjjjjjjjj")
	sel := func(l string) bool {
		return strings.HasPrefix(strings.TrimSpace(l), "›") && strings.Contains(l, "payments-signing")
	}
	tuitest.WaitLine(t, tm, 20*time.Second, "payments-signing selected", sel)
	tm.Send(tea.WindowSizeMsg{Width: 60, Height: 10})
	// The page of 4 rows that holds it, with it selected.
	tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return "9–12 of 15 keys, payments-signing selected" }, func(b []byte) bool {
		return strings.Contains(string(b), "9–12 of 15 keys") && sel(selectedLine(ansi.Strip(string(b))))
	})
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	time.Sleep(300 * time.Millisecond)
	view := finalView(t, tm)
	if l := selectedLine(view); !strings.Contains(l, "payments-signing") {
		t.Fatalf("after 60×10 and back to 80×24 the selected row is %q, want payments-signing:\n%s", l, view)
	}
}

// TestResizeKeepsTheSelectedEntry: the same in a report pane — the
// Activity pane's selected event, past the end of the page a 60×14
// terminal holds, stays selected, and when the terminal grows back.
func TestResizeKeepsTheSelectedEntry(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected")
	press(tm, "3")
	waitFor(t, tm, "TIME", "compromised")
	tm.Type("jjjjjjj")
	sel := func(l string) bool {
		return strings.HasPrefix(strings.TrimSpace(l), "›") && strings.Contains(l, "activated") && strings.Contains(l, "acme.crm.key.4")
	}
	tuitest.WaitLine(t, tm, 20*time.Second, "the activation of acme.crm.key.4 selected", sel)
	tm.Send(tea.WindowSizeMsg{Width: 60, Height: 14})
	tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return "the activation of acme.crm.key.4 still selected at 60×14" }, func(b []byte) bool {
		return sel(selectedLine(ansi.Strip(string(b))))
	})
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	time.Sleep(300 * time.Millisecond)
	view := finalView(t, tm)
	if l := selectedLine(view); !sel(l) {
		t.Fatalf("after 60×14 and back to 80×24 the selected row is %q, want the activation of acme.crm.key.4:\n%s", l, view)
	}
}

// TestTypedConfirmationInAShortTerminal: at 40×10 the delete confirmation
// cut its last lines — the name to type and the field — so the operator
// typed blind and enter deleted. The description gives way instead: the
// field and what is typed stay on screen.
func TestTypedConfirmationInAShortTerminal(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 40, 10, "payments-wrap")
	press(tm, "x", "d", "payments")
	tuitest.WaitLine(t, tm, 20*time.Second, "the typed name in the confirmation's field at 40×10", func(l string) bool {
		return strings.Contains(l, "› payments")
	})
	view := finalView(t, tm)
	checkFrame(t, view, 40, 10)
	if !strings.Contains(view, "Delete") || !strings.Contains(view, "to confirm") {
		t.Errorf("the confirmation lost its title or the line saying what to type:\n%s", view)
	}
	f.wantCalls(t)
}
