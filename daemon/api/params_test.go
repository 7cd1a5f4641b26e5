package api

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheckQuery(t *testing.T) {
	declared := []Param{TextParam("source"), BoolParam("deterministic"), IntParam("limit", 1, 5000)}
	for _, tc := range []struct {
		raw, want string // want "" = accepted
	}{
		{"", ""},
		{"source=acme&deterministic=false&limit=5000", ""},
		{"deterministic=true", ""},
		{"sorce=acme", `unknown query parameter "sorce" (known: source, deterministic, limit)`},
		{"source=a&source=b", `query parameter "source" is given 2 times`},
		{"source=", `query parameter "source" is empty`},
		{"source", `query parameter "source" is empty`},
		{"deterministic=yes", `"deterministic" must be true or false, got "yes"`},
		{"deterministic=1", `must be true or false`},
		{"deterministic=TRUE", `must be true or false`},
		{"limit=0", `"limit" must be a whole number from 1 to 5000, got "0"`},
		{"limit=5001", `from 1 to 5000`},
		{"limit=abc", `from 1 to 5000`},
		{"source=a;limit=3", "not well-formed"},
		{"source=%zz", "not well-formed"},
		{"=x", `unknown query parameter ""`},
	} {
		e := CheckQuery(tc.raw, declared)
		switch {
		case tc.want == "" && e != nil:
			t.Errorf("%q refused: %v", tc.raw, e)
		case tc.want != "" && (e == nil || e.Status != 400 || e.Code != CodeBadRequest || !strings.Contains(e.Message, tc.want)):
			t.Errorf("%q: %v, want 400 with %q", tc.raw, e, tc.want)
		}
	}
	if e := CheckQuery("x=1", nil); e == nil || !strings.Contains(e.Message, "takes no query parameters") {
		t.Errorf("a route with no parameters: %v", e)
	}
}

// FuzzCheckQuery: whatever the query string, CheckQuery never panics, and
// what it accepts reads back through url.Values with each declared
// parameter at most once, never empty, and booleans spelled true or false.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{"", "source=a", "source=a&source=b", "source=", "deterministic=yes", "limit=-1",
		"a;b", "%", "source=%00", "limit=99999999999999999999", "&&&", "deterministic=true&limit=3&source=x"} {
		f.Add(s)
	}
	declared := []Param{TextParam("source"), BoolParam("deterministic"), IntParam("limit", 1, 5000)}
	f.Fuzz(func(t *testing.T, raw string) {
		if e := CheckQuery(raw, declared); e != nil {
			if e.Status != 400 || e.Message == "" {
				t.Fatalf("%q: refusal %+v", raw, e)
			}
			return
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("%q accepted but does not parse: %v", raw, err)
		}
		for name, vs := range q {
			if _, ok := findParam(declared, name); !ok || len(vs) != 1 || vs[0] == "" {
				t.Fatalf("%q accepted with %s=%q", raw, name, vs)
			}
		}
		if d := q.Get("deterministic"); d != "" && d != "true" && d != "false" {
			t.Fatalf("%q accepted deterministic=%q", raw, d)
		}
	})
}
