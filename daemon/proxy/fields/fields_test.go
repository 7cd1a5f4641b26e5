package fields

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/token"
)

// codec returns a token codec over a real keyring.Rings holding one random
// generation for app (what the KMIP poller fills in the daemon).
func codec(t testing.TB, app string) *token.Codec {
	t.Helper()
	r := keyring.NewRings()
	r.Configure(app, app+".key.*", 16)
	k := make([]byte, 32)
	rand.Read(k)
	if _, err := r.Apply(app, []keyring.Candidate{{UID: "1", Name: app + ".key.1", State: engine.StateActive, Material: k}}); err != nil {
		t.Fatal(err)
	}
	return token.NewCodec(app, r)
}

func encFor(c *token.Codec) Encrypter {
	return func(dst, pt []byte, det bool, kind token.Kind) ([]byte, error) {
		m := token.GCM
		if det {
			m = token.SIV
		}
		out, _, err := c.AppendEncrypt(dst, pt, m, kind)
		return out, err
	}
}

func decFor(c *token.Codec) Decrypter {
	return func(dst, tok []byte) ([]byte, token.Kind, error) {
		out, o, err := c.AppendDecrypt(dst, tok)
		return out, o.Kind, err
	}
}

func TestParsePath(t *testing.T) {
	for _, ok := range []string{"ssn", "contact.email", "records[*].ssn", "accounts.*.iban", "[*].card.number", "a[0][1].b", "x.*"} {
		if _, err := ParsePath(ok); err != nil {
			t.Errorf("ParsePath(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", "a[", "a[x]", "a[]", "a.[*]", `a"b`, "a]"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) accepted", bad)
		}
	}
}

