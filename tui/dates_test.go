package tui_test

import (
	"strings"
	"testing"
)

// TestEditFormDatesOnlyWhereKeysHaveThem: x → t on an AWS or a Google key
// offers no Expires / Not before (their clouds refuse dates; the form
// says why), and sends the tags it edits; an Azure key's form keeps both.
func TestEditFormDatesOnlyWhereKeysHaveThem(t *testing.T) {
	t.Run("aws", func(t *testing.T) {
		f := newAWSFixture()
		tm := startFiltered(t, f, 120, 30, "of 21 keys", awsImported[:8], "1–1 of 1 key ")
		press(tm, "x", "t")
		waitFor(t, tm, "Edit ", "Tags (name=value", `No dates: source "aws-prod" keeps no activation or expiry date`)
		press(tm, ", team=crm", "enter")
		c := waitCalls(t, f, 1)
		view := finalView(t, tm)
		if strings.Contains(view, "Expires") || strings.Contains(view, "Not before") {
			t.Errorf("the AWS edit form offers dates:\n%s", view)
		}
		if !strings.Contains(c[0], "team:crm") || strings.Contains(c[0], "expires") {
			t.Errorf("request: %q", c[0])
		}
	})
	t.Run("gcp", func(t *testing.T) {
		f := newGCPFixture(t)
		tm := startFiltered(t, f, 160, 30, "of 26 keys", "card-kek", "1–4 of 4 keys")
		press(tm, "G", "x", "t")
		waitFor(t, tm, "Edit europe-west1/acme-payments/card-kek", "Tags (name=value", "No dates: source \"gcp-prod\"")
		view := finalView(t, tm)
		if strings.Contains(view, "Expires") || strings.Contains(view, "Not before") {
			t.Errorf("the Google edit form offers dates:\n%s", view)
		}
	})
	t.Run("azure", func(t *testing.T) {
		f := newFixture()
		tm := startOnKey(t, f, 120, 30, "payments-wrap")
		press(tm, "x", "t")
		waitFor(t, tm, "Edit payments-wrap in vault-emu", "Expires", "Not before", "Tags (name=value")
		view := finalView(t, tm)
		if strings.Contains(view, "No dates") {
			t.Errorf("the Azure edit form says it has no dates:\n%s", view)
		}
	})
}

// TestAWSCreateFormOffersWhatAWSCreates: n on an AWS key opens a create
// form whose one Key spec field offers what the AWS connector declares
// (symmetric, RSA, EC, HMAC — no "RSA or EC" pair, no Expires), refuses
// anything else with the list, and sends a symmetric and an HMAC key.
func TestAWSCreateFormOffersWhatAWSCreates(t *testing.T) {
	f := newAWSFixture()
	tm := startFiltered(t, f, 160, 30, "of 21 keys", awsSymmetric[:8], "1–1 of 1 key ")
	press(tm, "x", "n")
	waitFor(t, tm, "New key in aws-prod", "Key spec", "oct · RSA 2048", "HMAC 512")
	press(tm, "sym-kek", "enter", "enter")
	waitFor(t, tm, "✔ created sym-kek in aws-prod")
	press(tm, "x", "n")
	waitFor(t, tm, "New key in aws-prod")
	press(tm, "mac-key", "tab")
	backspaces(tm, len("oct"))
	press(tm, "DSA 1024", "enter", "enter")
	waitFor(t, tm, `key spec "DSA 1024": use one of oct, RSA 2048`)
	backspaces(tm, len("DSA 1024"))
	press(tm, "hmac 384", "enter", "enter")
	waitFor(t, tm, "✔ created mac-key in aws-prod")
	view := finalView(t, tm)
	if strings.Contains(view, "RSA or EC") || strings.Contains(view, "Expires") {
		t.Errorf("the AWS create form is Azure's:\n%s", view)
	}
	c := f.Calls()
	if len(c) != 2 || c[0] != "create aws-prod/sym-kek oct 0" || c[1] != "create aws-prod/mac-key HMAC 384" {
		t.Errorf("requests:\n%s", sortedCalls(c))
	}
}

// The edit form's dates say what they take: a date (an emptied field is
// not "none" there — Azure keeps a date once set, and the form says so for
// the not-before date as for the expiry, instead of leaving it unchanged
// without a word while it reports the edit done).
func TestEditFormDatesCannotBeEmptied(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "t")
	waitFor(t, tm, "Edit payments-wrap in vault-emu", "Not before (YYYY-MM-DD)")
	press(tm, "enter") // keep the expiry
	backspaces(tm, len("2026-08-15"))
	press(tm, "enter", "owner=payments", "enter")
	waitFor(t, tm, "a not-before date cannot be removed from here")
	view := finalView(t, tm)
	if strings.Contains(view, "empty: none") {
		t.Errorf("the edit form offers to empty a date:\n%s", view)
	}
	f.wantCalls(t)
}
