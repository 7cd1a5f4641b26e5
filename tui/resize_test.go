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
	tuitest.WaitLine(t, tm, 5*time.Second, "payments-signing selected", sel)
	tm.Send(tea.WindowSizeMsg{Width: 60, Height: 10})
	// The page of 4 rows that holds it, with it selected.
	tuitest.WaitOutput(t, tm.Output(), 5*time.Second, func() string { return "9–12 of 15 keys, payments-signing selected" }, func(b []byte) bool {
		return strings.Contains(string(b), "9–12 of 15 keys") && sel(selectedLine(ansi.Strip(string(b))))
	})
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	time.Sleep(300 * time.Millisecond)
	view := finalView(t, tm)
	if l := selectedLine(view); !strings.Contains(l, "payments-signing") {
		t.Fatalf("after 60×10 and back to 80×24 the selected row is %q, want payments-signing:\n%s", l, view)
	}
}
