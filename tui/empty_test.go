package tui_test

import (
	"testing"
)

// TestEmptyInventoryNamesEveryKind: a daemon with no source and no key
// (a first start) — the Keys pane says the inventory is empty, and the
// Sources pane names every section that adds one; it named [[kmip]] and
// [[azure]] only, so an AWS or Google administrator read that keyward
// could not read their cloud.
func TestEmptyInventoryNamesEveryKind(t *testing.T) {
	f := newFixture()
	f.mu.Lock()
	f.keys, f.sources = nil, nil
	f.mu.Unlock()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "the inventory is empty")
	press(tm, "5")
	waitFor(t, tm, "no sources: add [[kmip]], [[azure]], [[aws]] or [[gcp]] to keyward.toml")
	checkFrame(t, finalView(t, tm), 80, 24)
}
