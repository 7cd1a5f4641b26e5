package tui_test

import (
	"testing"

	"github.com/keyward/keyward/engine"
)

// The Activity pane keeps the selected row on the same event when a new
// event (newest first, so above it) makes the pane fetch its page again:
// enter then shows the event the cursor was on. The selection used to stay
// on the row number, so it moved to the next older event under the
// operator's cursor.
func TestReportSelectionFollowsItsRow(t *testing.T) {
	f := newFixture()
	tm, clock := activityOnClock(t, f)
	press(tm, "j", "j")
	waitFor(t, tm, "› 2026-11-20 13:28 compromised")
	eventLater(t, tm, f, clock, "vault-emu/backup-kek/1", engine.OpRecovered, "recovered after the TUI started")
	press(tm, "enter")
	waitFor(t, tm, "Entry 4", "marked compromised in the KMS")
}
