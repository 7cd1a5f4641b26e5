package tui_test

import (
	"strings"
	"testing"
)

// TestReconnectSaysHowToStart: at 80×24, with the key count on the right,
// the status line of a TUI whose daemon is gone says what to run: the
// reason came after "attempt N, next in Ns", and the cut at 80 columns
// left "daemon not reachable (start it with: k…".
func TestReconnectSaysHowToStart(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "of 15 keys")
	f.down.Store(true)
	f.drop <- struct{}{}
	waitFor(t, tm, "reconnecting…", "daemon not reachable")
	view := finalView(t, tm)
	status := strings.Split(view, "\n")[23]
	if !strings.Contains(status, "daemon not reachable (run: keyward daemon)") || !strings.Contains(status, "of 15 keys") {
		t.Errorf("the status line does not say what to run:\n%q", status)
	}
}
