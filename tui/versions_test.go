package tui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// card-kek in the demo's Google project has four versions: 4 active (the
// primary), 3 disabled, 2 scheduled for destruction (deleted), 1
// destroyed. Opened from its first row (version 1), the list selects
// version 1, the last row (newest first).
const cardKEK = "europe-west1/acme-payments/card-kek"

// openGCPVersions filters the Keys pane to card-kek, opens its first row
// and lists its versions (pressing V last: the caller waits for them).
func openGCPVersions(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	press(tm, "/", "card-kek", "enter")
	tuitest.WaitText(t, tm, 20*time.Second, "1–4 of 4 keys")
	press(tm, "enter")
	tuitest.WaitText(t, tm, 20*time.Second, "Activity", "gcp-prod/"+cardKEK+"/1")
	press(tm, "V")
}

// startGCPVersions starts the TUI on the Google fixture at w×h with
// card-kek's versions listed.
func startGCPVersions(t *testing.T, f *fixture, w, h int) *teatest.TestModel {
	t.Helper()
	tm := start(t, f, w, h)
	waitFor(t, tm, "● connected", "of 26 keys")
	openGCPVersions(t, tm)
	waitFor(t, tm, "Versions of "+cardKEK, "4 versions")
	return tm
}

// colourGolden is noColorGoldenOn in colour: the default styles on a
// terminal with colours (termenv.ANSI, pinned), so the golden keeps the
// colours the new screens use; at least one must be set.
func colourGolden(t *testing.T, f *fixture, open func(t *testing.T, tm *teatest.TestModel), want ...string) {
	t.Helper()
	prev := lipgloss.ColorProfile()
	lipgloss.SetColorProfile(termenv.ANSI)
	t.Cleanup(func() { lipgloss.SetColorProfile(prev) })
	tm := startWith(t, f, 80, 24, tui.Options{})
	waitFor(t, tm, "● connected", fmt.Sprintf("of %d keys", len(f.keys)))
	open(t, tm)
	tuitest.WaitText(t, tm, 20*time.Second, want...)
	view := finalView(t, tm)
	checkFrame(t, view, 80, 24)
	teatest.RequireEqualOutput(t, []byte(view))
	coloured := false
	for _, m := range sgr.FindAllStringSubmatch(view, -1) {
		for _, p := range strings.Split(m[1], ";") {
			coloured = coloured || colourSGR.MatchString(p)
		}
	}
	if !coloured {
		t.Errorf("the colour golden sets no colour:\n%s", view)
	}
}

// The versions list: newest first, the opened version selected.
func TestVersionsListGolden(t *testing.T) {
	f := newGCPFixture(t)
	tm := startGCPVersions(t, f, 80, 24)
	view := golden(t, tm, 80, 24)
	if !strings.Contains(view, "› 1 ") {
		t.Errorf("the version the detail showed (1) is not the one selected:\n%s", view)
	}
	f.wantCalls(t)
}

func TestVersionsListColourGolden(t *testing.T) {
	colourGolden(t, newGCPFixture(t), openGCPVersions, "VERSION", "destroyed")
}

func TestVersionsListNoColorGolden(t *testing.T) {
	noColorGoldenOn(t, newGCPFixture(t), openGCPVersions, "VERSION", "destroyed")
}

// openVersion4Menu selects version 4 (the first row) and opens its menu.
func openVersion4Menu(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	openGCPVersions(t, tm)
	tuitest.WaitText(t, tm, 20*time.Second, "Versions of "+cardKEK)
	press(tm, "g", "x")
}

// An active Google version offers what the source announces for versions:
// the primary (version 4) disable and schedule its destruction, and says
// it is the primary (the PRIMARY column says which version is).
func TestVersionMenuGolden(t *testing.T) {
	f := newGCPFixture(t)
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "of 26 keys")
	openVersion4Menu(t, tm)
	waitFor(t, tm, "Actions — version 4 of "+cardKEK)
	view := golden(t, tm, 80, 24)
	for _, want := range []string{"This version is the primary", "[e] disable this version", "[d] schedule this version's destruction ⚠"} {
		if !strings.Contains(view, want) {
			t.Errorf("the menu of the primary version lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "[P]") {
		t.Errorf("the primary is offered make primary:\n%s", view)
	}
	f.wantCalls(t)
}

func TestVersionMenuColourGolden(t *testing.T) {
	colourGolden(t, newGCPFixture(t), openVersion4Menu, "schedule this version")
}

func TestVersionMenuNoColorGolden(t *testing.T) {
	noColorGoldenOn(t, newGCPFixture(t), openVersion4Menu, "schedule this version")
}

// openDestroyConfirm asks to schedule version 4's destruction.
func openDestroyConfirm(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	openVersion4Menu(t, tm)
	tuitest.WaitText(t, tm, 20*time.Second, "Actions — version 4 of "+cardKEK)
	press(tm, "d")
}

func TestVersionDestroyConfirmGolden(t *testing.T) {
	f := newGCPFixture(t)
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "of 26 keys")
	openDestroyConfirm(t, tm)
	waitFor(t, tm, "to confirm:")
	golden(t, tm, 80, 24)
	f.wantCalls(t)
}

