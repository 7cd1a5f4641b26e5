package tui_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"
)

// openGCPCreate opens the create form of the Google source from one of its
// keys (n in the action menu).
func openGCPCreate(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	press(tm, "x", "n")
	waitFor(t, tm, append([]string{"New key in gcp-prod", "Key spec", "Purpose", "Protection level"}, want...)...)
}

// TestGCPCreateFormOffersWhatGoogleCreates: the create form of a Google
// source offers the key specs and the options (purpose, algorithm,
// protection level) its connector declares over the socket API — not the
// RSA / EC pair — refuses an undeclared protection level with the list,
// and sends the choices as the tags the connector reads.
func TestGCPCreateFormOffersWhatGoogleCreates(t *testing.T) {
	f := newGCPFixture(t)
	tm := startFiltered(t, f, 160, 30, "of 26 keys", "webhook-mac", "1–1 of 1 key ")
	openGCPCreate(t, tm, "oct · RSA 2048", "EC P-384", "HMAC 512", "RSA: ASYMMETRIC_SIGN (empty) or ASYMMETRIC_DECRYPT", "SOFTWARE (empty) or HSM")
	press(tm, "ledger-dec", "enter")
	backspaces(tm, len("oct"))
	press(tm, "RSA 3072", "enter", "asymmetric_decrypt", "enter", "enter", "EXTERNAL", "enter")
	waitFor(t, tm, `protection level "EXTERNAL": use one of SOFTWARE, HSM, or leave it`)
	backspaces(tm, len("EXTERNAL"))
	press(tm, "hsm", "enter")
	waitFor(t, tm, "✔ created ledger-dec in gcp-prod")
	// A symmetric key with every option left empty sends no tag.
	press(tm, "x", "n")
	waitFor(t, tm, "New key in gcp-prod")
	press(tm, "sym", "enter", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "✔ created sym in gcp-prod")
	view := finalView(t, tm)
	if strings.Contains(view, "RSA or EC") {
		t.Errorf("the Google create form is Azure's:\n%s", view)
	}
	c := f.Calls()
	if len(c) != 2 || c[0] != "create gcp-prod/ledger-dec RSA 3072 tags=gcp:protection-level=HSM,gcp:purpose=ASYMMETRIC_DECRYPT" ||
		c[1] != "create gcp-prod/sym oct 0" {
		t.Errorf("requests:\n%s", sortedCalls(c))
	}
}

func TestGCPCreateFormGolden(t *testing.T) {
	f := newGCPFixture(t)
	tm := startFiltered(t, f, 80, 24, "of 26 keys", "webhook-mac", "1–1 of 1 key ")
	openGCPCreate(t, tm)
	golden(t, tm, 80, 24)
}

func TestGCPCreateFormNoColorGolden(t *testing.T) {
	f := newGCPFixture(t)
	noColorGoldenOn(t, f, func(t *testing.T, tm *teatest.TestModel) {
		press(tm, "/", "webhook-mac", "enter")
		waitFor(t, tm, "1–1 of 1 key ")
		press(tm, "x", "n")
	}, "New key in gcp-prod", "Protection level")
}
