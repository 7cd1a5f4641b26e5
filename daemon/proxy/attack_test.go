package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine/token"
)

// Requests written by hand on a raw socket, framed as net/http's client
// never frames them, and answers no well-behaved upstream sends: each must
// get an answer within answerWithin, and no protected plaintext may reach
// the upstream (upstreamClean) or come back in a refusal.

// upstreamClean fails the test if the upstream received secret anywhere:
// body, query, headers or trailers.
func upstreamClean(t *testing.T, up *upstream) {
	t.Helper()
	for _, s := range up.seen() {
		if bytes.Contains(s.body, []byte(secret)) || strings.Contains(s.query, secret) || strings.Contains(fmt.Sprint(s.header), secret) {
			t.Fatalf("plaintext reached the upstream: %q %q %v", s.query, s.body, s.header)
		}
	}
}

// TestTrailersNeverCarryPlaintextUpstream: trailer fields the request does
// not declare (no Trailer header, so readFraming cannot see them before
// the body) arrive after the last chunk. net/http keeps them in
// Request.Trailer; the proxy must not forward them, whether it rewrote the
// body (sent with a Content-Length, no trailers) or streamed it.
func TestTrailersNeverCarryPlaintextUpstream(t *testing.T) {
	keys := newRing(t, 16, "crm")
	var trailers []http.Header
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		trailers = append(trailers, r.Trailer.Clone())
		w.WriteHeader(204)
	})
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"ssn":"` + secret + `"}`},
		{"application/x-www-form-urlencoded", "ssn=" + secret},
		{"application/octet-stream", "\x89PNG\r\n"},
	} {
		raw := fmt.Sprintf("POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%s\r\n0\r\nSsn: %s\r\nX-Card: %s\r\n\r\n",
			c.ct, len(c.body), c.body, secret, secret)
		resp, body, _ := rawRequest(t, m.Addr("crm"), raw)
		if resp.StatusCode != 204 {
			t.Fatalf("%s: %d %s", c.ct, resp.StatusCode, body)
		}
	}
	upstreamClean(t, up)
	for _, tr := range trailers {
		if strings.Contains(fmt.Sprint(tr), secret) {
			t.Fatalf("a trailer reached the upstream: %v", tr)
		}
	}
	if len(trailers) != 3 {
		t.Fatalf("%d requests reached the upstream", len(trailers))
	}
}

// TestExpectContinue: a client that sends Expect: 100-continue and waits
// for the 100 before its body gets it (net/http sends it when the proxy
// starts reading), and the body is encrypted as any other; one whose body
// the proxy refuses by its headers gets the refusal without a 100 and
// never sends it.
func TestExpectContinue(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	body := `{"ssn":"` + secret + `","n":1}`
	for _, c := range []struct {
		ct          string
		status      int
		continue100 bool
	}{
		{"application/json", 200, true},
		{"image/gif", http.StatusUnsupportedMediaType, false},
	} {
		conn, err := net.Dial("tcp", m.Addr("crm"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(answerWithin))
		fmt.Fprintf(conn, "POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", c.ct, len(body))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer to the headers: %v", c.ct, err)
		}
		if got := resp.StatusCode == 100; got != c.continue100 {
			t.Fatalf("%s: first answer %d", c.ct, resp.StatusCode)
		}
		if resp.StatusCode == 100 {
			io.WriteString(conn, body)
			// Past every 1xx: the upstream's own 100 Continue is
			// passed on too (ReverseProxy forwards 1xx answers).
			for resp.StatusCode < 200 {
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || (c.status == 200 && string(got) != body) {
			t.Fatalf("%s: %d %s", c.ct, resp.StatusCode, got)
		}
	}
	upstreamClean(t, up)
	if s := up.seen(); len(s) != 1 || !bytes.Contains(s[0].body, []byte(token.Prefix)) {
		t.Fatalf("upstream saw %q", s)
	}
}

// TestHTTP10ConnectionClose: an HTTP/1.0 request (no chunked framing, the
// connection closed after the answer) is encrypted as any other and the
// proxy closes the connection after answering; one without a
// Content-Length has no body for net/http, so what follows its headers
// is never read as a body nor forwarded.
func TestHTTP10ConnectionClose(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	body := `{"ssn":"` + secret + `"}`
	for _, c := range []struct{ name, raw, want string }{
		{"with Content-Length", fmt.Sprintf("POST /records HTTP/1.0\r\nHost: crm\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body), body},
		{"without Content-Length", "POST /records HTTP/1.0\r\nHost: crm\r\nContent-Type: application/json\r\n\r\n" + body, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, got, err := rawRequest(t, m.Addr("crm"), c.raw)
			if err != nil || resp.StatusCode != 200 || string(got) != c.want || !resp.Close {
				t.Fatalf("%d %q close=%v %v", resp.StatusCode, got, resp.Close, err)
			}
		})
	}
	upstreamClean(t, up)
}

// TestContentLengthShorterThanBody: bytes past a request's Content-Length
// are the next request on the connection (request smuggling, when a
// front end and the upstream disagree on where a body ends). The proxy
// reads that second request as its own, protects it like any other, and
// sends the upstream its own framing: the smuggled plaintext never
// reaches it in clear.
func TestContentLengthShorterThanBody(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	first := `{"n":1}`
	smuggled := fmt.Sprintf("POST /records?ssn=%s HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n{\"ssn\":\"%s\"}",
		secret, len(secret)+10, secret)
	c, err := net.Dial("tcp", m.Addr("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(answerWithin))
	fmt.Fprintf(c, "POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s%s", len(first), first, smuggled)
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("answer %d: %d %s", i, resp.StatusCode, b)
		}
	}
	upstreamClean(t, up)
	if s := up.seen(); len(s) != 2 || !strings.Contains(s[1].query, token.Prefix) || !bytes.Contains(s[1].body, []byte(token.Prefix)) {
		t.Fatalf("upstream saw %q", s)
	}
}

// TestDeepNesting: a request nested past fields.MaxDepth is refused (400,
// not a stack overflow of the proxy), and an answer nested a million deep
// around a token is decrypted without recursion, within bounded time.
func TestDeepNesting(t *testing.T) {
	keys := newRing(t, 16, "crm")
	codec := token.NewCodec("crm", keys.rings)
	tok, _, _ := codec.Encrypt([]byte(secret), token.GCM, token.Text)
	const deep = 1 << 20
	answer := strings.Repeat("[", deep) + `"` + tok + `"` + strings.Repeat("]", deep)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	for _, body := range []string{strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000), strings.Repeat("[", 1<<20)} {
		resp, got, _ := rawRequest(t, m.Addr("crm"), fmt.Sprintf("POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
		if resp.StatusCode != 400 || resp.Header.Get("X-Keyward-Refused") != ErrKindInvalidJSON || !bytes.Contains(got, []byte("nested deeper than")) {
			t.Fatalf("%d %.200s", resp.StatusCode, got)
		}
	}
	resp, got, err := rawRequest(t, m.Addr("crm"), "GET /records HTTP/1.1\r\nHost: crm\r\nConnection: close\r\n\r\n")
	if err != nil || resp.StatusCode != 200 || len(got) != 2*deep+len(secret)+2 || !bytes.Contains(got, []byte(`"`+secret+`"`)) {
		t.Fatalf("%d, %d bytes, %v", resp.StatusCode, len(got), err)
	}
}

// TestHundredThousandFields: a JSON body and a form body of 100 000 fields
// each, and a query string of 10 000 (a protected one among them every
// tenth) go through with every protected value encrypted, within
// answerWithin on a loaded machine; a query string of 10 001 is refused
// (ReverseProxy would drop it whole); a form over max_body_bytes (4 MiB)
// is refused 413 whether it declares its length or streams it chunked.
func TestHundredThousandFields(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(204) })
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	const n = 100000
	var js, form bytes.Buffer
	js.WriteString(`{"records":[`)
	for i := range n {
		if i > 0 {
			js.WriteByte(',')
			form.WriteByte('&')
		}
		if i%10 == 0 {
			fmt.Fprintf(&js, `{"ssn":"%s"}`, secret)
			fmt.Fprintf(&form, "ssn=%s", secret)
		} else {
			fmt.Fprintf(&js, `{"f%d":"v"}`, i)
			fmt.Fprintf(&form, "f%d=v", i)
		}
	}
	js.WriteString(`]}`)
	for _, c := range []struct{ name, target, ct, body string }{
		{"JSON", "/records", "application/json", js.String()},
		{"form", "/records", "application/x-www-form-urlencoded", form.String()},
		{"query", "/records?" + firstPairs(form.String(), maxQueryParams), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := "POST " + c.target + " HTTP/1.1\r\nHost: crm\r\nConnection: close\r\n"
			if c.ct != "" {
				raw += "Content-Type: " + c.ct + "\r\n"
			}
			raw += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(c.body), c.body)
			t0 := time.Now()
			resp, got, _ := rawRequest(t, m.Addr("crm"), raw)
			if resp.StatusCode != 204 {
				t.Fatalf("%d %.300s", resp.StatusCode, got)
			}
			t.Logf("%s: %s", c.name, time.Since(t0))
		})
	}
	upstreamClean(t, up)
	s := up.seen()
	if len(s) != 3 {
		t.Fatalf("upstream got %d requests", len(s))
	}
	for i, got := range []int{bytes.Count(s[0].body, []byte(`:"kw1gt.`)), bytes.Count(s[1].body, []byte("=kw1gt.")), strings.Count(s[2].query, "=kw1gt.")} {
		if want := []int{n / 10, n / 10, maxQueryParams / 10}[i]; got != want {
			t.Errorf("request %d: %d tokens upstream, want %d", i, got, want)
		}
	}
	// One parameter more and ReverseProxy would drop the whole query
	// string: refused instead of sent on without it.
	resp, got, _ := rawRequest(t, m.Addr("crm"), "GET /records?"+firstPairs(form.String(), maxQueryParams+1)+" HTTP/1.1\r\nHost: crm\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 400 || resp.Header.Get("X-Keyward-Refused") != ErrKindInvalidForm || !bytes.Contains(got, []byte("10001 parameters")) {
		t.Fatalf("%d %.300s", resp.StatusCode, got)
	}
	huge := "ssn=" + secret + "&pad=" + strings.Repeat("p", 5<<20)
	for _, framing := range []string{fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(huge), huge), fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(huge), huge)} {
		resp, got, _ := rawRequest(t, m.Addr("crm"), "POST /records HTTP/1.1\r\nHost: crm\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n"+framing)
		if resp.StatusCode != 413 || resp.Header.Get("X-Keyward-Refused") != ErrKindTooLarge {
			t.Fatalf("%d %.300s", resp.StatusCode, got)
		}
	}
}

