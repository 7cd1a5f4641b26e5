package tui_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/engine"
)

// Two versions of one Azure key (32-hex versions) expiring in the aging
// report's range.
const (
	kekV1 = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	kekV2 = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
)

func twoVersionsFixture() *fixture {
	f := newFixture()
	for i, v := range []string{kekV1, kekV2} {
		f.keys = append(f.keys, engine.Key{ID: engine.KeyID("vault-emu", "orders-kek", v), Source: "vault-emu", Name: "orders-kek",
			Version: v, Algorithm: "AES", Length: 256, State: engine.StateActive, Created: at(-20), Activated: at(-20),
			Expires: at(40 + i), Fingerprint: "sha256:" + v[:24], Updated: fixedNow})
	}
	return f
}

// TestAgingShowsVersions: the aging pane tells the two versions apart by
// their version, short as the Keys pane's VER column shows it.
func TestAgingShowsVersions(t *testing.T) {
	f := twoVersionsFixture()
	tm := start(t, f, 80, 24)
	openPane(t, tm, "2", "orders-kek", "0a1b2c3…", "9f8e7d6…")
	view := golden(t, tm, 80, 24)
	if !strings.Contains(view, " VER ") {
		t.Errorf("no version column:\n%s", view)
	}
}

func TestAgingShowsVersionsNoColorGolden(t *testing.T) {
	noColorGoldenOn(t, twoVersionsFixture(), func(t *testing.T, tm *teatest.TestModel) {
		press(tm, "2")
	}, "orders-kek", "0a1b2c3…", "9f8e7d6…")
}