func TestVersionDestroyConfirmColourGolden(t *testing.T) {
	colourGolden(t, newGCPFixture(t), openDestroyConfirm, "to confirm")
}

func TestVersionDestroyConfirmNoColorGolden(t *testing.T) {
	noColorGoldenOn(t, newGCPFixture(t), openDestroyConfirm, "to confirm")
}

// Scheduling a version's destruction needs the key's name typed again, as
// deleting the key does: another name sends nothing; the name sends one
// request for that version only, and the list shows it scheduled.
func TestVersionDestroyNeedsTheName(t *testing.T) {
	f := newGCPFixture(t)
	tm := startGCPVersions(t, f, 120, 30)
	press(tm, "g", "x", "d")
	waitFor(t, tm, "Schedule the destruction of version 4 of", "to confirm:")
	press(tm, "card-kek", "enter")
	waitFor(t, tm, "does not match")
	if c := f.Calls(); len(c) != 0 {
		t.Fatalf("a wrong name sent %q", c)
	}
	for range len("card-kek") {
		tm.Send(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	press(tm, cardKEK, "enter")
	// Back in the list (fetched again on the daemon's notification),
	// version 4 reads deleted (its aging as the fixture had it) and is
	// still the one selected.
	waitFor(t, tm, "scheduled the destruction of version 4 of "+cardKEK+" in gcp-prod", "deleted     healthy")
	f.wantCalls(t, `delete version 4 of gcp-prod/`+cardKEK+` confirm="`+cardKEK+`"`)
	view := finalView(t, tm)
	if !strings.Contains(view, "› 4 ") || !strings.Contains(view[strings.Index(view, "› 4 "):], "deleted") {
		t.Errorf("version 4 is not the selected row, deleted:\n%s", view)
	}
}

// A version scheduled for destruction offers only its restore; make
// primary asks and sends make-primary for that version.
func TestVersionRestoreAndMakePrimary(t *testing.T) {
	f := newGCPFixture(t)
	tm := startGCPVersions(t, f, 120, 30)
	press(tm, "k", "x") // version 2: scheduled for destruction
	waitFor(t, tm, "Actions — version 2 of "+cardKEK, "[v] restore this version")
	view := tuitest.Quit(t, tm, 20*time.Second).View()
	for _, absent := range []string{"[P]", "[e]", "[d]"} {
		if strings.Contains(view, absent) {
			t.Errorf("a version scheduled for destruction is offered %s:\n%s", absent, view)
		}
	}

	// Version 3, enabled, then made the primary: the PRIMARY column
	// moves to it.
	tm = startGCPVersions(t, f, 120, 30)
	press(tm, "k", "k", "x", "e")
	waitFor(t, tm, "Enable version 3 of")
	press(tm, "enter")
	waitFor(t, tm, "enabled version 3 of")
	press(tm, "x", "P")
	waitFor(t, tm, "Make version 3 the primary of", "from now on")
	press(tm, "enter")
	// The outcome, and the list fetched again on the daemon's
	// notification (in either order): version 3, selected, primary.
	tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return "the outcome and version 3 primary" }, func(b []byte) bool {
		out := ansi.Strip(string(b))
		if !strings.Contains(out, "made version 3 of "+cardKEK+" the primary in gcp-prod") {
			return false
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "› 3 ") && strings.Contains(l, " primary ") {
				return true
			}
		}
		return false
	})
	f.wantCalls(t, "update gcp-prod/"+cardKEK+" enabled=true version=3", `make-primary version 3 of gcp-prod/`+cardKEK+` confirm=""`)
	view = finalView(t, tm)
	for _, l := range strings.Split(view, "\n") {
		if strings.HasPrefix(l, "  4 ") && strings.Contains(l, "primary") {
			t.Errorf("version 4 is still shown primary:\n%s", view)
		}
	}
}

// Typed as one burst (tmux send-keys -l), "kkxe" moves up twice from
// version 1 to version 3, opens its menu and picks enable: the request is
// for version 3. An enter pressed twice (the second while the request is
// in flight or after it) sends it once.
func TestVersionBurstActsOnceOnTheSelectedVersion(t *testing.T) {
	f := newGCPFixture(t)
	tm := startGCPVersions(t, f, 120, 30)
	burst(tm, "kkxe")
	waitFor(t, tm, "Enable version 3 of", "can be used again")
	press(tm, "enter", "enter")
	waitFor(t, tm, "enabled version 3 of "+cardKEK+" in gcp-prod")
	calls := waitCalls(t, f, 1)
	_ = finalView(t, tm)
	if want := "update gcp-prod/" + cardKEK + " enabled=true version=3"; len(calls) != 1 || calls[0] != want {
		t.Errorf("requests %q, want only %q", calls, want)
	}
}

