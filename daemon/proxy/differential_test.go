package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/token"
)

// The differential fuzz target thinks like the upstream, not like the
// proxy: raw requests (any method, headers repeated and mixed, any content
// type and encoding, bodies that are JSON, forms, JSON Patch documents and
// mixtures) are written on a socket to the real proxy; a capturing upstream
// keeps what reaches it; and several readers written here, each the way a
// common upstream reads a request, look in it for the value of a protected
// field. The test fails if any of them finds one that is not a keyward
// token.
//
// The readers:
//   - Go's encoding/json into a struct tagged with the protected names (it
//     binds member names case-insensitively and with Unicode folding), on
//     every body whatever its content type (the demo app reads JSON so), and
//     on each value of a body that is a stream of JSON documents;
//   - a JSON Patch (RFC 6902) reader: the value of an operation whose path
//     addresses a protected field, and copy/move from one;
//   - url.ParseQuery on the query string and on bodies labelled as forms,
//     with '&' and ';' both taken as separators;
//   - a PHP-style reader of the same: leading spaces stripped, '.' and ' '
//     in names read as '_', "a[]" and "a[k]" as arrays.
//
// A body labelled as anything else is not read as a form: PHP, Rails,
// Express, Django and Go read forms by their content type only.

// The protected fields of the fuzzed application, as a struct binds them.
type fuzzRecord struct {
	SSN   any `json:"ssn"`
	Email any `json:"email"`
	Card  struct {
		Number any `json:"number"`
	} `json:"card"`
	CardNumber any `json:"card_number"`
	Records    []struct {
		SSN any `json:"ssn"`
	} `json:"records"`
}

// fuzzApps: "crm" protects JSON paths and a form field; "demo" is the stock
// demo's rules (JSON only) with two pass-through types. Both wait
// fuzzClientTimeout for the rest of a body: many inputs declare one they
// do not send (a Transfer-Encoding: chunked without its last chunk), and
// each such input costs that long.
func fuzzApps(upstream string) []config.ProxyApp {
	crm := config.ProxyApp{Name: "crm", Upstream: upstream,
		Fields: []string{"ssn", "card.number", "records[*].ssn"}, DeterministicFields: []string{"email"},
		FormFields: []string{"card_number"}, PassContentTypes: []string{"text/plain", "application/octet-stream"}}
	demo := demoApp(upstream)
	demo.Fields = append(demo.Fields, "card_number")
	apps := []config.ProxyApp{crm, demo}
	for i := range apps {
		apps[i].ClientTimeout = engine.Duration(fuzzClientTimeout)
		apps[i].Timeout = engine.Duration(fuzzInputDeadline / 2)
	}
	return apps
}

const (
	// fuzzClientTimeout is the fuzzed apps' client_timeout.
	fuzzClientTimeout = 100 * time.Millisecond
	// fuzzInputDeadline bounds one input: the proxy must have answered
	// (or closed the connection) by then, or the input fails as a hang
	// with the request and every goroutine's stack. Go's fuzzing has no
	// limit of its own: a hanging input stalls the run at 0 execs/s.
	fuzzInputDeadline = 10 * time.Second
)

// exchangeOnce writes req on c and reads the proxy's answer to the end,
// past any 1xx (an Expect: 100-continue input gets a 100 Continue first).
// It reports whether the proxy answered or closed the connection before
// c's deadline.
func exchangeOnce(c net.Conn, req []byte) (answered bool) {
	// No half-close: net/http takes a client's EOF for a client gone
	// away and cancels the request.
	c.Write(req)
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return !isTimeout(err) // EOF: the proxy closed it, an answer too
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return !isTimeout(err)
		}
		if resp.StatusCode >= 200 {
			return true
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// allStacks is every goroutine's stack, cut at 64 KiB.
func allStacks() []byte {
	buf := make([]byte, 64<<10)
	return buf[:runtime.Stack(buf, true)]
}

// plain reports whether v, found at a protected name, is plaintext: any
// value but null, "" or a string that is one keyward token.
func plain(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != "" && token.Span([]byte(v)) != len(v)
	}
	return true
}

// protectedPath reports whether a list of member names (array indices
// included) addresses a protected field or something inside one, compared
// as case-insensitive parsers compare. Empty names ("a[]", "a..b") are
// skipped as PHP and Rails skip them.
func protectedPath(segs []string) bool {
	var names []string
	for _, s := range segs {
		switch {
		case s == "" || s == "-" || isIndex(s):
			if len(names) == 0 {
				return false // an element of a top-level array: no rule protects it
			}
		default:
			names = append(names, strings.ToLower(s))
		}
	}
	if len(names) == 0 {
		return false
	}
	switch names[0] {
	case "ssn", "email", "card_number":
		return true
	case "card":
		return len(names) > 1 && names[1] == "number"
	case "records":
		return len(names) > 1 && names[1] == "ssn"
	}
	return false
}

