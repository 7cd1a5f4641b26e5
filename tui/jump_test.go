package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// sourceHealth gives vault-emu a health history in the activity log: an
// outage, its recovery, the outage now.
func sourceHealth(f *fixture) {
	ev := func(id int64, days int, op, details string) engine.Event {
		return engine.Event{ID: id, Time: fixedNow.Add(time.Duration(days) * 24 * time.Hour), Source: "vault-emu",
			Operation: op, Actor: "keyward", Origin: engine.OriginSystem, Details: details}
	}
	f.events["source:vault-emu"] = []engine.Event{
		ev(300, -10, engine.OpOutage, "dial tcp: i/o timeout"),
		ev(301, -9, engine.OpRecovery, ""),
		ev(302, -1, engine.OpOutage, "403 Forbidden: the client lacks the keys/list permission"),
	}
}

// onPane starts the TUI at 80×24 and goes to pane n, waiting for want.
func onPane(t *testing.T, f *fixture, n string, want ...string) *teatest.TestModel {
	t.Helper()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected")
	press(tm, n)
	waitFor(t, tm, want...)
	return tm
}

// onSources starts the TUI at 80×24 on the Sources pane.
func onSources(t *testing.T, f *fixture) *teatest.TestModel {
	t.Helper()
	return onPane(t, f, "5", "DEGRADED", "encrypts")
}

// Enter on a Sources row opens the source: its statistics and health
// history; K lists its keys in the Keys pane, and esc comes back.
func TestSourceOpens(t *testing.T) {
	f := newFixture()
	sourceHealth(f)
	tm := onSources(t, f)
	press(tm, "j", "enter")
	waitFor(t, tm, "source vault-emu", "Health history", "dial tcp: i/o timeout")
	press(tm, "K")
	waitFor(t, tm, "source vault-emu", "of 3 keys")
	press(tm, "esc")
	waitFor(t, tm, "Health history")
	golden(t, tm, 80, 24)
}

// A ring generation opens its key; the key opens its source; esc walks
// back: the key, then the Sources pane.
func TestJumpGenerationKeySource(t *testing.T) {
	tm := onSources(t, newFixture())
	press(tm, "G", "enter") // the ring's last generation, acme.crm.key.0
	waitFor(t, tm, "kms-prod/acme.crm.key.0/1", "(esc back)")
	press(tm, "o")
	waitFor(t, tm, "source kms-prod", "Health history")
	press(tm, "esc")
	waitFor(t, tm, "kms-prod/acme.crm.key.0/1")
	press(tm, "esc")
	waitFor(t, tm, "LAST SYNC")
	view := finalView(t, tm)
	checkFrame(t, view, 80, 24)
	if !strings.Contains(view, "› ") || !strings.Contains(view, "5 Sources") {
		t.Errorf("esc did not come back to the Sources pane with a selected row:\n%s", view)
	}
}

// In the Proxy pane a ring generation is a row to select: enter opens its
// key (found by name and fingerprint), esc comes back to the pane.
func TestProxyGenerationOpensKey(t *testing.T) {
	f := newFixture()
	f.proxy = []api.ProxyStatus{{App: "crm", Listen: "127.0.0.1:8443", Upstream: "https://crm.example.com", Time: fixedNow,
		Health: api.UpstreamHealth{OK: true, LastSuccess: &fixedNow},
		Ring: api.ProxyRing{KeyID: "x1P7b039", Size: 2, Capacity: 16, Generations: []api.GenerationInfo{
			{Name: "acme.crm.key.5", KeyID: "x1P7b039", Fingerprint: "sha256:5f60718293a4b5c6d7e8f90a", State: "active", Encrypts: true, Created: &fixedNow},
			{Name: "acme.crm.key.4", KeyID: "PqzDnyPw", Fingerprint: "sha256:4e5f60718293a4b5c6d7e8f9", State: "deactivated"}}}}}
	tm := onPane(t, f, "4", "PqzDnyPw", "open its key")
	press(tm, "j", "enter")
	waitFor(t, tm, "kms-prod/acme.crm.key.4/1", "(esc back)")
	press(tm, "esc")
	waitFor(t, tm, "fields    0 encrypted")
	golden(t, tm, 80, 24)
}

// An activity event without a key (a source's outage) opens its source;
// esc comes back to the event.
func TestActivityEventOpensSource(t *testing.T) {
	f := newFixture()
	sourceHealth(f)
	tm := onPane(t, f, "3", "source-outage")
	press(tm, "enter")
	waitFor(t, tm, "enter opens the source")
	press(tm, "enter")
	waitFor(t, tm, "source vault-emu", "Health history", "dial tcp: i/o timeout")
	press(tm, "esc")
	waitFor(t, tm, "Entry 1")
	view := finalView(t, tm)
	if !strings.Contains(view, "3 Activity") || !strings.Contains(view, "source-outage") {
		t.Errorf("esc did not come back to the event:\n%s", view)
	}
}

// A health change of the open source brings its history up to date.
func TestSourceHistoryFollowsHealth(t *testing.T) {
	f := newFixture()
	tm := onSources(t, f)
	press(tm, "j", "enter")
	waitFor(t, tm, "no outage recorded")
	f.mu.Lock()
	sourceHealth(f)
	f.mu.Unlock()
	f.notes <- notification(api.NoteSources, "vault-emu")
	waitFor(t, tm, "dial tcp: i/o timeout")
	_ = finalView(t, tm)
}
