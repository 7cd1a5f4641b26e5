package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/token"
)

// The tests here play a peer that stops: a client that sends part of a
// body and waits, an upstream that sends part of an answer and waits, one
// that never reads a request, a client that never reads its answer. Each
// holds its side of the connection open, as an attacker would, and gives
// the proxy a hard deadline (answerWithin) far above the configured pause,
// so a proxy that waits forever fails the test with what it was sent
// rather than hanging it, and a loaded machine does not.

// pause is the client_timeout and timeout of the apps under test.
const pause = 300 * time.Millisecond

// answerWithin bounds how long a test waits for the proxy to give up on
// a stalled peer: many pauses, for a loaded machine.
const answerWithin = 15 * time.Second

// countedOnce waits for the proxy to count one error of kind and fails
// if it counts it more or never. The count is taken when the handler
// returns, which can be just after the peer the test watches saw the
// exchange cut (CI once read an empty map in that window).
func countedOnce(t *testing.T, m *Manager, kind string) {
	t.Helper()
	errs := func() map[string]int64 { return m.Statuses()[0].Errors }
	testkit.Eventually(t, answerWithin, kind+" counted", func() bool { return errs()[kind] > 0 },
		func() string { return fmt.Sprint(errs()) })
	if n := errs()[kind]; n != 1 {
		t.Errorf("%s counted %d times, want 1: %v", kind, n, errs())
	}
}

func stallApp(upstream string) config.ProxyApp {
	a := crmApp(upstream)
	a.PassContentTypes = []string{"application/octet-stream", "text/plain"}
	a.Timeout = engine.Duration(pause)
	a.ClientTimeout = engine.Duration(pause)
	return a
}

// rawRequest writes raw on a new connection to addr, leaves the connection
// open, and returns the answer the proxy gives (its body read to the end
// or to a failure), failing the test if none comes within answerWithin.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, []byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(answerWithin))
	// Written as the answer is read: a proxy that refuses a large body
	// by its headers answers before the body is all sent.
	go io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the proxy gave no answer within %s to a request it cannot complete:\n%.300q", answerWithin, raw)
		}
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the proxy did not end its answer within %s:\n%.300q", answerWithin, raw)
	}
	return resp, body, err
}

// TestSlowlorisBodyCutOff: a client that declares a body and sends part of
// it (or none), then waits with the connection open, is answered 408
// client-timeout after client_timeout, whether the proxy reads the body
// (JSON, form), sniffs it (a pass_content_types type) or streams it, and
// whether the body is chunked or a Content-Length promises more than
// comes. The upstream never sees the plaintext sent so far.
func TestSlowlorisBodyCutOff(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	for _, c := range []struct{ name, head, body string }{
		{"JSON, Content-Length promising more", "Content-Type: application/json\r\nContent-Length: 1000", `{"ssn":"123-45-6789","notes":"`},
		{"JSON, chunked never ending", "Content-Type: application/json\r\nTransfer-Encoding: chunked", "1c\r\n{\"ssn\":\"123-45-6789\",\"x\":\"a\r\n"},
		{"JSON, no byte of the body", "Content-Type: application/json\r\nContent-Length: 50", ""},
		{"form, Content-Length promising more", "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000", "ssn=123-45-6789&a="},
		{"pass type, sniffed", "Content-Type: text/plain\r\nContent-Length: 1000", ""},
		{"pass type, streamed upstream", "Content-Type: application/octet-stream\r\nContent-Length: 1000", "\x89PNG\r\n"},
		{"pass type, streamed chunked", "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked", "6\r\n\x89PNG\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Now()
			resp, body, _ := rawRequest(t, m.Addr("crm"), "POST /records HTTP/1.1\r\nHost: crm\r\n"+c.head+"\r\n\r\n"+c.body)
			if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Keyward-Refused") != ErrKindClientTimeout ||
				!strings.Contains(string(body), "the client sent nothing more of its request body for 300ms (client_timeout)") {
				t.Fatalf("after %s: %d %s", time.Since(t0), resp.StatusCode, body)
			}
			if bytes.Contains(body, []byte("123-45-6789")) {
				t.Fatalf("the answer echoes the body: %s", body)
			}
			for _, s := range up.seen() {
				if bytes.Contains(s.body, []byte("123-45-6789")) {
					t.Fatalf("the upstream got plaintext: %q", s.body)
				}
			}
		})
	}
	if n := m.Statuses()[0].Errors[ErrKindClientTimeout]; n != 7 {
		t.Errorf("client-timeout counted %d times, want 7", n)
	}
}

