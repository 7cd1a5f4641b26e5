package keyring

import "testing"

func TestNextName(t *testing.T) {
	for _, tc := range []struct {
		names        []string
		newest, next string
	}{
		{[]string{"acme.crm.key.4", "acme.crm.key.5", "acme.crm.key.3"}, "acme.crm.key.5", "acme.crm.key.6"},
		{[]string{"acme.crm.key.9", "acme.crm.key.10"}, "acme.crm.key.10", "acme.crm.key.11"},
		{[]string{"key-009", "key-008"}, "key-009", "key-010"},
		{[]string{"k_99999999999999999999999999999"}, "k_99999999999999999999999999999", "k_100000000000000000000000000000"},
		// Another prefix or no number does not count.
		{[]string{"acme.crm.key.7", "acme.crm.key.8", "ACME.crm.key.20", "acme.crm.key.new"}, "acme.crm.key.8", "acme.crm.key.9"},
	} {
		newest, next, err := NextName(tc.names)
		if err != nil || newest != tc.newest || next != tc.next {
			t.Errorf("NextName(%v) = %q, %q, %v; want %q, %q", tc.names, newest, next, err, tc.newest, tc.next)
		}
	}
	if _, _, err := NextName([]string{"acme.crm.key.new", ""}); err == nil {
		t.Error("names without numbers gave a next name")
	}
}

func FuzzNextName(f *testing.F) {
	f.Add("acme.crm.key.5", "acme.crm.key.10")
	f.Add("k-0099", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		newest, next, err := NextName([]string{a, b})
		if err != nil {
			return
		}
		gn, ok1 := parseGen(newest)
		gx, ok2 := parseGen(next)
		if !ok1 || !ok2 || gn.prefix != gx.prefix || compareDigits(gx.digits, gn.digits) <= 0 {
			t.Fatalf("NextName(%q, %q) = %q, %q: not the next generation", a, b, newest, next)
		}
	})
}