// jsonLeaks reads body as a stream of JSON documents into fuzzRecord and as
// a JSON Patch document.
func jsonLeaks(body []byte) []string {
	var out []string
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(body))
	for i := 0; ; i++ {
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			break
		}
		var r fuzzRecord
		if json.Unmarshal(raw, &r) == nil {
			for name, v := range map[string]any{"ssn": r.SSN, "email": r.Email, "card.number": r.Card.Number, "card_number": r.CardNumber} {
				if plain(v) {
					out = append(out, fmt.Sprintf("encoding/json, document %d: %s = %.40v", i, name, v))
				}
			}
			for j, rec := range r.Records {
				if plain(rec.SSN) {
					out = append(out, fmt.Sprintf("encoding/json, document %d: records[%d].ssn = %.40v", i, j, rec.SSN))
				}
			}
		}
		var ops []struct {
			Op, Path, From string
			Value          any
		}
		if json.Unmarshal(raw, &ops) == nil {
			for j, op := range ops {
				if op.Op == "" {
					// No JSON Patch reader applies an operation without
					// its op (RFC 6902 section 4: it MUST have one;
					// ASP.NET's JsonPatchDocument and evanphx/json-patch
					// refuse it), and the proxy reads an array as a patch
					// by its op members (patchLike).
					continue
				}
				if protectedPath(pointer(op.Path)) && plain(op.Value) {
					out = append(out, fmt.Sprintf("JSON Patch op %d (%s %s): value %.40v", j, op.Op, op.Path, op.Value))
				}
				if (strings.EqualFold(op.Op, "copy") || strings.EqualFold(op.Op, "move")) && protectedPath(pointer(op.From)) {
					out = append(out, fmt.Sprintf("JSON Patch op %d: %s from protected %s", j, op.Op, op.From))
				}
			}
		}
	}
	return out
}

// pointer splits an RFC 6901 JSON pointer into member names.
func pointer(p string) []string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs
}

// formLeaks reads a query string or form body with url.ParseQuery (pairs
// split at '&' and at ';') and with PHP's name rules.
func formLeaks(what, form string) []string {
	var out []string
	for _, pair := range strings.FieldsFunc(form, func(r rune) bool { return r == '&' || r == ';' }) {
		vals, _ := url.ParseQuery(pair)
		for name, vs := range vals {
			for _, v := range vs {
				if !plain(v) {
					continue
				}
				if protectedPath(goNameParts(name)) {
					out = append(out, fmt.Sprintf("url.ParseQuery of the %s: %q = %.40q", what, name, v))
				}
				if protectedPath(phpReading(name)) {
					out = append(out, fmt.Sprintf("PHP reading of the %s: %q = %.40q", what, name, v))
				}
			}
		}
	}
	return out
}

// goNameParts: Go and Spring-style binders nest on '.' and "[k]".
func goNameParts(name string) []string {
	return strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}

// phpReading reads a name as PHP's parser does: leading spaces dropped,
// '.' and ' ' in the base name turned to '_', then "[k]" nesting.
func phpReading(name string) []string {
	name = strings.TrimLeft(name, " ")
	base, rest, _ := strings.Cut(name, "[")
	base = strings.NewReplacer(".", "_", " ", "_").Replace(base)
	parts := []string{base}
	for rest != "" {
		k, after, ok := strings.Cut(rest, "]")
		if !ok {
			break
		}
		parts = append(parts, k)
		rest = strings.TrimPrefix(after, "[")
	}
	return parts
}

// captured is one request as the upstream received it.
type captured struct {
	header, trailer http.Header
	path, query     string
	body            []byte
}

type capturer struct {
	mu   sync.Mutex
	reqs []captured
}

func (c *capturer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Header.Clone(), r.Trailer.Clone(), r.URL.EscapedPath(), r.URL.RawQuery, b})
	c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ok"))
}

func (c *capturer) take() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.reqs
	c.reqs = nil
	return out
}

// leaks runs every reader on what the upstream received.
func leaks(r captured) []string {
	out := formLeaks("query string", r.query)
	for _, c := range (&http.Request{Header: r.header}).Cookies() {
		out = append(out, formLeaks("cookies", url.QueryEscape(c.Name)+"="+url.QueryEscape(c.Value))...) // ASP.NET Request.Params
	}
	for _, seg := range strings.Split(r.path, "/") {
		if _, params, ok := strings.Cut(seg, ";"); ok {
			out = append(out, formLeaks("matrix parameters", params)...) // Spring, JAX-RS
		}
	}
	for name, vs := range r.trailer {
		for _, v := range vs {
			// Trailer fields named like a protected field (the proxy
			// never inspects trailers, so it must not forward them).
			out = append(out, formLeaks("trailers", url.QueryEscape(name)+"="+url.QueryEscape(v))...)
		}
	}
	out = append(out, jsonLeaks(r.body)...)
	for _, ct := range r.header.Values("Content-Type") {
		if strings.Contains(strings.ToLower(ct), "x-www-form-urlencoded") {
			out = append(out, formLeaks("form body", string(r.body))...)
			break
		}
	}
	return out
}

