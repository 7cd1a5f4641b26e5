package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy/fields"
	"github.com/keyward/keyward/engine/token"
)

// demoApp is the stock demo's rules (daemon/demo/saas): JSON fields only,
// no form rules, and an upstream that reads JSON whatever the header says.
func demoApp(upstream string) config.ProxyApp {
	return config.ProxyApp{Name: "demo", Upstream: upstream,
		Fields:              []string{"ssn", "card.number", "records[*].ssn", "records[*].card.number"},
		DeterministicFields: []string{"email", "records[*].email"},
		PassContentTypes:    []string{"image/png", "text/plain"},
	}
}

// send makes one request with headers added in order (so they can repeat).
func send(t *testing.T, method, u string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

// do sends req and returns the answer with its whole body.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func utf16LE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

const secret = "123-45-6789"

// TestFramingRefusals: each request is one an upstream could read with a
// protected value in it while the proxy read none; each is refused with its
// kind, nothing reaches the upstream, and neither the answer nor the event
// quotes the body.
func TestFramingRefusals(t *testing.T) {
	keys := newRing(t, 16, "crm", "demo", "bytype")
	up := newUpstream(t, echo)
	rec := &recorder{}
	// JSON fields protect only JSON bodies in bytype (field_scope
	// by_type): forms and queries naming them are refused, not encrypted.
	bytype := demoApp(up.URL)
	bytype.Name, bytype.FieldScope = "bytype", config.ScopeByType
	m := startProxy(t, keys.rings, rec, crmApp(up.URL), demoApp(up.URL), bytype)
	js := []byte(`{"ssn":"` + secret + `"}`)
	form := []byte("ssn=" + secret)
	cases := []struct {
		name, app, method, path string
		body                    []byte
		hdr                     []string
		status                  int
		kind                    string
	}{
		{"two Content-Type headers", "crm", "POST", "/r", js, []string{"Content-Type", "application/x-www-form-urlencoded", "Content-Type", "application/json"}, 400, ErrKindFraming},
		{"same Content-Type twice", "crm", "POST", "/r", js, []string{"Content-Type", "application/json", "Content-Type", "application/json"}, 400, ErrKindFraming},
		{"Content-Type list", "crm", "POST", "/r", js, []string{"Content-Type", "application/x-www-form-urlencoded, application/json"}, 400, ErrKindFraming},
		{"Content-Type without subtype", "crm", "POST", "/r", js, []string{"Content-Type", "json"}, 400, ErrKindFraming},
		{"Content-Type bad parameter", "crm", "POST", "/r", js, []string{"Content-Type", "application/json; charset"}, 400, ErrKindFraming},
		{"Content-Type repeated parameter", "crm", "POST", "/r", js, []string{"Content-Type", "application/json; charset=utf-8; charset=utf-16"}, 400, ErrKindFraming},
		{"empty Content-Type", "crm", "POST", "/r", js, []string{"Content-Type", ""}, 400, ErrKindFraming},
		{"two Content-Encoding headers", "crm", "POST", "/r", js, []string{"Content-Type", "application/json", "Content-Encoding", "identity", "Content-Encoding", "identity"}, 400, ErrKindFraming},
		{"Content-Encoding list", "crm", "POST", "/r", js, []string{"Content-Type", "application/json", "Content-Encoding", "identity, identity"}, 400, ErrKindFraming},
		{"method override", "crm", "POST", "/r", form, []string{"Content-Type", "application/x-www-form-urlencoded", "X-HTTP-Method-Override", "GET"}, 400, ErrKindFraming},
		{"X-HTTP-Method", "crm", "POST", "/r", js, []string{"Content-Type", "application/json", "X-HTTP-Method", "PUT"}, 400, ErrKindFraming},
		{"UTF-16 JSON", "crm", "POST", "/r", utf16LE(string(js)), []string{"Content-Type", "application/json; charset=utf-16"}, 415, ErrKindCharset},
		{"Latin-1 form", "crm", "POST", "/r", form, []string{"Content-Type", "application/x-www-form-urlencoded; charset=iso-8859-1"}, 415, ErrKindCharset},
		{"JSON labelled a form", "crm", "POST", "/r", js, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindInvalidForm},
		{"JSON labelled a form, demo", "demo", "POST", "/r", js, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindInvalidForm},
		{"percent-encoded JSON in a form", "crm", "POST", "/r", []byte("a=1&%7B%22ssn%22%3A%22" + secret + "%22%7D"), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindInvalidForm},
		{"UTF-16 form", "crm", "POST", "/r", utf16LE(string(form)), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ErrKindCharset},
		{"form in a JSON-only app", "bytype", "POST", "/r", form, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindExposed},
		{"nested form name in a JSON-only app", "bytype", "POST", "/r", []byte("records[0][ssn]=" + secret), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindExposed},
		{"dotted form name in a JSON-only app", "bytype", "POST", "/r", []byte("card.number=4111111111111111"), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindExposed},
		{"query in a JSON-only app", "bytype", "GET", "/r?ssn=" + secret, nil, nil, 400, ErrKindExposed},
		{"semicolon query", "crm", "GET", "/r?a=1;ssn=" + secret, nil, nil, 400, ErrKindAmbiguousName},
		{"semicolon form", "crm", "POST", "/r", []byte("a=1;ssn=" + secret), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ErrKindAmbiguousName},
		{"JSON in a passed type", "demo", "POST", "/r", js, []string{"Content-Type", "text/plain"}, 400, ErrKindExposed},
		{"JSON with a BOM in a passed type", "demo", "POST", "/r", append([]byte("\xef\xbb\xbf \n"), js...), []string{"Content-Type", "image/png"}, 400, ErrKindExposed},
		{"broken JSON in a passed type", "demo", "POST", "/r", []byte(`{ssn:"` + secret + `"}`), []string{"Content-Type", "text/plain"}, 400, ErrKindInvalidJSON},
		{"UTF-16 JSON in a passed type", "demo", "POST", "/r", utf16LE(string(js)), []string{"Content-Type", "text/plain"}, 415, ErrKindCharset},
		{"form in a passed type", "demo", "POST", "/r", form, []string{"Content-Type", "text/plain"}, 400, ErrKindExposed},
		{"invalid JSON", "crm", "POST", "/r", []byte(`{"a":Q}`), []string{"Content-Type", "application/json"}, 400, ErrKindInvalidJSON},
		{"no content type", "demo", "POST", "/r", js, nil, 415, ErrKindContentType},
		{"multipart", "demo", "POST", "/r", []byte("--b\r\nContent-Disposition: form-data; name=\"ssn\"\r\n\r\n" + secret + "\r\n--b--\r\n"), []string{"Content-Type", "multipart/form-data; boundary=b"}, 415, ErrKindContentType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := send(t, c.method, proxyURL(m, c.app)+c.path, c.body, c.hdr...)
			if resp.StatusCode != c.status || resp.Header.Get("X-Keyward-Refused") != c.kind {
				t.Fatalf("status %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("X-Keyward-Refused"), c.status, c.kind, body)
			}
			var e struct{ Error, Message string }
			if json.Unmarshal(body, &e) != nil || e.Error != c.kind {
				t.Fatalf("refusal body %s", body)
			}
			if bytes.Contains(body, []byte("123-45")) || bytes.Contains(body, []byte("4111")) || bytes.Contains(body, []byte("Q")) {
				t.Fatalf("refusal quotes the request: %s", body)
			}
			if strings.Count(e.Message, "not valid") > 1 || strings.Count(e.Message, "not a valid") > 1 {
				t.Errorf("message repeats itself: %s", e.Message)
			}
		})
	}
	if n := len(up.seen()); n != 0 {
		t.Fatalf("the upstream received %d refused requests: %+v", n, up.seen())
	}
	for _, ev := range rec.Events() {
		if strings.Contains(ev.Details, "123-45") || strings.Contains(ev.Details, "4111") || strings.Contains(ev.Details, "ssn:") {
			t.Errorf("event quotes the request: %s", ev.Details)
		}
	}
}

// TestFramingAllowed: what the rules still let through, and how.
func TestFramingAllowed(t *testing.T) {
	keys := newRing(t, 16, "crm", "demo")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL), demoApp(up.URL))
	tok, _, err := m.Apps()[1].Codec().Encrypt([]byte(secret), token.GCM, token.Text)
	if err != nil {
		t.Fatal(err)
	}
	js := []byte(`{"ssn":"` + secret + `"}`)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 'x'}, 4096)...)
	cases := []struct {
		name, app, method, path string
		body                    []byte
		hdr                     []string
		upstreamHas             string // a token, or the body untouched
	}{
		{"text/json is JSON", "crm", "POST", "/r", js, []string{"Content-Type", "text/json"}, "kw1gt."},
		{"application/x-json is JSON", "crm", "POST", "/r", js, []string{"Content-Type", "application/x-json"}, "kw1gt."},
		{"vendor +json is JSON", "crm", "POST", "/r", js, []string{"Content-Type", "application/vnd.api+json; charset=UTF-8"}, "kw1gt."},
		{"identity encoding", "crm", "POST", "/r", js, []string{"Content-Type", "application/json", "Content-Encoding", "identity"}, "kw1gt."},
		{"unknown parameters", "crm", "POST", "/r", js, []string{"Content-Type", "application/json; odata.metadata=minimal"}, "kw1gt."},
		{"query with a token", "demo", "GET", "/r?ssn=" + tok + "&q=x", nil, nil, ""},
		{"query without protected names", "demo", "GET", "/r?sort=ssn&email_verified=1", nil, nil, ""},
		{"form without protected names, demo", "demo", "POST", "/r", []byte("name=Ann&note=ssn"), []string{"Content-Type", "application/x-www-form-urlencoded"}, "name=Ann&note=ssn"},
		{"PNG in a passed type", "demo", "POST", "/r", png, []string{"Content-Type", "image/png"}, "\x89PNG"},
		{"JSON without protected fields in a passed type", "demo", "POST", "/r", []byte(`{"note":"hi"}`), []string{"Content-Type", "text/plain"}, `{"note":"hi"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(up.seen())
			resp, body := send(t, c.method, proxyURL(m, c.app)+c.path, c.body, c.hdr...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := up.seen()
			if len(got) != n+1 {
				t.Fatalf("upstream saw %d requests", len(got)-n)
			}
			s := got[n]
			if bytes.Contains(s.body, []byte(secret)) || !bytes.Contains(s.body, []byte(c.upstreamHas)) {
				t.Fatalf("upstream got %.200q", s.body)
			}
			if c.body != nil && !bytes.Equal(body, c.body) {
				t.Fatalf("client got %.200q back", body)
			}
		})
	}
}

// TestTransferEncodingOddities writes requests by hand on a raw socket, as
// an attacker would, with framings net/http's client never sends. Whoever
// refuses them (net/http's server or the proxy), no protected value may
// reach the upstream.
func TestTransferEncodingOddities(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	body := `{"ssn":"` + secret + `"}`
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	form := "ssn=" + secret
	cases := map[string]string{
		"chunked twice":          "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
		"chunked list":           "Transfer-Encoding: chunked, chunked\r\n",
		"gzip, chunked":          "Transfer-Encoding: gzip, chunked\r\n",
		"Chunked with CL":        "Transfer-Encoding: Chunked\r\nContent-Length: 3\r\n",
		"identity":               "Transfer-Encoding: identity\r\n",
		"tab":                    "Transfer-Encoding:\tchunked\r\n",
		"obs-fold":               "Transfer-Encoding: \r\n chunked\r\n",
		"x-chunked":              "Transfer-Encoding: xchunked\r\n",
		"HTTP/1.0 chunked":       "Transfer-Encoding: chunked\r\n",
		"form type, JSON body":   "Transfer-Encoding: chunked\r\n",
		"form trailer":           "Transfer-Encoding: chunked\r\nTrailer: X-Ssn\r\n",
		"CL and chunked differ":  "Content-Length: 30\r\nTransfer-Encoding: chunked\r\n",
		"two Content-Length":     "Content-Length: 29\r\nContent-Length: 30\r\n",
		"space before colon":     "Transfer-Encoding : chunked\r\n",
		"content-type in a fold": "X-A: a\r\n Content-Type: application/x-www-form-urlencoded\r\n",
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			proto, ct, b := "HTTP/1.1", "application/json", chunked
			switch name {
			case "HTTP/1.0 chunked":
				proto = "HTTP/1.0"
			case "form type, JSON body":
				ct = "application/x-www-form-urlencoded"
			case "form trailer":
				ct = "application/x-www-form-urlencoded"
				b = fmt.Sprintf("%x\r\n%s\r\n0\r\nX-Ssn: %s\r\n\r\n", len(form), form, secret)
			case "two Content-Length", "content-type in a fold":
				b = body
			}
			c, err := net.Dial("tcp", m.Addr("crm"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /r %s\r\nHost: x\r\nContent-Type: %s\r\n%s\r\n%s", proto, ct, hdr, b)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if name == "form trailer" && (err != nil || resp.Header.Get("X-Keyward-Refused") != ErrKindFraming) {
				t.Errorf("declared trailers: %v %v", resp, err)
			}
			if err == nil {
				rb, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Logf("%d %s %.80s", resp.StatusCode, resp.Header.Get("X-Keyward-Refused"), rb)
				if bytes.Contains(rb, []byte("123-45")) && resp.StatusCode >= 400 {
					t.Errorf("refusal quotes the body: %s", rb)
				}
			}
		})
	}
	for _, s := range up.seen() {
		if bytes.Contains(s.body, []byte(secret)) || strings.Contains(s.query, secret) || strings.Contains(fmt.Sprint(s.header), secret) {
			t.Errorf("plaintext reached the upstream: %q %v", s.body, s.header)
		}
	}
}

// FuzzFraming is the decision layer alone: the framing headers, the sniff
// of a passed body's head, and the form checks never panic; what they let
// through keeps its promises; and what the form check lets through, the
// reference readers of the differential test (url.ParseQuery, PHP) find no
// protected plaintext in.
func FuzzFraming(f *testing.F) {
	f.Add("application/json", "", "", []byte(`{"ssn":"1"}`))
	f.Add("application/x-www-form-urlencoded", "application/json", "gzip", []byte("ssn=1"))
	f.Add("application/json; charset=utf-16", "", "identity, gzip", []byte("{\x00}\x00"))
	f.Add("text/plain", "", "", []byte("\xef\xbb\xbf [1]"))
	f.Add("application/x-www-form-urlencoded", "", "", []byte(" card number=4111&a=1;records[0][ssn]=2&card%2Enumber=3"))
	f.Add("multipart/form-data; boundary=\"a,b\"", "", "", []byte("--a,b\r\n"))
	ps, err := fields.Compile(fields.Spec{Random: []string{"ssn", "card.number", "records[*].ssn"}, Deterministic: []string{"email"}, FormNames: []string{"card_number"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ct1, ct2, ce string, body []byte) {
		h := http.Header{}
		for _, v := range []string{ct1, ct2} {
			if v != "" {
				h.Add("Content-Type", v)
			}
		}
		if ce != "" {
			h.Add("Content-Encoding", ce)
		}
		fr, rf := readFraming(h, nil)
		if rf == nil {
			if len(h.Values("Content-Type")) > 1 || strings.Contains(fr.encoding, ",") {
				t.Fatalf("accepted %v as %+v", h, fr)
			}
			if fr.mt != "" && strings.Count(fr.mt, "/") < 1 {
				t.Fatalf("media type %q accepted", fr.mt)
			}
			_ = fr.utf8Only()
		} else if rf.kind != ErrKindFraming || rf.msg == "" {
			t.Fatalf("refusal %+v", rf)
		}
		if k, _ := sniffHead(body); k == bodyStream {
			b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
			if json.Valid(b) && looksJSON(b) {
				t.Fatalf("JSON %q would stream unread", body)
			}
		}
		if strictForm(body) == nil && exposed(ps, body, "form body") == nil {
			if l := formLeaks("form body", string(body)); len(l) > 0 {
				t.Fatalf("form check let through %q: %v", body, l)
			}
		}
		if exposed(ps, body, "query string") == nil {
			if l := formLeaks("query string", string(body)); len(l) > 0 {
				t.Fatalf("query check let through %q: %v", body, l)
			}
		}
	})
}

// TestPassedBodyStreamsAtOnce: a passed body is sniffed from the bytes the
// client has sent, not held until 512 have come: the upstream receives the
// first bytes of a stream while the client still holds the rest.
func TestPassedBodyStreamsAtOnce(t *testing.T) {
	keys := newRing(t, 16, "demo")
	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 3)
		io.ReadFull(r.Body, b)
		got <- string(b)
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(up.Close)
	m := startProxy(t, keys.rings, &recorder{}, demoApp(up.URL))
	for _, first := range []string{"\x89PN", "\x00\x00\x00\x00\x05", "abc def"} {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", proxyURL(m, "demo")+"/stream", pr)
		req.Header.Set("Content-Type", "image/png")
		done := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		pw.Write([]byte(first))
		select {
		case b := <-got:
			if b != first[:3] {
				t.Errorf("upstream read %q", b)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: the first bytes did not reach the upstream before the rest of the body", first)
		}
		pw.Write(bytes.Repeat([]byte{1}, 1000))
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzPlainMediaType holds the allocation-free reading of a bare
// Content-Type to mime.ParseMediaType's: whenever plainMediaType answers,
// mime.ParseMediaType accepts the value with no parameter and gives the
// same media type, so the fast path can never read a header differently.
func FuzzPlainMediaType(f *testing.F) {
	for _, s := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8", "a/b/c", "/json",
		"application/", " application/json", "application/json ", "text/x-json", "application/vnd.api+json", "form-data",
		"application/{json}", "application/\u00e9", "application/json\u00a0", "APPLICATION/X-WWW-FORM-URLENCODED"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		mt, ok := plainMediaType(v)
		if !ok {
			return
		}
		want, params, err := mime.ParseMediaType(v)
		if err != nil || len(params) != 0 || mt != want {
			t.Fatalf("plainMediaType(%q) = %q; mime.ParseMediaType: %q %v %v", v, mt, want, params, err)
		}
		if i := strings.IndexByte(mt, '/'); i <= 0 || i == len(mt)-1 || strings.Count(mt, "/") != 1 {
			t.Fatalf("plainMediaType(%q) = %q: not type/subtype", v, mt)
		}
	})
}
