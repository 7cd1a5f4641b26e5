package fields

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/engine/token"
)

// upstreamRecord is what a Go upstream binds a request to with
// encoding/json: names match case-insensitively with Unicode simple case
// folding, and the last of duplicate members wins.
type upstreamRecord struct {
	SSN  string `json:"ssn"`
	Bank string `json:"bank"`
	Card struct {
		Number string `json:"number"`
	} `json:"card"`
	Records []struct {
		SSN  string `json:"ssn"`
		Name string `json:"name"`
	} `json:"records"`
}

// secrets of the name tests: none can appear in a token by chance.
var nameSecrets = []string{"123-45-6789", "4111-1111", "DE89-3704", "987-65-4321"}

func leaked(out []byte) string {
	for _, s := range nameSecrets {
		if bytes.Contains(out, []byte(s)) {
			return s
		}
	}
	return ""
}

// firstWins decodes doc the way a first-wins parser with case-insensitive
// names would bind the top-level protected names: it returns the first
// value of each name that folds to ssn or bank.
func firstWins(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	// encoding/json into a map keeps the last duplicate: walk the
	// tokens instead.
	d := json.NewDecoder(bytes.NewReader(doc))
	got := map[string]string{}
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return got
	}
	for d.More() {
		k, _ := d.Token()
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ssn", "bank"} {
			if _, seen := got[want]; !seen && bytes.EqualFold([]byte(k.(string)), []byte(want)) {
				got[want] = string(v)
			}
		}
	}
	return got
}

// TestJSONNamesBindLikeUpstreams: every spelling that Go's encoding/json
// binds to a protected field reaches the upstream as a token, whether the
// upstream keeps the last duplicate (Go) or the first.
func TestJSONNamesBindLikeUpstreams(t *testing.T) {
	c := codec(t, "crm")
	rules, err := NewRules([]string{"ssn", "bank", "card.number", "records[*].ssn"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := Compile(Spec{Random: []string{"ssn", "bank", "card.number", "records[*].ssn"}, Matching: Exact})
	docs := []string{
		`{"SSN":"123-45-6789"}`,
		`{"Ssn":"123-45-6789"}`,
		`{"ſsn":"123-45-6789"}`,                // long s folds to s
		`{"\u017fSN":"123-45-6789"}`,           // the same, escaped
		`{"\u0073sn":"123-45-6789"}`,           // an escaped plain s
		`{"ban\u212a":"DE89-3704"}`,            // Kelvin sign folds to k
		`{"banK":"DE89-3704"}`,                 //
		`{"ssn":"x","SSN":"123-45-6789"}`,      // last wins in Go
		`{"SSN":"123-45-6789","ssn":"x"}`,      // first wins elsewhere
		`{"ssn":"123-45-6789","ssn":"x"}`,      // an exact duplicate
		`{"CARD":{"NUMBER":"4111-1111"}}`,      // nested
		`{"Card":{"\u004eumber":"4111-1111"}}`, //
		`{"RECORDS":[{"Ssn":"987-65-4321","name":"Ann"}]}`,
	}
	enc := encFor(c)
	for _, doc := range docs {
		out, _, err := rules.EncryptJSON(nil, []byte(doc), enc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if s := leaked(out); s != "" {
			t.Errorf("%s: the upstream receives %q: %s", doc, s, out)
		}
		var v upstreamRecord
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		bound := []string{v.SSN, v.Bank, v.Card.Number}
		for _, r := range v.Records {
			bound = append(bound, r.SSN)
		}
		for _, fw := range firstWins(t, out) {
			var s string
			json.Unmarshal([]byte(fw), &s)
			bound = append(bound, s)
		}
		for _, b := range bound {
			if b != "" && b != "x" && token.Span([]byte(b)) != len(b) {
				t.Errorf("%s: an upstream binds %q, not a token", doc, b)
			}
		}
		// With exact matching the same upstream would read plaintext:
		// what the Fold default is for (the test's own check).
		if !strings.Contains(doc, `{"ssn":"123`) && !strings.Contains(doc, `\u0073sn`) {
			if out, _, _ := exact.EncryptJSON(nil, []byte(doc), enc); leaked(out) == "" {
				t.Errorf("%s: exact matching protects it too; the case proves nothing", doc)
			}
		}
	}
	// Unprotected neighbours stay as they are.
	out, n, _ := rules.EncryptJSON(nil, []byte(`{"ssnx":"a","name":"Ann","records":[{"name":"Bob"}]}`), enc)
	if n != 0 || !bytes.Contains(out, []byte(`"ssnx":"a"`)) {
		t.Errorf("over-protected: %s", out)
	}
}

func TestFoldKey(t *testing.T) {
	same := [][2]string{{"ssn", "SSN"}, {"ssn", "ſsn"}, {"kid", "\u212aid"}, {"card_number", "cardNumber"},
		{"card_number", "card-number"}, {"id", "İD"}, {"id", "ıd"}, {"straße", "STRAẞE"}, {"Σίσυφος", "σίσυφοσ"}}
	for _, p := range same {
		if string(foldKey(nil, []byte(p[0]))) != string(foldKey(nil, []byte(p[1]))) {
			t.Errorf("%q and %q fold apart", p[0], p[1])
		}
		if !foldEqual([]byte(p[1]), string(foldKey(nil, []byte(p[0])))) || !foldEqual([]byte(p[0]), string(foldKey(nil, []byte(p[1])))) {
			t.Errorf("foldEqual(%q, %q) is false", p[0], p[1])
		}
	}
	for _, p := range [][2]string{{"ssn", "ssnn"}, {"ssn", "sn"}, {"ssn", "s.sn"}, {"ss", "ß"}, {"a", "á"}} {
		if foldEqual([]byte(p[1]), string(foldKey(nil, []byte(p[0])))) {
			t.Errorf("%q and %q fold together", p[0], p[1])
		}
	}
	// foldEqual agrees with comparing keys, on every name of a small
	// alphabet with ASCII, folding and non-folding runes.
	alpha := []string{"s", "S", "ſ", "_", "k", "\u212a", "é", "É", "-", "x"}
	var names []string
	for _, a := range alpha {
		for _, b := range alpha {
			names = append(names, a+b)
		}
	}
	for _, a := range names {
		for _, b := range names {
			want := string(foldKey(nil, []byte(a))) == string(foldKey(nil, []byte(b)))
			if got := foldEqual([]byte(a), string(foldKey(nil, []byte(b)))); got != want {
				t.Errorf("foldEqual(%q, key(%q)) = %v", a, b, got)
			}
			// child's first-byte filter never rejects a match.
			r := &Rules{rules: []Rule{{Path: Path{steps: []step{nameStep(b)}}}}}
			w := &walker{r: r}
			if got := len(w.child(r.root(), []byte(a), foldFirst([]byte(a)), 0)) == 1; got != want {
				t.Errorf("child(%q) under rule %q = %v", a, b, got)
			}
			r.m = Exact
			if got := len(w.child(r.root(), []byte(a), foldFirst([]byte(a)), 0)) == 1; got != (a == b) {
				t.Errorf("exact child(%q) under rule %q = %v", a, b, got)
			}
		}
	}
}
