package tui_test

import (
	"strings"
	"testing"
)

// Filters cycle both ways (F O A go backwards) and esc clears them all.
func TestFiltersBothWaysAndClearAll(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	waitFor(t, tm, "acme.crm.key.0", "● connected", "of 15 keys")
	press(tm, "F") // all → the last state
	waitFor(t, tm, "state purged")
	press(tm, "F") // → the one before
	waitFor(t, tm, "state destroyed")
	press(tm, "f", "f") // forwards: purged, then all again
	waitFor(t, tm, "of 15 keys")
	press(tm, "O") // the last source
	waitFor(t, tm, "source demo")
	press(tm, "A") // the last bucket
	waitFor(t, tm, "aging retired")
	press(tm, "F", "/", "key", "enter")
	waitFor(t, tm, `filter "key"`)
	press(tm, "esc")
	waitFor(t, tm, "of 15 keys")
	view := golden(t, tm, 80, 24)
	if line := strings.Split(view, "\n")[2]; strings.TrimSpace(line) != "sort name ↑" {
		t.Errorf("esc left a filter on: %q", line)
	}
}

// O goes backwards through the sources in the report panes too.
func TestReportSourceBackwards(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	waitFor(t, tm, "● connected")
	press(tm, "2", "O")
	waitFor(t, tm, "source demo")
	press(tm, "O")
	waitFor(t, tm, "source vault-emu")
	_ = finalView(t, tm)
}
