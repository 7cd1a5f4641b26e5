package keyspane

import (
	"reflect"
	"testing"
)

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"", "owner=hr", "a=1, b=2", "a=", "=x", "a=b=c", " , ,", "ünï=cödé", "a=1,a=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTags(s, nil)
		if err != nil {
			if tags != nil {
				t.Fatalf("%q: tags with an error", s)
			}
			return
		}
		// What the form shows (fmtTags) parses back to the same tags.
		again, err := parseTags(fmtTags(tags), tags)
		if err != nil || !reflect.DeepEqual(again, tags) {
			t.Fatalf("%q: %v came back as %v (%v)", s, tags, again, err)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"", "2027-01-31", "2027-02-30", "2027-01-31T10:00:00Z", "31/01/2027", "tomorrow"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDate("expires", s)
		if s == "" && (d != nil || err != nil) {
			t.Fatal("empty is no date, without error")
		}
		if err == nil && s != "" && d == nil {
			t.Fatalf("%q: no date and no error", s)
		}
	})
}

func TestParseTags(t *testing.T) {
	got, err := parseTags(" owner = hr-platform , env=prod,", nil)
	if err != nil || !reflect.DeepEqual(got, map[string]string{"owner": "hr-platform", "env": "prod"}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := parseTags("owner", nil); err == nil {
		t.Fatal("a tag without = accepted")
	}
	// A value with a comma, as a source writes it, reads back whole; the
	// same text is a mistake when the key has no such value.
	had := map[string]string{"gcp:rotation": "every 90d, next 2026-12-14", "env": "prod"}
	got, err = parseTags(fmtTags(had)+", team=crm", had)
	if want := map[string]string{"gcp:rotation": "every 90d, next 2026-12-14", "env": "prod", "team": "crm"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := parseTags("env=prod, staging", had); err == nil {
		t.Fatal("a part without = accepted where the key has no such value")
	}
}