// TestSlowBodyThatKeepsComingPasses: client_timeout bounds a pause, not a
// body: one sent in pieces, each within the pause, over more than three
// pauses in all, goes through encrypted.
func TestSlowBodyThatKeepsComingPasses(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, stallApp(up.URL))
	body := `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 16) + `"}`
	c, err := net.Dial("tcp", m.Addr("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(answerWithin))
	fmt.Fprintf(c, "POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	t0 := time.Now()
	for i := 0; i < len(body); i += 2 {
		time.Sleep(pause / 4)
		io.WriteString(c, body[i:min(i+2, len(body))])
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != body || time.Since(t0) < 3*pause {
		t.Fatalf("after %s: %d %s", time.Since(t0), resp.StatusCode, got)
	}
	if s := up.seen(); len(s) != 1 || bytes.Contains(s[0].body, []byte("123-45-6789")) || !bytes.Contains(s[0].body, []byte(token.Prefix)) {
		t.Fatalf("upstream got %q", s)
	}
}

// stallingUpstream answers every request with head and part, then holds
// the connection open (as an upstream stuck mid-answer) until the test
// ends. It reads the request first.
func stallingUpstream(t *testing.T, head string, part []byte) string {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	return rawServer(t, func(c net.Conn, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		c.Write([]byte(head))
		c.Write(part)
		<-stop
		return false
	})
}

// TestUpstreamStallsMidAnswer: an upstream that sends its headers and part
// of an answer the proxy reads, then nothing, with the connection open:
// read whole (a small JSON or form answer) the client gets a 504
// upstream-timeout and nothing of the answer; streamed (a large JSON
// answer) the client's connection is aborted after what was decrypted, so
// a cut answer never looks whole. Either comes after timeout, not never.
func TestUpstreamStallsMidAnswer(t *testing.T) {
	keys := newRing(t, 16, "crm")
	codec := token.NewCodec("crm", keys.rings)
	tok, _, _ := codec.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	small := []byte(`{"ssn":"` + tok + `","notes":"`)
	big := []byte(`{"ssn":"` + tok + `","notes":"` + strings.Repeat("n", 200<<10) + `","more":"`)
	for _, c := range []struct {
		name, head string
		part       []byte
		streamed   bool
	}{
		{"JSON, chunked never ending", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", []byte(fmt.Sprintf("%x\r\n%s\r\n", len(small), small)), false},
		{"JSON, Content-Length promising more", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n", small, false},
		{"form, Content-Length promising more", "HTTP/1.1 200 OK\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n", []byte("ssn=" + tok + "&a="), false},
		{"JSON streamed, chunked never ending", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", []byte(fmt.Sprintf("%x\r\n%s\r\n", len(big), big)), true},
		{"JSON streamed, Content-Length promising more", fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(big)+5000), big, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := startProxy(t, keys.rings, &recorder{}, stallApp(stallingUpstream(t, c.head, c.part)))
			resp, body, err := rawRequest(t, m.Addr("crm"), "GET /records HTTP/1.1\r\nHost: crm\r\n\r\n")
			if c.streamed {
				if resp.StatusCode != 200 || err == nil {
					t.Fatalf("a cut streamed answer reached the client whole: %d, %d bytes, %v", resp.StatusCode, len(body), err)
				}
				if len(body) > 0 && !bytes.HasPrefix(body, []byte(`{"ssn":"123-45-6789",`)) {
					t.Fatalf("the streamed part was not decrypted: %.60s", body)
				}
			} else {
				if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), ErrKindTimeout) ||
					!strings.Contains(string(body), "the upstream sent nothing more of its answer for 300ms (timeout)") {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				if bytes.Contains(body, []byte("123-45-6789")) || bytes.Contains(body, []byte(token.Prefix)) {
					t.Fatalf("the 504 carries the answer: %s", body)
				}
			}
			countedOnce(t, m, ErrKindTimeout)
		})
	}
}

// TestUpstreamNeverReadsRequest: an upstream that accepts the connection
// and never reads makes the proxy's write of a large rewritten request
// block once the socket buffers are full; net/http's
// ResponseHeaderTimeout starts only after the request is written, so
// without a bound on each write the exchange waits forever. The client
// gets a 504 upstream-timeout.
func TestUpstreamNeverReadsRequest(t *testing.T) {
	keys := newRing(t, 16, "crm")
	stop := make(chan struct{})
	defer close(stop)
	// Reads the request's headers, never its body.
	up := rawServer(t, func(net.Conn, *http.Request) bool { <-stop; return false })
	app := stallApp(up)
	app.MaxBodyBytes = 64 << 20
	m := startProxy(t, keys.rings, &recorder{}, app)
	body := `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 48<<20) + `"}`
	resp, got, _ := rawRequest(t, m.Addr("crm"), fmt.Sprintf("POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(got), ErrKindTimeout) {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
}

// TestClientStopsReadingHugeAnswer: a client that reads the headers of a
// huge streamed answer and then nothing, with its connection open, is cut
// off after client_timeout: the upstream's write fails (the proxy closed
// its side) instead of both waiting forever, and the proxy's heap holds a
// window of the answer, not the answer.
func TestClientStopsReadingHugeAnswer(t *testing.T) {
	keys := newRing(t, 16, "crm")
	codec := token.NewCodec("crm", keys.rings)
	tok, _, _ := codec.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	rec := []byte(`{"ssn":"` + tok + `","notes":"` + strings.Repeat("n", 900) + `"},`)
	for _, ct := range []string{"application/json", "application/octet-stream"} {
		t.Run(ct, func(t *testing.T) {
			upDone := make(chan error, 1)
			var sent atomic.Int64
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.Header().Set("Content-Type", ct)
				w.Write([]byte(`{"records":[`))
				for {
					n, err := w.Write(rec)
					sent.Add(int64(n))
					if err != nil {
						upDone <- err
						return
					}
					if sent.Load() > 1<<30 {
						upDone <- fmt.Errorf("1 GiB sent to a client that reads nothing")
						return
					}
				}
			})
			// The client is the peer that stops here. The upstream's own
			// timeout is left far above the pause: with both at 300 ms,
			// an upstream writer the race detector kept off the CPU that
			// long was judged stalled first ("upstream-timeout" counted,
			// never "client-timeout", in CI's -race run at load 19).
			app := stallApp(up.URL)
			app.Timeout = engine.Duration(answerWithin)
			m := startProxy(t, keys.rings, &recorder{}, app)
			frequentGC(t)
			base := heapInUse()
			c, err := net.Dial("tcp", m.Addr("crm"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			io.WriteString(c, "GET /records HTTP/1.1\r\nHost: crm\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(answerWithin))
			if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
				t.Fatal(err)
			}
			// Read nothing more; the connection stays open.
			select {
			case err := <-upDone:
				if strings.Contains(err.Error(), "1 GiB") {
					t.Fatal(err)
				}
			case <-time.After(answerWithin):
				t.Fatalf("the proxy still holds the exchange %s after its client stopped reading (%d bytes sent by the upstream)", answerWithin, sent.Load())
			}
			if grew := int64(heapInUse()) - int64(base); grew > 16<<20 {
				t.Errorf("heap grew by %d MiB while the client read nothing", grew>>20)
			}
			countedOnce(t, m, ErrKindClientTimeout)
		})
	}
}

// TestStalledPeersOverHTTP2: on a TLS listener clients speak HTTP/2, where
// a stalled body is one stream of a shared connection: the stream's own
// deadlines bound it the same way (408 client-timeout for a body that
// stops, the stream reset for a client that reads nothing of a huge
// answer, while the connection's other streams go on).
func TestStalledPeersOverHTTP2(t *testing.T) {
	keys := newRing(t, 16, "crm")
	huge := bytes.Repeat([]byte("x"), 64<<20)
	upDone := make(chan error, 1)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path != "/huge" {
			echo(w, r, body)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, err := w.Write(huge)
		upDone <- err
	})
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	app := stallApp(up.URL)
	app.TLSCert, app.TLSKey = certFile, keyFile
	m := startProxy(t, keys.rings, &recorder{}, app)
	client := &http.Client{Timeout: answerWithin, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	base := "https://" + m.Addr("crm")

	// A body that stops after its first bytes.
	pr, pw := io.Pipe()
	defer pw.Close()
	go io.WriteString(pw, `{"ssn":"123-45-6789","notes":"`)
	req, _ := http.NewRequest("POST", base+"/records", pr)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer to a stalled HTTP/2 body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Keyward-Refused") != ErrKindClientTimeout {
		t.Fatalf("HTTP/%d %d %s", resp.ProtoMajor, resp.StatusCode, b)
	}

	// A stream whose answer is read no further than its headers; the
	// connection serves another request meanwhile.
	// (No Client.Timeout on this one: it would end the stream itself.)
	resp, err = (&http.Client{Transport: client.Transport}).Get(base + "/huge")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r2, err := client.Post(base+"/records", "application/json", strings.NewReader(`{"ssn":"123-45-6789"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || string(b) != `{"ssn":"123-45-6789"}` {
		t.Fatalf("the other stream: %d %s", r2.StatusCode, b)
	}
	select {
	case <-upDone:
	case <-time.After(answerWithin):
		t.Fatalf("the proxy still holds an HTTP/2 stream %s after its client stopped reading", answerWithin)
	}
	for _, s := range up.seen() {
		if bytes.Contains(s.body, []byte("123-45-6789")) {
			t.Fatalf("the upstream got plaintext: %q", s.body)
		}
	}
}

// TestHTTP2UpstreamStallsMidAnswer: an https upstream speaks HTTP/2 to
// the proxy (ForceAttemptHTTP2); one that sends part of a JSON answer and
// then nothing gets the client a 504 upstream-timeout after timeout, as
// over HTTP/1: closing the stream's body ends the pending read.
func TestHTTP2UpstreamStallsMidAnswer(t *testing.T) {
	keys := newRing(t, 16, "crm")
	app, proto := stalledH2App(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ssn":"kw1gt.`)
		http.NewResponseController(w).Flush()
	})
	m := startProxy(t, keys.rings, &recorder{}, app)
	resp, body, _ := rawRequest(t, m.Addr("crm"), "GET /records HTTP/1.1\r\nHost: crm\r\n\r\n")
	wantH2Timeout(t, proto, resp, body, "the upstream sent nothing more of its answer for 300ms (timeout)")
}

// TestHTTP2UpstreamNeverReadsRequest: an https upstream that speaks
// HTTP/2 and never reads a large request gives the proxy no flow-control
// window once its first megabyte is in: the proxy's transport waits for a
// WINDOW_UPDATE, not on a socket write, so the bound on each write does
// not see it, and ResponseHeaderTimeout starts only once the body is
// sent. The client must still get a 504 upstream-timeout after timeout.
func TestHTTP2UpstreamNeverReadsRequest(t *testing.T) {
	keys := newRing(t, 16, "crm")
	app, proto := stalledH2App(t, nil) // reads nothing of the body, answers nothing
	app.MaxBodyBytes = 16 << 20
	m := startProxy(t, keys.rings, &recorder{}, app)
	body := `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 8<<20) + `"}`
	resp, got, _ := rawRequest(t, m.Addr("crm"), fmt.Sprintf("POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	wantH2Timeout(t, proto, resp, got, "the upstream took nothing more of the request for 300ms (timeout)")
}

// TestHTTP2UpstreamSlowButSteadyAndSlowToAnswer: the bound on an HTTP/2
// upstream's taking of a request is per pause — one that reads the first
// 2 MiB of a 3 MiB body slowly, each pause under timeout, the whole well
// over it, gets it whole and its answer through; one that reads the body and then sends
// no headers within timeout is a 504 that says so, not a stalled request.
func TestHTTP2UpstreamSlowButSteadyAndSlowToAnswer(t *testing.T) {
	keys := newRing(t, 16, "crm")
	var got atomic.Int64
	app := h2App(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 128<<10)
		n := 0
		for {
			k, err := r.Body.Read(buf)
			n += k
			got.Store(int64(n))
			if err != nil {
				break
			}
			if n < 2<<20 { // slowly at first; the last megabyte at once,
				// as net/http's ResponseHeaderTimeout runs once it is sent
				time.Sleep(pause / 4)
			}
		}
		if r.URL.Path == "/slow-answer" {
			select {
			case <-time.After(answerWithin):
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	app.MaxBodyBytes = 16 << 20
	m := startProxy(t, keys.rings, &recorder{}, app)
	body := `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 3<<20) + `"}`
	start := time.Now()
	resp, answer, _ := rawRequest(t, m.Addr("crm"), fmt.Sprintf("POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	if resp.StatusCode != http.StatusOK || string(answer) != `{"ok":true}` || got.Load() < 3<<20 {
		t.Fatalf("slow but steady: %d %s, the upstream read %d bytes", resp.StatusCode, answer, got.Load())
	}
	if took := time.Since(start); took < 2*pause {
		t.Logf("the upstream read the body in %s: not slower than timeout on this run", took)
	}
	resp, answer, _ = rawRequest(t, m.Addr("crm"), fmt.Sprintf("POST /slow-answer HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 21, `{"ssn":"123-45-6789"}`))
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(answer), "did not answer within 300ms") {
		t.Fatalf("slow to answer: %d %s", resp.StatusCode, answer)
	}
}

// h2App is stallApp for an https upstream that serves h over HTTP/2 (its
// certificate the app's upstream_ca), closed when the test ends.
func h2App(t *testing.T, h http.HandlerFunc) config.ProxyApp {
	t.Helper()
	up := httptest.NewUnstartedServer(h)
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	app := stallApp(up.URL)
	app.UpstreamCA = caFile
	return app
}

// stalledH2App is h2App for an upstream that runs first (when not nil),
// then holds the exchange until the proxy gives it up or the test ends;
// proto is the HTTP version its request came in.
func stalledH2App(t *testing.T, first http.HandlerFunc) (app config.ProxyApp, proto *atomic.Int32) {
	t.Helper()
	proto = new(atomic.Int32)
	stop := make(chan struct{})
	app = h2App(t, func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int32(r.ProtoMajor))
		if first != nil {
			first(w, r)
		}
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stop) }) // before the upstream closes, which waits for its handlers
	return app, proto
}

// wantH2Timeout: the stalled upstream was reached over HTTP/2, and the
// client got a 504 that says want.
func wantH2Timeout(t *testing.T, proto *atomic.Int32, resp *http.Response, body []byte, want string) {
	t.Helper()
	if proto.Load() != 2 {
		t.Fatalf("the upstream was reached over HTTP/%d", proto.Load())
	}
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), want) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
