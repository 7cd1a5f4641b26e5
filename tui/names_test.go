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
	tm := start(t, longNames(), 80, 24)
	waitFor(t, tm, "● connected", "of 14 keys")
	view := golden(t, tm, 80, 24)
	lines := strings.Split(view, "\n")
	seen := map[string]int{}
	rows := 0
	for _, l := range lines[4 : 4+14] {
		name := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(l, "›"), " "))[0]
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
		if !strings.Contains(lines[3], col) {
			t.Errorf("column %s gave way to the names: %q", col, lines[3])
		}
	}
}
