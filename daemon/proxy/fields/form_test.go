package fields

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine/token"
)

// binding is one value as an upstream framework binds it: the path of
// names it stores the value under.
type binding struct {
	path  []string
	value string
}

// formReaders are reference readers of a form, written from each
// framework's documented behaviour and independent of the proxy's code.
var formReaders = map[string]func(body string) []binding{
	// Go net/http, Java servlets, Express without qs: names as they are.
	"go": func(body string) []binding {
		q, _ := url.ParseQuery(body)
		var out []binding
		for k, vs := range q {
			for _, v := range vs {
				out = append(out, binding{[]string{k}, v})
			}
		}
		return out
	},
	// PHP (main/php_variables.c, php_register_variable_ex).
	"php": func(body string) []binding {
		var out []binding
		for _, pair := range strings.Split(body, "&") {
			k, v, _ := strings.Cut(pair, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			out = append(out, binding{phpName(k), v})
		}
		return out
	},
	// Rack 2 reads ';' as a separator in query strings, and brackets as
	// nesting from the second byte on.
	"rack": func(body string) []binding {
		var out []binding
		for _, pair := range strings.FieldsFunc(body, func(r rune) bool { return r == '&' || r == ';' }) {
			k, v, _ := strings.Cut(pair, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			var path []string
			if i := strings.IndexByte(k[min(1, len(k)):], '['); i >= 0 {
				i++
				path = append(path, k[:i])
				for _, part := range strings.Split(strings.TrimSuffix(k[i+1:], "]"), "][") {
					path = append(path, part)
				}
			} else {
				path = []string{k}
			}
			out = append(out, binding{path, v})
		}
		return out
	},
	// ASP.NET Core and Spring model binding: dots and [index] are steps,
	// names compared case-insensitively (OrdinalIgnoreCase: upper case).
	"aspnet": func(body string) []binding {
		q, _ := url.ParseQuery(body)
		var out []binding
		for k, vs := range q {
			path := strings.FieldsFunc(strings.ToUpper(k), func(r rune) bool { return r == '.' || r == '[' || r == ']' })
			for _, v := range vs {
				out = append(out, binding{path, v})
			}
		}
		return out
	},
}

// phpName is PHP's reading of a variable name: leading spaces dropped, cut
// at NUL, ' ' and '.' to '_' up to the first '['; [a][b] nest; an unclosed
// first '[' becomes '_' (and ' ', '.', '[' after it too).
func phpName(k string) []string {
	k = strings.TrimLeft(k, " ")
	if i := strings.IndexByte(k, 0); i >= 0 {
		k = k[:i]
	}
	b := []byte(k)
	base := len(b)
	for i, c := range b {
		if c == ' ' || c == '.' {
			b[i] = '_'
		} else if c == '[' {
			base = i
			break
		}
	}
	if base == len(b) {
		return []string{string(b)}
	}
	if !strings.Contains(string(b[base:]), "]") {
		for i := base; i < len(b); i++ {
			if b[i] == ' ' || b[i] == '.' || b[i] == '[' {
				b[i] = '_'
			}
		}
		return []string{string(b)}
	}
	path := []string{string(b[:base])}
	rest := string(b[base:])
	for strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break
		}
		path = append(path, rest[1:end])
		rest = rest[end+1:]
	}
	return path
}

// protectedAddress is the test's own list of where the configured fields
// (ssn, email, card.number, form field card_number, records[*].ssn) live,
// compared case-insensitively; "" is any array element.
func protectedAddress(path []string) bool {
	is := func(i int, name string) bool { return strings.EqualFold(path[i], name) }
	switch len(path) {
	case 1:
		return is(0, "ssn") || is(0, "email") || is(0, "card_number")
	case 2:
		// ssn[] and ssn[key]; records[ssn] is {records: {ssn}} to
		// Rack and qs, whose values an upstream may iterate.
		return is(0, "ssn") || is(0, "card") && is(1, "number") || is(0, "records") && is(1, "ssn")
	case 3:
		return is(0, "records") && is(2, "ssn")
	}
	return false
}

