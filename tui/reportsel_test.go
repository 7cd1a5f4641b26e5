package tui_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// The Activity pane keeps the selected row on the same event when a new
// event (newest first, so above it) makes the pane fetch its page again:
// enter then shows the event the cursor was on. The selection used to stay
// on the row number, so it moved to the next older event under the
// operator's cursor.
func TestReportSelectionFollowsItsRow(t *testing.T) {
	f := newFixture()
	var clock atomic.Int64
	clock.Store(fixedNow.UnixNano())
	tm := tuitest.Start(t, f, tui.Options{Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }}, 140, 30)
	openPane(t, tm, "3", "7 events over 31 days")
	press(tm, "j", "j")
	waitFor(t, tm, "› 2026-11-20 13:28 compromised")
	later := fixedNow.Add(2 * time.Hour)
	clock.Store(later.UnixNano())
	f.mu.Lock()
	id := "vault-emu/backup-kek/1"
	f.events[id] = append(f.events[id], engine.Event{ID: 200, Time: later.Add(-time.Minute), KeyID: id, Source: "vault-emu",
		Operation: engine.OpRecovered, Actor: "carol", Origin: engine.OriginKeyward, Details: "recovered after the TUI started"})
	f.mu.Unlock()
	f.notes <- notification(api.NoteActivity, "vault-emu")
	waitFor(t, tm, "recovered after the TUI started", "8 events over 31 days")
	press(tm, "enter")
	waitFor(t, tm, "Entry 4", "marked compromised in the KMS")
}
