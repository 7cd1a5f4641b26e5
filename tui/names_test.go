package tui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/engine"
)

// longNames replaces the inventory with keys whose names share a long head
// and differ at the end (acme-crm-customer-field-encryption-key.1 … .12) or in the
// middle (…-prod-eu-… and …-prod-us-…), as an application's keys do.
func longNames() *fixture {
	f := newFixture()
	base := f.keys[1]
	f.keys = f.keys[:0]
	add := func(name string) {
		k := base
		k.Name, k.ID = name, engine.KeyID(base.Source, name, "1")
		f.keys = append(f.keys, k)
	}
	for i := 1; i <= 12; i++ {
		add(fmt.Sprintf("acme-crm-customer-field-encryption-key.%d", i))
	}
	add("acme-payments-tokenisation-prod-eu-west-primary-wrapping")
	add("acme-payments-tokenisation-prod-us-west-primary-wrapping")
	return f
}

// At 80×24 the NAME column takes the room the other columns give up, and
// every visible name reads apart from the others: names that differ at
// the end keep their end, names that differ in the middle keep that part.
func TestNamesDistinctAt80(t *testing.T) {
	view, header, table := keysAt80(t, longNames(), 14)
	seen := map[string]int{}
	rows := 0
	for _, l := range table {
		name := strings.Fields(l)[0]
		if prev, ok := seen[name]; ok {
			t.Errorf("rows %d and %d both read %q:\n%s", prev, rows, name, view)
		}
		seen[name] = rows
		rows++
	}
	if !strings.Contains(view, "encryption-key.12") || !strings.Contains(view, "eu-west") || !strings.Contains(view, "us-west") {
		t.Errorf("the part of the names that differs is not shown:\n%s", view)
	}
	for _, col := range []string{"STATE", "AGING", "SOURCE"} {
		if !strings.Contains(header, col) {
			t.Errorf("column %s gave way to the names: %q", col, header)
		}
	}
}

// keysAt80 starts the TUI on f at 80×24, waits for its n keys, checks the
// frame against the test's golden file, and returns it with the table's
// header line and its n rows (the selection marker cut off).
func keysAt80(t *testing.T, f *fixture, n int) (view, header string, rows []string) {
	t.Helper()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", fmt.Sprintf("of %d keys", n))
	view = golden(t, tm, 80, 24)
	lines := strings.Split(view, "\n")
	for _, l := range lines[4 : 4+n] {
		rows = append(rows, strings.TrimPrefix(strings.TrimPrefix(l, "›"), " "))
	}
	return view, lines[3], rows
}

// twinNames is the demo's mix: AWS keys named by their 36-character key
// ids beside the versions of one Azure key, which share its name.
func twinNames() *fixture {
	f := newFixture()
	base := f.keys[9]
	f.keys = f.keys[:0]
	add := func(source, name, version string) {
		k := base
		k.Source, k.Name, k.Version, k.ID = source, name, version, engine.KeyID(source, name, version)
		f.keys = append(f.keys, k)
	}
	for _, id := range []string{"00674796-c357-4c64-ab82-0c988a0ee82c", "0bb452b0-791f-4354-aa47-230049c63388",
		"66c13489-f333-4e54-9d6d-871521a0d472"} {
		add("aws-demo", id, "-")
	}
	for _, v := range []string{"3f1c9a", "7b2e40", "a9d8c1", "e05f77"} {
		add("azure-demo", "acme-crm-field-kek", v)
	}
	return f
}

// Versions of one cloud key share its name: when such twins are on screen,
// the NAME column leaves room for VER even beside 36-character names, so
// at 80×24 the twins' rows still read apart (the demo lost VER to the AWS
// key ids and showed acme-crm-field-kek four times alike).
func TestTwinNamesKeepVersionAt80(t *testing.T) {
	view, header, table := keysAt80(t, twinNames(), 7)
	for _, col := range []string{"NAME", "SOURCE", "VER", "STATE", "AGING"} {
		if !strings.Contains(header, col) {
			t.Errorf("column %s is not shown: %q", col, header)
		}
	}
	seen := map[string]bool{}
	for _, l := range table {
		row := strings.Join(strings.Fields(l), " ")
		if seen[row] {
			t.Errorf("two rows read %q:\n%s", row, view)
		}
		seen[row] = true
	}
}
