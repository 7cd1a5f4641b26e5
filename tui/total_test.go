package tui_test

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/engine"
)

// pagedFixture is the fixture with n more keys of one source, so that the
// Keys pane at 80×24 (18 rows) has a second page.
func pagedFixture(n int) *fixture {
	f := newFixture()
	for i := range n {
		f.keys = append(f.keys, bulkKey(i))
	}
	return f
}

func bulkKey(i int) engine.Key {
	name := fmt.Sprintf("zz.bulk.%02d", i)
	return engine.Key{ID: engine.KeyID("demo", name, "1"), Source: "demo", Name: name, Version: "1",
		Algorithm: "AES", Length: 256, State: engine.StateActive, Created: at(-50 - i), Activated: at(-50 - i),
		Expires: at(300 + i), Fingerprint: fmt.Sprintf("sha256:%024x", i), Updated: fixedNow, Application: "acme"}
}

// restartOnSecondPage shows the second page, then takes the daemon away
// and brings it back with one key more: the page the daemon answers after
// its hello has no total (it counts first pages only), so the status line
// shows the new total only if the pane counted again.
func restartOnSecondPage(t *testing.T, f *fixture, tm *teatest.TestModel) {
	t.Helper()
	press(tm, "pgdown")
	waitFor(t, tm, "19–36 of 40 keys")
	f.down.Store(true)
	f.drop <- struct{}{}
	waitFor(t, tm, "reconnecting…")
	f.mu.Lock()
	f.keys = append(f.keys, bulkKey(25))
	f.mu.Unlock()
	f.down.Store(false)
}

// TestTotalAfterReconnect: after the daemon came back the status line shows
// the total again, counted anew (41, not the 40 from before), without g.
func TestTotalAfterReconnect(t *testing.T) {
	f := pagedFixture(25)
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "1–18 of 40 keys")
	restartOnSecondPage(t, f, tm)
	waitFor(t, tm, "reconnected 12:00:00", "19–36 of 41 keys")
	golden(t, tm, 80, 24)
}

func TestTotalAfterReconnectNoColorGolden(t *testing.T) {
	f := pagedFixture(25)
	noColorGoldenOn(t, f, func(t *testing.T, tm *teatest.TestModel) {
		restartOnSecondPage(t, f, tm)
	}, "reconnected 12:00:00", "19–36 of 41 keys")
}

// TestTotalAfterNotificationOnLaterPage: a change notified while a later
// page is on screen is counted again too (the page asked again has no
// total).
func TestTotalAfterNotificationOnLaterPage(t *testing.T) {
	f := pagedFixture(25)
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "1–18 of 40 keys")
	press(tm, "pgdown")
	waitFor(t, tm, "19–36 of 40 keys")
	f.mu.Lock()
	f.keys = append(f.keys, bulkKey(25), bulkKey(26))
	f.mu.Unlock()
	f.notes <- notification("keys", "demo")
	waitFor(t, tm, "19–36 of 42 keys")
}
