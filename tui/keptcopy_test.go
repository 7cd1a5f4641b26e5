package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// withoutKeptCopy is the AWS fixture whose crm-byok holds material
// uploaded outside keyward: the daemon marks it (cloud.NoKeptCopy), as it
// holds no copy, which is the only backup an AWS key can have.
func withoutKeptCopy() *fixture {
	f := newAWSFixture()
	for i := range f.keys {
		if f.keys[i].Name == awsImported {
			f.keys[i].Tags[engine.TagUnsupported+engine.CapBackup] = cloud.NoKeptCopy("aws", true)
		}
	}
	return f
}

// openByokActions filters to crm-byok and opens its action menu.
func openByokActions(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	press(tm, "/", awsImported[:8], "enter")
	waitFor(t, tm, "1–1 of 1 key ")
	press(tm, "x")
}

// TestNoKeptCopyMenuNoColorGolden: the x menu of an imported AWS key
// keyward holds no copy of does not offer b, and says why (80×24,
// NO_COLOR).
func TestNoKeptCopyMenuNoColorGolden(t *testing.T) {
	noColorGoldenOn(t, withoutKeptCopy(), openByokActions, "Actions — crm-byok", "backup: not supported: AWS cannot export", "[m] delete imported material")
}

// TestNoKeptCopyBackupNotOffered: b on that menu asks nothing and sends
// nothing (it used to open the confirmation, and the daemon refused the
// backup only after the administrator confirmed); the key keyward
// uploaded, whose kept copy is its backup, is still offered b.
func TestNoKeptCopyBackupNotOffered(t *testing.T) {
	f := withoutKeptCopy()
	tm := start(t, f, 100, 30)
	waitFor(t, tm, "● connected")
	openByokActions(t, tm)
	waitFor(t, tm, "Actions — crm-byok", "backup: not supported: AWS cannot export key material, and keyward holds",
		"no copy of this key's material", "[m] delete imported material")
	press(tm, "b")
	time.Sleep(100 * time.Millisecond)
	press(tm, "m")
	// The next key pressed is still the menu's: b opened nothing.
	waitFor(t, tm, "Delete the imported material of crm-byok")
	view := finalView(t, tm)
	if strings.Contains(view, "Back up crm-byok") {
		t.Errorf("b asked to back up a key keyward holds no copy of:\n%s", view)
	}
	f.wantCalls(t)

	f = newAWSFixture()
	tm = start(t, f, 100, 30)
	waitFor(t, tm, "● connected")
	openByokActions(t, tm)
	waitFor(t, tm, "[b] back up", "Actions — crm-byok")
	press(tm, "b")
	waitFor(t, tm, "Back up crm-byok")
}
