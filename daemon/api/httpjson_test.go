package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type policyish struct {
	RotateAfter string `json:"rotate_after,omitempty"`
	Confirm     string `json:"confirm,omitempty"`
}

func TestReadJSON(t *testing.T) {
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"rotate_after":"90d"}`, 0, ""},
		{" {}\n", 0, ""},
		{"", 400, "request body is empty"},
		{"  \n", 400, "request body is empty"},
		{"null", 400, "must be a JSON object"},
		{`[{"rotate_after":"90d"}]`, 400, "must be a JSON object"},
		{`"x"`, 400, "must be a JSON object"},
		{`{"rotate_after":"90d"}{}`, 400, "data after the JSON object"},
		{`{"rotate_after":"90d"} x`, 400, "data after the JSON object"},
		{`{"rotate_after":"90d"`, 400, "not valid JSON"},
		{`{"rotate_afterr":"90d"}`, 400, `unknown field "rotate_afterr"`},
		{`{"x":"` + strings.Repeat("a", MaxRequestBody) + `"}`, 413, "larger than 1048576 bytes"},
	} {
		rec := httptest.NewRecorder()
		var v policyish
		e := ReadJSON(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body)), &v)
		switch {
		case tc.status == 0 && e != nil:
			t.Errorf("%.40q refused: %v", tc.body, e)
		case tc.status != 0 && (e == nil || e.Status != tc.status || !strings.Contains(e.Message, tc.want)):
			t.Errorf("%.40q: %v, want %d with %q", tc.body, e, tc.status, tc.want)
		}
	}
}

// FuzzParseJSONObject: no body makes it panic, and a body it accepts is
// one JSON object that encoding/json reads the same, with nothing after it.
func FuzzParseJSONObject(f *testing.F) {
	for _, s := range []string{"", "null", "{}", `{"confirm":"k"}`, `{"confirm":"k"} {}`, `{"confirm":1}`, "[]", " {\"rotate_after\":\"1d\"}\n", "{\"a\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v policyish
		if e := ParseJSONObject(b, &v); e != nil {
			if e.Status != 400 || e.Message == "" {
				t.Fatalf("%q: refusal %+v", b, e)
			}
			return
		}
		var any map[string]json.RawMessage
		if err := json.Unmarshal(b, &any); err != nil || any == nil {
			t.Fatalf("%q accepted but is not one JSON object: %v", b, err)
		}
		var again policyish
		if err := json.Unmarshal(b, &again); err != nil || again != v {
			t.Fatalf("%q read as %+v, encoding/json reads %+v (%v)", b, v, again, err)
		}
	})
}
