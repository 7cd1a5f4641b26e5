package tui_test

import (
	"strings"
	"testing"
)

// TestKeysPaneGCPGolden: the Keys pane at 80×24 with the demo's Google
// Cloud project (filtered to its source with o): location/ring/key names,
// one row per version, versions enabled, disabled, scheduled for
// destruction (deleted, retired), destroyed and import-failed; the
// versions of one key share its name, so VER stays to tell them apart.
func TestKeysPaneGCPGolden(t *testing.T) {
	f := newGCPFixture(t)
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "of 26 keys")
	press(tm, "o", "o", "o", "o")
	waitFor(t, tm, "source gcp-prod", "of 11 keys")
	view := golden(t, tm, 80, 24)
	for _, want := range []string{"europe-west1/acm", "/card-kek", " VER ", " active ", " disabled ", " deleted ", " destroyed "} {
		if !strings.Contains(view, want) {
			t.Errorf("the Google keys at 80x24 lack %q:\n%s", want, view)
		}
	}
}

// TestGCPActionMenu: the life-cycle menu offers what each Google key can
// do, and says why not for the rest: an import-only key cannot be rotated
// (new material is uploaded instead), a Google-generated key has no
// backup, a signing key has no rotation schedule.
func TestGCPActionMenu(t *testing.T) {
	for _, c := range []struct {
		filter, rows, want, absent string
	}{
		{"crm-byok", "1–2 of 2 keys", "rotate: not supported: the key is import-only", "[r] rotate"},
		{"release-signer", "1–2 of 2 keys", "rotates automatically only", "[b] back up"},
		{"webhook-mac", "1–1 of 1 key ", "backup: not supported: Google Cloud KMS cannot", "[b] back up"},
		{"webhook-mac", "1–1 of 1 key ", "backup: not supported: Google Cloud KMS cannot", "[s] restore"},
	} {
		t.Run(c.filter, func(t *testing.T) {
			f := newGCPFixture(t)
			tm := startFiltered(t, f, 160, 30, "of 26 keys", c.filter, c.rows)
			press(tm, "x")
			waitFor(t, tm, c.want)
			if view := finalView(t, tm); strings.Contains(view, c.absent) {
				t.Errorf("%s is offered %q:\n%s", c.filter, c.absent, view)
			}
		})
	}
}

// TestGCPKeyDetailsSayWhyNoDeletion: a Google key's details say that
// deleting destroys versions and that Google never deletes the key or its
// key ring.
func TestGCPKeyDetailsSayWhyNoDeletion(t *testing.T) {
	f := newGCPFixture(t)
	tm := startFiltered(t, f, 160, 40, "of 26 keys", "sso-decrypt", "1–1 of 1 key ")
	press(tm, "enter")
	waitFor(t, tm, "gcp:deletion", "never deletes keys or key rings")
}

// TestGCPEditTagsRoundTrip: the edit form shows a Google key's tags, among
// them gcp:rotation, whose value holds a comma ("every 90d, next …"), and
// sends them back as they were beside the one added: the form used to
// refuse its own text (tag "next 2026-…": write name=value) so no Google
// key with a rotation schedule could be edited. The per-key limits
// (keyward:unsupported:…) are not tags of the vault: the form leaves them
// out (Google would refuse them as labels).
func TestGCPEditTagsRoundTrip(t *testing.T) {
	f := newGCPFixture(t)
	tm := startFiltered(t, f, 160, 30, "of 26 keys", "card-kek", "1–4 of 4 keys")
	press(tm, "G", "x", "t")
	waitFor(t, tm, "Edit europe-west1/acme-payments/card-kek", "Tags (name=value")
	press(tm, "tab", "tab", ", team=crm", "enter")
	c := waitCalls(t, f, 1)
	_ = finalView(t, tm)
	if !strings.Contains(c[0], "gcp:rotation:every 90d, next ") || !strings.Contains(c[0], "team:crm") || !strings.Contains(c[0], "env:prod") {
		t.Errorf("the tags sent are not the key's with team=crm: %q", c[0])
	}
	if strings.Contains(c[0], "keyward:unsupported") {
		t.Errorf("the per-key limits were sent as tags: %q", c[0])
	}
}

// TestToggleActsOnTheVersionShown: a key's rows are its versions, and x
// on one names that version and offers enable or disable by its state;
// the request names it too. It was sent without a version, so the vault
// chose — Google the primary (here version 2, already enabled), Azure the
// newest — and the disabled version 1 on screen stayed disabled.
func TestToggleActsOnTheVersionShown(t *testing.T) {
	f := newGCPFixture(t)
	tm := startFiltered(t, f, 120, 30, "of 26 keys", "crm-byok", "1–2 of 2 keys")
	press(tm, "x")
	waitFor(t, tm, "version 1 · disabled", "[e] enable")
	press(tm, "e")
	waitFor(t, tm, "Enable version 1 of europe-west1/acme-payments/crm-byok in gcp-prod?", "The key's other versions do not change.")
	press(tm, "enter")
	c := waitCalls(t, f, 1)
	if want := "update gcp-prod/europe-west1/acme-payments/crm-byok enabled=true version=1"; len(c) != 1 || c[0] != want {
		t.Errorf("requests %q, want %q", c, want)
	}
	waitFor(t, tm, "enabled version 1 of europe-west1/acme-payments/crm-byok in gcp-prod")
	_ = finalView(t, tm)
}
