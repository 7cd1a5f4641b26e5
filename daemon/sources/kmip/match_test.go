package kmip

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"rks.crm.key.*", "rks.crm.key.0", true},
		{"rks.crm.key.*", "rks.crm.key.17", true},
		{"rks.crm.key.*", "rks.crm.key.", true},
		{"rks.crm.key.*", "rks.crmXkey.1", false},
		{"rks.crm.key.*", "rks.hr.key.1", false},
		{"rks.crm.key.?", "rks.crm.key.12", false},
		{"rks.crm.key.?", "rks.crm.key.1", true},
		{"*.key.*", "a.key.b", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
		{"*", "", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	}
	for _, c := range cases {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}

// reference is Match written with the regexp package.
func reference(pattern, name string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(name)
}

func FuzzMatch(f *testing.F) {
	f.Add("rks.crm.key.*", "rks.crm.key.7")
	f.Add("a*b?c", "aXXbYc")
	f.Add("**?*", "x")
	f.Add("ünï*", "ünïcode")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if !utf8Valid(pattern) || !utf8Valid(name) || len(pattern) > 64 || len(name) > 128 {
			return
		}
		if got, want := Match(pattern, name), reference(pattern, name); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pattern, name, got, want)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