// What a source does not announce is not offered: the Azure vault
// announces enabling and disabling a version only; in read-only nothing
// that changes the vault is.
func TestVersionMenuOnlyWhatTheSourceAnnounces(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "enter")
	waitFor(t, tm, "Activity", "vault-emu/payments-wrap/1")
	press(tm, "V", "x")
	waitFor(t, tm, "Actions — version 1 of payments-wrap", "[e] disable this version")
	view := finalView(t, tm)
	for _, absent := range []string{"[P]", "[d]", "[v]"} {
		if strings.Contains(view, absent) {
			t.Errorf("vault-emu announces no %s on versions, yet it is offered:\n%s", absent, view)
		}
	}

	ro := startWith(t, newGCPFixture(t), 120, 30, tui.Options{ReadOnly: true})
	waitFor(t, ro, "● connected", "of 26 keys")
	openGCPVersions(t, ro)
	press(ro, "g", "x")
	waitFor(t, ro, "Actions — version 4 of "+cardKEK, "Read-only (keyward tui --read-only)")
	if view := finalView(t, ro); strings.Contains(view, "[P]") || strings.Contains(view, "[d]") || strings.Contains(view, "[e]") {
		t.Errorf("read-only offers a version action:\n%s", view)
	}
}

// A daemon that does not serve the cloud routes offers no version action
// and says so, as x on a key does — not that the key's vault is no cloud
// vault.
func TestVersionActionsWithoutCloudRoutes(t *testing.T) {
	tm := startWith(t, plainBackend{f: newFixture()}, 120, 30, tui.Options{})
	waitFor(t, tm, "● connected", "of 15 keys")
	press(tm, "/", "payments-wrap", "enter")
	waitFor(t, tm, "1–1 of 1 key ")
	press(tm, "enter")
	waitFor(t, tm, "Activity", "vault-emu/payments-wrap/1")
	press(tm, "V", "x")
	waitFor(t, tm, "this daemon offers no cloud key actions")
	_ = finalView(t, tm)
}

// A signing key has no primary version: the source announces
// version-primary, but the key says it cannot (engine.TagUnsupported), so
// the menu leaves it out and says why.
func TestVersionMenuSaysWhyNoPrimary(t *testing.T) {
	f := newGCPFixture(t)
	tm := startFiltered(t, f, 120, 30, "of 26 keys", "release-signer", "1–2 of 2 keys")
	press(tm, "enter")
	waitFor(t, tm, "Activity")
	press(tm, "V")
	waitFor(t, tm, "Versions of us/acme-signing/release-signer")
	press(tm, "g", "x")
	waitFor(t, tm, "version-primary: not supported: only ENCRYPT_DECRYPT keys have a primary")
	if view := finalView(t, tm); strings.Contains(view, "[P]") {
		t.Errorf("a signing key's version is offered make primary:\n%s", view)
	}
}

// slowKey is the fixture with GET /v1/keys/{id} held until release is
// closed: a daemon slow to answer.
type slowKey struct {
	*fixture
	release chan struct{}
}

func (s slowKey) Key(ctx context.Context, id string) (*api.KeyDetail, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.fixture.Key(ctx, id)
}

// V pressed before the key's detail has come (enter and V typed
// together) opens the list at once, loading; it fills in when the daemon
// answers, the opened version selected.
func TestVersionsBeforeTheDetailCame(t *testing.T) {
	f := newGCPFixture(t)
	b := slowKey{fixture: f, release: make(chan struct{})}
	tm := startWith(t, b, 120, 30, tui.Options{})
	waitFor(t, tm, "● connected", "of 26 keys")
	press(tm, "/", "card-kek", "enter")
	waitFor(t, tm, "1–4 of 4 keys")
	press(tm, "enter", "V")
	waitFor(t, tm, "Versions of "+cardKEK, "loading versions…")
	close(b.release)
	waitFor(t, tm, "4 versions")
	view := finalView(t, tm)
	if !strings.Contains(view, "› 1 ") || strings.Contains(view, "loading") {
		t.Errorf("the versions once the detail came:\n%s", view)
	}
}

// Keys typed while the versions list loads (enter, V and x together, the
// daemon slow to send the key's detail) wait for the versions: x opens the
// menu of the version that comes selected. It was handled at once, on an
// empty list, and lost — as TestVersionMenuOnlyWhatTheSourceAnnounces
// lost its x with GOMAXPROCS=1 on a loaded machine.
func TestKeysTypedWhileVersionsLoadWaitForThem(t *testing.T) {
	f := newGCPFixture(t)
	b := slowKey{fixture: f, release: make(chan struct{})}
	tm := startWith(t, b, 120, 30, tui.Options{})
	waitFor(t, tm, "● connected", "of 26 keys")
	press(tm, "/", "card-kek", "enter")
	waitFor(t, tm, "1–4 of 4 keys")
	press(tm, "enter", "V", "x")
	waitFor(t, tm, "Versions of "+cardKEK, "loading versions…")
	close(b.release)
	waitFor(t, tm, "Actions — version 1 of "+cardKEK)
	_ = finalView(t, tm)
}