// firstPairs is the first n pairs of a form.
func firstPairs(form string, n int) string {
	i := 0
	for ; n > 0 && i < len(form); n-- {
		j := strings.IndexByte(form[i:], '&')
		if j < 0 {
			return form
		}
		i += j + 1
	}
	return form[:i-1]
}

// TestAnswerLongerThanContentLength: an upstream that sends more than its
// Content-Length (here a whole second answer after the first) gets the
// client exactly the declared bytes, decrypted; the extra bytes never
// pass for the answer to the next request (net/http's transport drops a
// connection with unsolicited bytes), which gets its own answer.
func TestAnswerLongerThanContentLength(t *testing.T) {
	keys := newRing(t, 16, "crm")
	codec := token.NewCodec("crm", keys.rings)
	tok, _, _ := codec.Encrypt([]byte(secret), token.GCM, token.Text)
	answer := `{"ssn":"` + tok + `"}`
	smuggled := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"smuggled\":1}"
	up := rawServer(t, func(c net.Conn, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s%s", len(answer), answer, smuggled)
		return true
	})
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up))
	for i := 0; i < 3; i++ {
		resp, got, err := rawRequest(t, m.Addr("crm"), "GET /records HTTP/1.1\r\nHost: crm\r\nConnection: close\r\n\r\n")
		if err != nil || resp.StatusCode != 200 || string(got) != `{"ssn":"`+secret+`"}` {
			t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, got, err)
		}
	}
}