// differentialSeeds are the cases of issue 10, as raw requests: app (0 crm,
// 1 demo), method, query, header lines, body.
var differentialSeeds = []struct {
	app                 byte
	method, path, query string
	headers, body       string
}{
	{0, "POST", "", "", "Content-Type: application/json", `{"ssn":"123-45-6789","card":{"number":"4111"},"records":[{"ssn":"1"}]}`},
	{1, "POST", "", "", "Content-Type: application/x-www-form-urlencoded", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: application/x-www-form-urlencoded", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: application/x-www-form-urlencoded\nContent-Type: application/json", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: application/json\nContent-Type: application/x-www-form-urlencoded", `ssn=123-45-6789`},
	{0, "POST", "", "", "Content-Type: application/json\nContent-Type: application/x-www-form-urlencoded", `{"a":"&ssn=123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: application/json\nContent-Type: application/x-www-form-urlencoded", `{"a":"&ssn=123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: application/json, application/x-www-form-urlencoded", `{"a":"&ssn=123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: application/json\nContent-Encoding: identity\nContent-Encoding: identity", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: application/json\nContent-Encoding: identity, identity", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: text/plain", `{"ssn":"123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: text/plain", "\xef\xbb\xbf{\"ssn\":\"123-45-6789\"}"},
	{1, "POST", "", "", "", `{"ssn":"123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: application/x-json", `{"ssn":"123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: text/json", `{"ssn":"123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: application/vnd.foo+json", `{"ssn":"123-45-6789"}`},
	{1, "POST", "", "", "Content-Type: application/json; charset=utf-16", "{\x00\"\x00s\x00s\x00n\x00\"\x00:\x001\x00}\x00"},
	{1, "POST", "", "", "Content-Type: application/octet-stream", "{\x00\"\x00s\x00s\x00n\x00\"\x00:\x001\x00}\x00"},
	{1, "POST", "", "", "Content-Type: application/x-www-form-urlencoded", `ssn=123-45-6789`},
	{1, "GET", "", "ssn=123-45-6789", "", ""},
	{0, "GET", "", "a=1;ssn=123-45-6789", "", ""},
	{0, "POST", "", "", "Content-Type: application/x-www-form-urlencoded", `a=1;card_number=4111`},
	{0, "POST", "", "", "Content-Type: application/x-www-form-urlencoded\nX-HTTP-Method-Override: GET", `card_number=4111`},
	{0, "POST", "", "", "Content-Type: application/json\nTransfer-Encoding: chunked", ""},
	{0, "POST", "", "", "Content-Type: multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"ssn\"\r\n\r\n123-45-6789\r\n--b--\r\n"},
	{0, "POST", "", "", "Content-Type: application/json", `[{"ssn":"1"},{"records":[{"ssn":"2"}]}]`},
	{0, "POST", "", "", "Content-Type: application/json", `{"ssn":{"nested":"123-45-6789"},"card":{"number":4111111111111111}}`},
	{1, "PUT", "", "", "Content-Type: application/merge-patch+json", `{"ssn":"123-45-6789","card":{"number":"4111"}}`},
	{0, "POST", "", "", "Content-Type: text/plain", `{"note":"hi"}` + "\n" + `{"ssn":"123-45-6789"}`},
	{1, "POST", "", "email=ann@example.com", "", ""},
	{0, "GET", "r;ssn=123-45-6789;a=1/x;card_number=4111", "", "", ""},
	{1, "GET", "", "", "Cookie: session=abc; ssn=123-45-6789\nCookie: Card.Number=4111", ""},
	{0, "POST", "", "", "Content-Type: application/json", `{"ssn":"1","ssn":"2","s\u0073n":"3","card":{"number":"4"},"Card":{"Number":"5"}}`},
	{0, "POST", "", "", "Content-Type: Application/JSON; Charset=UTF-8", `{"ssn":123456789,"email":true,"card":{"number":[4,1,1,1]}}`},
	{0, "GET", "", "", "Content-Type: application/json", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "card%5Bnumber%5D=4111&card_number=1&card_number=2", "Content-Type: application/x-www-form-urlencoded ; charset=utf-8", `card%5Bnumber%5D=4111&card_number=1`},
	{0, "POST", "", "", "Content-Type: application/octet-stream", `ssn=123-45-6789&card_number=4111`},
	{1, "POST", "", "", "Content-Type: image/png", "  \r\n[{\"ssn\":\"123-45-6789\"}]"},
	{1, "POST", "", "", "Content-Type: application/x-www-form-urlencoded", "records[0][ssn]=1&records[][ssn]=2&card[number]=3&card.number=4"},
	{0, "POST", "", "", "Content-Type: application/json\nExpect: 100-continue", `{"ssn":"123-45-6789"}`},
	{0, "POST", "", "", "Content-Type: application/json\nTransfer-Encoding: chunked", "15\r\n{\"ssn\":\"123-45-6789\"}\r\n0\r\nSsn: 123-45-6789\r\n\r\n"},
	{1, "POST", "", "", "Content-Type: text/plain\nTransfer-Encoding: chunked", "5\r\nhello\r\n0\r\nSsn: 123-45-6789\r\n\r\n"},
}

// namesSeeds are the cases of the names half of issue 10 (case and Unicode
// folding, framework form names, JSON Patch), which the fields package
// protects: see daemon/proxy/fields.
var namesSeeds = []struct {
	app                 byte
	method, path, query string
	headers, body       string
}{
	{0, "POST", "", "", "Content-Type: application/json", `{"SSN":"123-45-6789","Ssn":"1","ſsn":"2","Card":{"NUMBER":"4111"}}`},
	{0, "POST", "", "", "Content-Type: application/x-www-form-urlencoded", `CARD_NUMBER=4111& card_number=4111&card.number=4111&card_number[]=4111&card_number[x]=4111`},
	{0, "GET", "", "SSN=123-45-6789&ssn[]=1& ssn=2", "", ""},
	{0, "PATCH", "", "", "Content-Type: application/json", `[{"op":"add","path":"/ssn","value":"123-45-6789"}]`},
	{1, "PATCH", "", "", "Content-Type: application/json", `[{"op":"add","path":"/card/number","value":"4111"},{"op":"copy","from":"/ssn","path":"/x"}]`},
	{0, "PATCH", "", "", "Content-Type: application/json-patch+json; charset=utf-16", `[{"op":"add","path":"/ssn","value":"123-45-6789"}]`},
	{0, "PATCH", "", "", "Content-Type: application/json-patch+json", `[{"op":"add","path":"/ssn","value":"123-45-6789"},{"op":"replace","path":"/records/0/ssn","value":"1"},{"op":"test","path":"/card/number","value":"4111"},{"op":"copy","from":"/ssn","path":"/note"},{"op":"move","from":"/card/number","path":"/x"}]`},
}

func FuzzProxyDifferential(f *testing.F) {
	for _, s := range append(differentialSeeds, namesSeeds...) {
		f.Add(s.app, s.method, s.path, s.query, s.headers, []byte(s.body))
	}
	keys := newRing(f, 16, "crm", "demo")
	capt := &capturer{}
	up := httptest.NewServer(capt)
	defer up.Close()
	m := startProxy(f, keys.rings, nil, fuzzApps(up.URL)...)
	addrs := []string{m.Addr("crm"), m.Addr("demo")}
	var mu sync.Mutex // one request at a time, so what the upstream caught is this input's
	f.Fuzz(func(t *testing.T, app byte, method, path, query, headers string, body []byte) {
		if method == "" || strings.ContainsAny(method, " \r\n\t") || strings.ContainsAny(path+query, " \r\n#?") || strings.Contains(headers, "\r") {
			return // not one request line
		}
		mu.Lock()
		defer mu.Unlock()
		capt.take()
		var req bytes.Buffer
		target := "/fz/" + path
		if query != "" {
			target += "?" + query
		}
		fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n", method, target)
		for _, h := range strings.Split(headers, "\n") {
			if h != "" {
				req.WriteString(h + "\r\n")
			}
		}
		if !strings.Contains(strings.ToLower(headers), "transfer-encoding") {
			fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
		}
		req.WriteString("\r\n")
		req.Write(body)
		c, err := net.Dial("tcp", addrs[int(app)%len(addrs)])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(fuzzInputDeadline))
		answered := exchangeOnce(c, req.Bytes())
		c.Close()
		if !answered {
			t.Fatalf("the proxy neither answered nor closed the connection within %s (client_timeout %s): a hang.\nrequest:\n%q\ngoroutines:\n%s",
				fuzzInputDeadline, fuzzClientTimeout, req.Bytes(), allStacks())
		}
		// ReverseProxy answers once the upstream has answered, so what it
		// caught is complete; a request refused before it got there left
		// nothing.
		for _, r := range capt.take() {
			if l := leaks(r); len(l) > 0 {
				t.Fatalf("the upstream can read protected plaintext:\n  %s\nrequest:\n%s", strings.Join(l, "\n  "), req.Bytes())
			}
		}
	})
}