func TestEncryptJSONProtectsOnlyTheRules(t *testing.T) {
	c := codec(t, "crm")
	rules, err := NewRules([]string{"records[*].ssn", "contact.email", "accounts.*.iban", "meta", "n"}, []string{"records[*].email"})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"records":[{"ssn":"123-45-6789","email":"a@x.io","name":"Ann"},{"ssn":"987-65-4321","email":"a@x.io","name":"Bob"}],
	 "contact":{"email":"c\u00e9@x.io","phone":"555"},"accounts":{"a1":{"iban":"DE89"},"a2":{"iban":"FR76"}},
	 "meta":{"deep":[1,2,{"x":true}]},"n":42,"ssn":"top-level stays","nil":null}`
	out, n, err := rules.EncryptJSON(nil, []byte(doc), encFor(c))
	if err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("encrypted %d fields, want 9", n)
	}
	// Quoted or with their colon, so base64 text cannot match by chance.
	for _, secret := range []string{"123-45-6789", "987-65-4321", `"DE89"`, `"FR76"`, "a@x.io", "cé@x.io", `"deep"`, ":42"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("output still holds %q: %s", secret, out)
		}
	}
	for _, kept := range []string{"Ann", "Bob", "555", "top-level stays", `"nil":null`} {
		if !bytes.Contains(out, []byte(kept)) {
			t.Errorf("output lost unprotected %q", kept)
		}
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	recs := v["records"].([]any)
	e0, e1 := recs[0].(map[string]any)["email"], recs[1].(map[string]any)["email"]
	s0, s1 := recs[0].(map[string]any)["ssn"], recs[1].(map[string]any)["ssn"]
	if e0 != e1 {
		t.Error("deterministic field gave different tokens for equal values")
	}
	if s0 == s1 {
		t.Error("random field gave equal tokens")
	}
	back, op := DecryptJSON(nil, out, decFor(c))
	if op.Decrypted != 9 || len(op.Failed) != 0 {
		t.Fatalf("decrypted %d, failed %v", op.Decrypted, op.Failed)
	}
	var a, b any
	json.Unmarshal([]byte(doc), &a)
	json.Unmarshal(back, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("round trip changed the document:\n%s\n%s", doc, back)
	}
}

func TestEncryptJSONRefusesInvalid(t *testing.T) {
	c := codec(t, "crm")
	rules, _ := NewRules([]string{"ssn"}, nil)
	for _, bad := range []string{``, `{`, `{"ssn":"1"`, `{"ssn":'1'}`, `{"ssn":"1",}`, `[1,]`, `{"a":01}`, `{"ssn":"\x"}`, "{\"ssn\":\"\xff\"}", `{"ssn":"1"} x`, strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)} {
		if _, _, err := rules.EncryptJSON(nil, []byte(bad), encFor(c)); err == nil {
			t.Errorf("accepted invalid JSON %q", bad)
		}
	}
}

func TestDecryptJSONLeavesBadTokensAndFindsEmbedded(t *testing.T) {
	c := codec(t, "crm")
	other := codec(t, "hr")
	tok, _, _ := c.Encrypt([]byte("secret \"quoted\"\n"), token.GCM, token.Text)
	foreign, _, _ := other.Encrypt([]byte("x"), token.GCM, token.Text)
	doc := `{"a":"` + tok + `","b":"see ` + tok + ` here","c":"` + foreign + `","d":["` + tok[:len(tok)-4] + `AAAA"]}`
	out, op := DecryptJSON(nil, []byte(doc), decFor(c))
	if op.Decrypted != 2 || len(op.Failed) != 2 {
		t.Fatalf("decrypted %d failed %d, want 2 and 2 (%v)", op.Decrypted, len(op.Failed), op.Failed)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v["a"] != "secret \"quoted\"\n" || v["b"] != "see secret \"quoted\"\n here" || v["c"] != foreign {
		t.Fatalf("got %v", v)
	}
}

func TestDecryptJSONTokenAsMemberName(t *testing.T) {
	c := codec(t, "crm")
	jtok, _, _ := c.Encrypt([]byte(`{"a":1}`), token.GCM, token.JSON)
	ttok, _, _ := c.Encrypt([]byte(`quote " and \ back`), token.GCM, token.Text)
	doc := `{"` + jtok + `" : "` + jtok + `", "x\"y": "pre \" ` + ttok + `", "k": ["` + ttok + `"]}`
	out, op := DecryptJSON(nil, []byte(doc), decFor(c))
	if op.Decrypted != 4 || len(op.Failed) != 0 {
		t.Fatalf("decrypted %d failed %v", op.Decrypted, op.Failed)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if fmt.Sprint(v[`{"a":1}`]) != "map[a:1]" || v[`x"y`] != `pre " quote " and \ back` || fmt.Sprint(v["k"]) != `[quote " and \ back]` {
		t.Fatalf("got %#v", v)
	}
}

func TestFormRoundTrip(t *testing.T) {
	c := codec(t, "crm")
	f, err := Compile(Spec{FormNames: []string{"ssn"}, Deterministic: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	body := "name=Ann+Lee&ssn=123-45-6789&email=a%40x.io&flag"
	out, n, err := f.EncryptForm(nil, []byte(body), encFor(c))
	if err != nil || n != 2 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if bytes.Contains(out, []byte("123-45")) || bytes.Contains(out, []byte("x.io")) || !bytes.HasPrefix(out, []byte("name=Ann+Lee&ssn=kw1gt.")) {
		t.Fatalf("form not protected: %s", out)
	}
	back, op := DecryptForm(nil, out, decFor(c))
	if op.Decrypted != 2 || string(back) != "name=Ann+Lee&ssn=123-45-6789&email=a%40x.io&flag" {
		t.Fatalf("back = %s (%d)", back, op.Decrypted)
	}
	if _, _, err := f.EncryptForm(nil, []byte("ssn=%zz"), encFor(c)); err == nil {
		t.Fatal("bad escape accepted")
	}
}

// FuzzRewriteJSON: the rewriter never panics; what it accepts is valid JSON
// and its output is valid JSON in which every value at a protected path is a
// token (or null) and no protected plaintext survives; decrypting gives the
// original document back.
func FuzzRewriteJSON(f *testing.F) {
	c := codec(f, "crm")
	rules, _ := NewRules([]string{"ssn", "records[*].ssn", "contact.*"}, []string{"email"})
	for _, s := range []string{`{"ssn":"123-45-6789"}`, `{"records":[{"ssn":1},{"ssn":"x\u0041"}]}`, `{"contact":{"a":[1,{"b":null}]},"email":"e@x"}`,
		`[{"ssn":"1"}]`, `"kw1gt.x"`, `{"a":{"b":{"c":[true,false,null,-1.5e3]}}}`, `{"ssn":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	enc, dec := encFor(c), decFor(c)
	f.Fuzz(func(t *testing.T, in []byte) {
		// Decrypting arbitrary upstream bytes never panics and keeps
		// valid JSON valid.
		if d, _ := DecryptJSON(nil, in, dec); json.Valid(in) && !json.Valid(d) {
			t.Fatalf("DecryptJSON broke valid JSON %q into %q", in, d)
		}
		out, _, err := rules.EncryptJSON(nil, in, enc)
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		if !json.Valid(out) {
			t.Fatalf("emitted invalid JSON %q from %q", out, in)
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(out))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		checkProtected(t, v, rules, in)
		back, op := DecryptJSON(nil, out, dec)
		if len(op.Failed) != 0 {
			t.Fatalf("own tokens failed: %v", op.Failed)
		}
		var a, b any
		da := json.NewDecoder(bytes.NewReader(in))
		da.UseNumber()
		da.Decode(&a)
		db := json.NewDecoder(bytes.NewReader(back))
		db.UseNumber()
		if err := db.Decode(&b); err != nil {
			t.Fatalf("decrypted document invalid: %v: %q", err, back)
		}
		if fmt.Sprintf("%#v", a) != fmt.Sprintf("%#v", b) {
			t.Fatalf("round trip changed %q into %q", in, back)
		}
	})
}

// checkProtected walks v and fails if a value at a protected path is not a
// token string or null.
func checkProtected(t *testing.T, v any, r *Rules, in []byte) {
	t.Helper()
	checkBelow(t, v, r, r.root(), in)
}

// TestPlainText compares plainText with its definition (no byte below 0x20,
// valid UTF-8) for every byte value at every position of strings either
// side of its 8- and 32-byte steps, in ASCII and non-ASCII surroundings.
func TestPlainText(t *testing.T) {
	ref := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 {
				return false
			}
		}
		return utf8.Valid(b)
	}
	for _, fill := range []string{"n", "é", "日本"} {
		for n := 0; n <= 80; n++ {
			base := []byte(strings.Repeat(fill, n))[:n]
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					b := bytes.Clone(base)
					b[pos] = byte(c)
					if got, want := plainText(b), ref(b); got != want {
						t.Fatalf("plainText(%q) = %v, want %v", b, got, want)
					}
				}
			}
			if got, want := plainText(base), ref(base); got != want {
				t.Fatalf("plainText(%q) = %v, want %v", base, got, want)
			}
		}
	}
}

// An object's and an array's brackets and separators are checked alike:
// the error names which of the two broke off, and where.
func TestEncryptJSONSaysWhichListBroke(t *testing.T) {
	c := codec(t, "crm")
	rules, _ := NewRules([]string{"ssn", "list[*]"}, nil)
	for doc, want := range map[string]string{
		`{"ssn":"1"`:           "unterminated object at byte 10",
		`{"a":1 ]`:             `expected ',' or '}' in an object at byte 7`,
		`{"a":{"ssn":"1"} "b"`: `expected ',' or '}' in an object at byte 17`,
		`[1`:                   "unterminated array at byte 2",
		`[1 }`:                 `expected ',' or ']' in an array at byte 3`,
		`{"list":[1, 2 3]}`:    `expected ',' or ']' in an array at byte 14`,
	} {
		_, _, err := rules.EncryptJSON(nil, []byte(doc), encFor(c))
		if !errors.Is(err, ErrInvalidJSON) || !strings.HasSuffix(err.Error(), ": "+want) {
			t.Errorf("%s: got %v, want …: %s", doc, err, want)
		}
	}
	for _, doc := range []string{`{ }`, `[ ]`, `{"a":[ ],"b":{ } , "c" : [ 1 , [ ] ] }`} {
		out, n, err := rules.EncryptJSON(nil, []byte(doc), encFor(c))
		if err != nil || n != 0 || string(out) != doc {
			t.Errorf("%s: got %s, %d, %v; want it unchanged", doc, out, n, err)
		}
	}
}
