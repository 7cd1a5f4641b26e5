package fields

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/engine/token"
)

// patchOperation is how a Go upstream binds one JSON Patch operation with
// encoding/json (names case-insensitively, the last duplicate wins).
type patchOperation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

func patchRules(t testing.TB) *Rules {
	r, err := Compile(Spec{Random: []string{"ssn", "card.number", "records[*].ssn", "odd/name", "accounts.*.iban"}, Deterministic: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// plainInPatch decodes a patch as two upstream readers do (Go structs, and
// a map per operation as evanphx/json-patch does) and returns a secret
// found in any value.
func plainInPatch(t *testing.T, doc []byte) string {
	t.Helper()
	var ops []patchOperation
	if err := json.Unmarshal(doc, &ops); err != nil {
		t.Fatalf("the upstream cannot read %s: %v", doc, err)
	}
	var maps []map[string]json.RawMessage
	json.Unmarshal(doc, &maps)
	var values [][]byte
	for _, op := range ops {
		values = append(values, op.Value)
	}
	for _, m := range maps {
		values = append(values, m["value"])
	}
	for _, v := range values {
		for _, s := range []string{"S3CR3T", "4111-1111"} {
			if bytes.Contains(v, []byte(s)) {
				return s
			}
		}
	}
	return ""
}

// TestPatchProtectsValues: the value of an add, replace or test whose path
// reaches, enters or lies above a protected field reaches the upstream as
// tokens only, whatever the member order, spelling or pointer escapes.
func TestPatchProtectsValues(t *testing.T) {
	c := codec(t, "crm")
	rules := patchRules(t)
	for _, doc := range []string{
		`[{"op":"add","path":"/ssn","value":"S3CR3T"}]`,
		`[{"op":"replace","path":"/SSN","value":"S3CR3T"}]`,
		`[{"op":"test","path":"/ssn","value":"S3CR3T"}]`,
		`[{"value":"S3CR3T","path":"/ssn","op":"add"}]`,
		`[{"op":"add","path":"/records/0","value":{"ssn":"S3CR3T","name":"Ann"}}]`,
		`[{"op":"add","path":"/records/-","value":{"SSN":"S3CR3T"}}]`,
		`[{"op":"add","path":"/records","value":[{"ssn":"S3CR3T"}]}]`,
		`[{"op":"replace","path":"","value":{"card":{"number":"4111-1111"}}}]`,
		`[{"op":"add","path":"/card","value":{"number":"4111-1111","expiry":"12/29"}}]`,
		`[{"op":"add","path":"/card/number","value":"4111-1111"}]`,
		`[{"op":"add","path":"/card/number/x","value":"S3CR3T"}]`,
		`[{"op":"add","path":"/odd~1name","value":"S3CR3T"}]`,
		`[{"op":"add","path":"/accounts/a~0b/iban","value":"S3CR3T"}]`,
		`[{"op":"add","path":"ssn","value":"S3CR3T"}]`,
		`[{"op":"add","path":"/records/01/ssn","value":"S3CR3T"}]`,
		`[{"op":"add","path":"/records/x/ssn","value":"S3CR3T"}]`, // records an object upstream
		`[{"op":"ADD","path":"/ssn","value":"S3CR3T"}]`,
		`[{"\u006fp":"add","p\u0061th":"/ssn","v\u0061lue":"S3CR3T"}]`,
		`[{"op":"add","path":"/\u0073sn","value":"S3CR3T"}]`,
		`[{"op":"remove","path":"/ssn","value":"S3CR3T"}]`,
		`[{"op":"add","path":"/x","value":1},{"op":"add","path":"/ssn","value":"S3CR3T"}]`,
	} {
		if plainInPatch(t, []byte(doc)) == "" {
			t.Fatalf("%s: no secret in the input; the case proves nothing", doc)
		}
		out, n, err := rules.EncryptPatch(nil, []byte(doc), encFor(c))
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if s := plainInPatch(t, out); s != "" || n == 0 {
			t.Errorf("%s: the upstream reads %q (%d encrypted): %s", doc, s, n, out)
		}
		back, _ := DecryptJSON(nil, out, decFor(c))
		var a, b any
		json.Unmarshal([]byte(doc), &a)
		json.Unmarshal(back, &b)
		if !jsonEqual(a, b) {
			t.Errorf("%s: round trip gives %s", doc, back)
		}
	}
	// What lies beside a protected field is not touched.
	in := `[{"op":"add","path":"/records/0","value":{"ssn":"S3CR3T","name":"Ann"}},{"op":"add","path":"/name","value":"Bob"},{"op":"remove","path":"/ssn"}]`
	out, n, err := rules.EncryptPatch(nil, []byte(in), encFor(c))
	if err != nil || n != 1 || !bytes.Contains(out, []byte(`"name":"Ann"`)) || !bytes.Contains(out, []byte(`"value":"Bob"`)) {
		t.Fatalf("n=%d err=%v out=%s", n, err, out)
	}
	// test on a deterministic field compares equal tokens.
	t1, _, _ := rules.EncryptPatch(nil, []byte(`[{"op":"test","path":"/email","value":"a@x.io"}]`), encFor(c))
	t2, _, _ := rules.EncryptPatch(nil, []byte(`[{"op":"test","path":"/email","value":"a@x.io"}]`), encFor(c))
	if !bytes.Equal(t1, t2) || !bytes.Contains(t1, []byte("kw1st.")) {
		t.Fatalf("deterministic test values differ: %s %s", t1, t2)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestPatchRefusals: copy and move that touch a protected field in either
// direction, operations read differently by different upstreams, and
// documents that are not patches are refused, quoting nothing of them.
func TestPatchRefusals(t *testing.T) {
	c := codec(t, "crm")
	rules := patchRules(t)
	for _, doc := range []string{
		`[{"op":"copy","from":"/ssn","path":"/notes"}]`,             // a token to an unprotected place
		`[{"op":"move","from":"/notes","path":"/ssn"}]`,             // stored plaintext into a protected field
		`[{"op":"copy","from":"/card","path":"/backup"}]`,           // holds card.number
		`[{"op":"copy","from":"","path":"/backup"}]`,                // the whole document
		`[{"op":"move","from":"/x","path":"/records/0"}]`,           // becomes a record with an ssn
		`[{"op":"copy","from":"/SSN","path":"/x"}]`,                 //
		`[{"op":"add","path":"/x","PATH":"/ssn","value":"S3CR3T"}]`, // Go binds the last
		`[{"op":"add","path":"/ssn","value":"a","Value":"S3CR3T"}]`,
		`[{"op":"add","op":"copy","path":"/x","from":"/ssn"}]`,
		`[{"op":"frobnicate","path":"/ssn","value":"S3CR3T"}]`,
		`[{"path":"/ssn","value":"S3CR3T"}]`,
		`[{"op":"add","path":"/ssn~2","value":"S3CR3T"}]`,
		`[{"op":1,"path":"/ssn","value":"S3CR3T"}]`,
		`[{"op":"copy","path":"/ssn"}]`,
		`{"op":"add","path":"/ssn","value":"S3CR3T"}`,
		`["add"]`,
	} {
		_, _, err := rules.EncryptPatch(nil, []byte(doc), encFor(c))
		if !errors.Is(err, ErrPatch) {
			t.Errorf("%s: err = %v, want ErrPatch", doc, err)
			continue
		}
		if strings.Contains(err.Error(), "S3CR3T") || strings.Contains(err.Error(), "/notes") || strings.Contains(err.Error(), "frob") {
			t.Errorf("%s: the error quotes the request: %v", doc, err)
		}
	}
	for _, doc := range []string{`[{"op":"copy","from":"/a","path":"/b"}]`, `[{"op":"move","from":"/records/0/name","path":"/name"}]`, `[]`} {
		if _, _, err := rules.EncryptPatch(nil, []byte(doc), encFor(c)); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	if _, _, err := rules.EncryptPatch(nil, []byte(`[{"op":"add","path":"/ssn","value":"1"},]`), encFor(c)); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("invalid JSON: %v", err)
	}
}

// FuzzRewritePatch: the patch rewriter never panics; what it emits is
// valid JSON in which no add/replace/test value that a Go upstream binds
// at a protected path holds plaintext, and no copy or move touches one.
func FuzzRewritePatch(f *testing.F) {
	c := codec(f, "crm")
	rules := patchRules(f)
	for _, s := range []string{
		`[{"op":"add","path":"/ssn","value":"1"}]`, `[{"op":"add","path":"/records/0","value":{"ssn":"1"}}]`,
		`[{"op":"copy","from":"/ssn","path":"/x"}]`, `[{"value":{"number":2},"path":"/card","op":"replace"}]`,
		`[{"op":"add","path":"/odd~1name","value":[1]}]`, `[{"op":"test","path":"","value":{"ssn":null}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := rules.EncryptPatch(nil, in, encFor(c))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q from %q", out, in)
		}
		var ops []patchOperation
		if err := json.Unmarshal(out, &ops); err != nil {
			t.Fatalf("output %q is not operations: %v", out, err)
		}
		for _, op := range ops {
			switch strings.ToLower(op.Op) {
			case "copy", "move":
				for _, p := range []string{op.From, op.Path} {
					if _, _, states, _ := rules.pointer(p, 0, ""); len(states) > 0 {
						t.Fatalf("%s touching a protected field let through: %q", op.Op, in)
					}
				}
				continue
			}
			hit, _, states, err := rules.pointer(op.Path, 0, "")
			if err != nil {
				t.Fatalf("a bad pointer let through: %q", in)
			}
			if len(op.Value) == 0 {
				continue
			}
			var v any
			d := json.NewDecoder(bytes.NewReader(op.Value))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if hit {
				if s, ok := v.(string); v != nil && (!ok || token.Span([]byte(s)) != len(s)) {
					t.Fatalf("value at a protected path is %s (input %q)", op.Value, in)
				}
				continue
			}
			checkBelow(t, v, rules, states, in)
		}
	})
}

// checkBelow is checkProtected from given states.
func checkBelow(t *testing.T, v any, r *Rules, states []state, in []byte) {
	t.Helper()
	w := &walker{r: r}
	if hit, _ := w.matched(states); hit {
		if s, ok := v.(string); v != nil && (!ok || token.Span([]byte(s)) != len(s)) {
			t.Fatalf("protected value %#v is not a token (input %q)", v, in)
		}
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			checkBelow(t, e, r, w.child(states, []byte(k), foldFirst([]byte(k)), 0), in)
		}
	case []any:
		for i, e := range x {
			checkBelow(t, e, r, w.child(states, nil, 0, i), in)
		}
	}
}