func formRules(t testing.TB, m Matching) *Rules {
	r, err := Compile(Spec{Random: []string{"ssn", "card.number", "records[*].ssn"}, Deterministic: []string{"email"}, FormNames: []string{"card_number"}, Matching: m})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// formCases put a secret under a name that at least one reader binds to a
// protected field.
var formCases = []string{
	"ssn=SECRET",
	"SSN=SECRET",
	"%73sn=SECRET",
	"s%53n=SECRET",
	"ſsn=SECRET",
	"ssn%00junk=SECRET",
	"+ssn=SECRET",
	"%20%20ssn=SECRET",
	"ssn[]=SECRET&ssn[]=SECRET",
	"ssn[0]=SECRET",
	"ssn[home]=SECRET",
	"card.number=SECRET",
	"card[number]=SECRET",
	"Card[Number]=SECRET",
	"card+number=SECRET",
	"card%20number=SECRET",
	"card[number=SECRET",
	"card_number=SECRET",
	"records[0][ssn]=SECRET",
	"records[][ssn]=SECRET",
	"records[0].ssn=SECRET",
	"records[7][SSN]=SECRET",
	"records[ssn]=SECRET",
	"records.ssn=SECRET",
	"email=SECRET",
	"name=Ann&ssn=SECRET&x=1",
}

// TestFormNamesBindLikeUpstreams: whatever spelling of a protected name a
// form uses, no reference reader recovers the plaintext from what the
// upstream receives.
func TestFormNamesBindLikeUpstreams(t *testing.T) {
	c := codec(t, "crm")
	rules := formRules(t, Fold)
	for _, body := range formCases {
		bound := false
		for _, read := range formReaders {
			for _, b := range read(body) {
				bound = bound || b.value == "SECRET" && protectedAddress(b.path)
			}
		}
		if !bound {
			t.Fatalf("%s: no reader binds the secret to a protected field; the case proves nothing", body)
		}
		out, n, err := rules.EncryptForm(nil, []byte(body), encFor(c))
		if err != nil {
			t.Errorf("%s: refused: %v", body, err)
			continue
		}
		for name, read := range formReaders {
			for _, b := range read(string(out)) {
				if strings.Contains(b.value, "SECRET") {
					t.Errorf("%s: %s reads %v = %q from %s", body, name, b.path, b.value, out)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: nothing encrypted", body)
		}
	}
}

// TestFormNamesUnprotected: names that no reader binds to a protected field
// are left as they are.
func TestFormNamesUnprotected(t *testing.T) {
	c := codec(t, "crm")
	rules := formRules(t, Fold)
	for _, body := range []string{"ssnx=1", "name=Ann", "card=1", "card[cvv]=1", "records[0][name]=Ann", "x.ssn=1", "notes=ssn"} {
		out, n, err := rules.EncryptForm(nil, []byte(body), encFor(c))
		if err != nil || n != 0 || string(out) != body {
			t.Errorf("%s: got %s, %d, %v", body, out, n, err)
		}
	}
}

// TestFormDeterministicSearch: a deterministic name gives the same token
// in every spelling and every request, so a query still finds records.
func TestFormDeterministicSearch(t *testing.T) {
	c := codec(t, "crm")
	rules := formRules(t, Fold)
	var toks []string
	for _, q := range []string{"email=ann%40example.com", "Email=ann%40example.com&limit=5", "email[]=ann%40example.com"} {
		out, _, err := rules.EncryptForm(nil, []byte(q), encFor(c))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := url.ParseQuery(string(out))
		for _, vs := range v {
			for _, s := range vs {
				if strings.HasPrefix(s, token.Prefix) {
					toks = append(toks, s)
				}
			}
		}
	}
	if len(toks) != 3 || toks[0] != toks[1] || toks[1] != toks[2] || !strings.HasPrefix(toks[0], "kw1st.") {
		t.Fatalf("tokens %v", toks)
	}
}

// TestFormAmbiguousRefused: a protected name after a ';' (a separator for
// Rack 2 and older Python), or two different spellings of one protected
// name, are refused, and the error quotes nothing of the request.
func TestFormAmbiguousRefused(t *testing.T) {
	c := codec(t, "crm")
	rules := formRules(t, Fold)
	for _, body := range []string{"a=1;ssn=SECRET", "a=1;SSN=SECRET", "x;ssn=SECRET", "ssn=1&SSN=SECRET", "card[number]=1&card.number=SECRET", "ssn=1&%20ssn=SECRET"} {
		_, _, err := rules.EncryptForm(nil, []byte(body), encFor(c))
		if !errors.Is(err, ErrAmbiguousName) {
			t.Errorf("%s: err = %v, want ErrAmbiguousName", body, err)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "SSN") || strings.Contains(err.Error(), "%20") {
			t.Errorf("%s: the error quotes the request: %v", body, err)
		}
	}
	// The same spelling twice is an array, not an ambiguity; a ';' inside
	// an unprotected value is no separator to worry about.
	for _, body := range []string{"ssn[]=1&ssn[]=2", "ssn=1&ssn=2", "q=a;b", "ssn=1;2"} {
		if _, _, err := rules.EncryptForm(nil, []byte(body), encFor(c)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	for _, body := range []string{"ssn=%zz", "%zz=1"} {
		_, _, err := rules.EncryptForm(nil, []byte(body), encFor(c))
		var fe *FormError
		if !errors.As(err, &fe) || !errors.Is(err, errBadEscape) || strings.Contains(err.Error(), "zz") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// TestCheckForm: the check of a form the proxy does not (or did) rewrite
// finds a protected name whose value is not a token, at any separator, and
// says where without quoting it.
func TestCheckForm(t *testing.T) {
	c := codec(t, "crm")
	rules := formRules(t, Fold)
	tok, _, _ := c.Encrypt([]byte("x"), token.GCM, token.Text)
	for body, pair := range map[string]int{"ssn=SECRET": 1, "a=1&Card.Number=SECRET": 2, "a=1;b=2;%20ssn=SECRET": 3,
		"ssn=" + tok + "&records[0][ssn]=SECRET": 2, "ssn=" + tok + "+x": 1} {
		err := rules.CheckForm([]byte(body))
		var fe *FormError
		if !errors.As(err, &fe) || !errors.Is(err, ErrExposed) || fe.Pair != pair || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: %v, want pair %d exposed", body, err, pair)
		}
	}
	for _, body := range []string{"ssn=" + tok, "ssn=&name=Ann", "note=ssn", "", "&&;"} {
		if err := rules.CheckForm([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	if err := rules.CheckForm([]byte("a=1&%zz=2")); !errors.Is(err, errBadEscape) {
		t.Errorf("bad escape: %v", err)
	}
}

// FuzzRewriteForm: the form rewriter never panics, copies unprotected
// pairs byte for byte, and no reference reader recovers a value bound to a
// protected field from what it emits.
func FuzzRewriteForm(f *testing.F) {
	c := codec(f, "crm")
	rules := formRules(f, Fold)
	for _, s := range formCases {
		f.Add(s)
	}
	for _, s := range []string{"a=1;ssn=2", "ssn=1&SSN=2", "ssn=%zz", "=&&=", "a", "records[0][ssn", "[ssn]=1", "ssn[[]]=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, _, err := rules.EncryptForm(nil, []byte(body), encFor(c))
		if err != nil {
			return
		}
		for name, read := range formReaders {
			for _, b := range read(string(out)) {
				if protectedAddress(b.path) && b.value != "" && token.Span([]byte(b.value)) != len(b.value) {
					t.Fatalf("%s binds %v = %q, not a token, from %q (input %q)", name, b.path, b.value, out, body)
				}
			}
		}
	})
}

// TestEncryptFormLinearInPairs: a form of max_body_bytes (4 MiB) made of
// short protected pairs (about 700 000 "ssn=1") is rewritten in time
// linear in its pairs. Each pair's spelling was compared with every one
// before it: 10 000 pairs took 0.1 s, 100 000 1.6 s, a 4 MiB body hours of
// one core per request. The bound is generous for a loaded machine; the
// rewrite takes a fraction of a second.
func TestEncryptFormLinearInPairs(t *testing.T) {
	r, err := Compile(Spec{Random: []string{"ssn", "card.number"}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.TrimSuffix(strings.Repeat("ssn=1&", (4<<20)/6), "&"))
	enc := func(dst, _ []byte, _ bool, _ token.Kind) ([]byte, error) { return append(dst, "tok"...), nil }
	done := make(chan int, 1)
	go func() {
		_, n, err := r.EncryptForm(nil, body, enc)
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	select {
	case n := <-done:
		if want := (4 << 20) / 6; n != want {
			t.Fatalf("%d pairs encrypted, want %d", n, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a 4 MiB form of protected pairs took over 20 s to rewrite")
	}
}
