package tui_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/tui"
)

// c copies the selected key's id, C its fingerprint, as OSC 52 sequences
// (what a terminal, also at the end of SSH, puts on its clipboard), from
// the list and from a key's detail.
func TestCopyOSC52(t *testing.T) {
	t.Setenv("TMUX", "")
	t.Setenv("STY", "")
	clip := &testkit.Buffer{}
	f := newFixture()
	tm := startWith(t, f, 80, 24, tui.Options{Clipboard: clip})
	waitFor(t, tm, "acme.crm.key.0", "● connected", "of 15 keys")
	press(tm, "j", "c")
	waitFor(t, tm, "copied the key id")
	press(tm, "enter")
	waitFor(t, tm, "Activity")
	press(tm, "C")
	waitFor(t, tm, "copied the fingerprint")
	view := golden(t, tm, 80, 24)
	osc := func(s string) string { return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(s)) + "\x07" }
	k := f.keys[1]
	if want := osc(k.ID) + osc(k.Fingerprint); clip.String() != want {
		t.Errorf("the terminal got %q, want %q", clip.String(), want)
	}
	if !strings.Contains(strings.Join(strings.Fields(view), " "), "copied the fingerprint of acme.crm.key.1 sha256:") {
		t.Errorf("the status line does not say what was copied:\n%s", view)
	}
}
