package tui_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"
)

// TestKeysPaneAWSGolden: the Keys pane at 80×24 with an AWS account's
// keys (filtered to its source with o): symmetric, RSA, EC, HMAC,
// imported, disabled and pending deletion, named by key ID.
// At 80 columns the key IDs take the room, and NAME, SOURCE, STATE and
// AGING stay (the pane's column priority); at 160 the algorithms show.
func TestKeysPaneAWSGolden(t *testing.T) {
	for _, size := range []struct {
		w, h int
		want []string
	}{
		{80, 24, []string{" active ", " disabled ", " deleted ", "retired", "expiring-90d"}},
		{160, 40, []string{"EC P-256", "HMAC", "RSA", "oct"}},
	} {
		t.Run(itoa(size.w)+"x"+itoa(size.h), func(t *testing.T) {
			f := newAWSFixture()
			tm := start(t, f, size.w, size.h)
			waitFor(t, tm, "● connected", "of 21 keys")
			press(tm, "o", "o", "o", "o")
			waitFor(t, tm, "source aws-prod", "of 6 keys")
			view := golden(t, tm, size.w, size.h)
			for _, want := range size.want {
				if !strings.Contains(view, want) {
					t.Errorf("the AWS keys at %dx%d lack %q:\n%s", size.w, size.h, want, view)
				}
			}
		})
	}
}

// TestAWSActionMenu: the life-cycle menu offers what each AWS key can do.
// An AWS-generated key has no backup (so none to restore) and no imported
// material: the menu leaves them out and says why; an imported key offers both, and deleting
// its material needs its name typed again and sends delete-material.
func TestAWSActionMenu(t *testing.T) {
	open := func(id string) (*fixture, *teatest.TestModel) {
		f := newAWSFixture()
		tm := startFiltered(t, f, 120, 30, "of 21 keys", id[:8], "1–1 of 1 key ")
		press(tm, "x")
		return f, tm
	}
	_, tm := open(awsSymmetric)
	waitFor(t, tm, "backup: not supported: AWS cannot export key material", "[r] rotate")
	view := finalView(t, tm)
	if strings.Contains(view, "[b] back up") || strings.Contains(view, "[m]") {
		t.Errorf("an AWS-generated key is offered a backup or material deletion:\n%s", view)
	}
	// With no backup possible there is none of its own to restore (the
	// menu used to offer [s], whose dialog then said "back it up first
	// with b"); every stored backup (B) stays listed.
	if strings.Contains(view, "[s] restore") || !strings.Contains(view, "[B] every stored backup") {
		t.Errorf("an AWS-generated key is offered a restore of its own backups, or not the list of all:\n%s", view)
	}

	// AWS keys have no dates: the edit line offers what its form holds,
	// the tags (it said "expiry, not-before, tags", and the form then
	// said "No dates").
	if !strings.Contains(view, "[t] tags") || strings.Contains(view, "not-before") {
		t.Errorf("the edit line of an AWS key offers dates it has not:\n%s", view)
	}

	// The dialogs name the key as the list shows it, by its alias, with
	// the key ID the confirmation asks for (they named the ID alone, which
	// the list does not show).
	f, tm := open(awsImported)
	waitFor(t, tm, "[b] back up", "[m] delete imported material", "Actions — crm-byok ("+awsImported+") in aws-prod")
	press(tm, "m")
	waitFor(t, tm, "Delete the imported material of crm-byok", "("+awsImported+") in aws-prod?", "Type "+awsImported+" to confirm")
	press(tm, awsImported, "enter")
	c := waitCalls(t, f, 1)
	if c[0] != `delete-material aws-prod/`+awsImported+` confirm="`+awsImported+`"` {
		t.Errorf("request: %q", c[0])
	}
}
