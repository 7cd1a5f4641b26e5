package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/proxy/fields"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/token"
)

// splitReader gives a's bytes, then b's, one Read each at most.
type splitReader struct{ parts [][]byte }

func (r *splitReader) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

// streamDoc is a JSON answer holding tokens every way DecryptJSON opens
// them: whole strings (text and JSON kinds), a token inside text, a member
// name, escaped quotes and backslashes near them, a tampered token.
func streamDoc(t testing.TB, c *token.Codec) []byte {
	t.Helper()
	seal := func(pt string, kind token.Kind) string {
		tok, _, err := c.Encrypt([]byte(pt), token.GCM, kind)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a, b, j := seal("123-45-6789", token.Text), seal(`say "hi"\`, token.Text), seal(`{"n":[1,2]}`, token.JSON)
	key := seal("k", token.JSON)
	bad := a[:len(a)-2] + "AA"
	if bad == a {
		bad = a[:len(a)-2] + "BB"
	}
	return []byte(fmt.Sprintf(`{"a":"%s", "esc":"x\"\\\"%s", "b" : "%s","j":"%s",`+"\n"+
		`"in":"ssn %s, again %s.","%s":1,"bad":"%s","list":["%s",  "%s"],"tail":"\\\\"}`,
		a, a, b, j, a, b, key, bad, j, a))
}

// streamApp is the crm application of a running manager (its upstream
// never called), an exchange, and streamDoc sealed for it.
func streamApp(t testing.TB) (*Manager, *App, *exchange, []byte) {
	keys := newRing(t, 16, "crm")
	m := startProxy(t, keys.rings, &recorder{}, crmApp("http://"+testkit.FreeAddr(t)))
	a, _ := m.App("crm")
	return m, a, newExchange(context.Background(), time.Now()), streamDoc(t, a.codec)
}

// newStream is a jsonStream of src through a window of w bytes.
func newStream(a *App, ex *exchange, src io.Reader, w int, limit int64) *jsonStream {
	return &jsonStream{a: a, ex: ex, src: io.NopCloser(src), in: ptr(make([]byte, w)), out: getBuf(16), limit: limit}
}

// TestJSONStreamEveryBoundary: an answer streamed through windows of many
// sizes, its reads split at every byte, comes out byte for byte as
// DecryptJSON makes it of the whole, with the same tokens opened.
func TestJSONStreamEveryBoundary(t *testing.T) {
	_, a, ex, doc := streamApp(t)
	want, op := fields.DecryptJSON(nil, doc, a.decrypter(ex))
	if op.Decrypted != 8 || len(op.Failed) != 1 {
		t.Fatalf("the document opens %d tokens and fails %d; want 8 and 1", op.Decrypted, len(op.Failed))
	}
	for _, w := range []int{8, 23, 64, 150, 400, 4096} {
		for i := 0; i <= len(doc); i++ {
			before := a.st.decrypted.Load()
			s := newStream(a, ex, &splitReader{[][]byte{bytes.Clone(doc[:i]), bytes.Clone(doc[i:])}}, w, 1<<20)
			got, err := io.ReadAll(s)
			s.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("window %d, split at %d: %v\n got %s\nwant %s", w, i, err, got, want)
			}
			if n := a.st.decrypted.Load() - before; n != 8 {
				t.Fatalf("window %d, split at %d: %d tokens opened, want 8", w, i, n)
			}
		}
	}
}

func ptr(b []byte) *[]byte { return &b }

// TestJSONStreamEndsMidToken: an answer whose last token is cut short
// (the upstream ended it there) comes out as it came, the whole tokens
// before it opened, and nothing panics; so does every shorter prefix.
func TestJSONStreamEndsMidToken(t *testing.T) {
	_, a, ex, doc := streamApp(t)
	for i := 0; i <= len(doc); i++ {
		want, _ := fields.DecryptJSON(nil, doc[:i], a.decrypter(ex))
		s := newStream(a, ex, bytes.NewReader(doc[:i]), 48, 1<<20)
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: %v\n got %s\nwant %s", i, err, got, want)
		}
	}
}

// rawUpstream answers every request with head, then body, then closes
// the connection: an upstream that can lie about its framing.
func rawUpstream(t *testing.T, head string, body []byte) string {
	return rawServer(t, func(c net.Conn, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		c.Write([]byte(head))
		c.Write(body)
		return false
	})
}

// rawServer is an upstream written by hand: it accepts connections until
// the test ends and calls answer with each request read on one (its
// headers read, its body not), for as long as answer returns true.
func rawServer(t *testing.T, answer func(c net.Conn, req *http.Request) bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Accept(t, ln, func(c net.Conn) {
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil || !answer(c, req) {
					return
				}
			}
		}()
	})
	return "http://" + ln.Addr().String()
}

// TestLyingUpstreams: an answer shorter than its Content-Length, or a
// chunked one cut before its last chunk, never reaches the client as a
// complete answer: read whole (small) it is a 502 upstream-error as
// before; streamed (large) the client's connection is aborted, so its read
// fails, and no plaintext of a token after the cut is sent.
func TestLyingUpstreams(t *testing.T) {
	keys := newRing(t, 16, "crm")
	codec := token.NewCodec("crm", keys.rings)
	tok, _, _ := codec.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	big := []byte(`{"ssn":"` + tok + `","pad":"` + strings.Repeat("p", 300<<10) + `","ssn2":"` + tok + `"}`)
	cut := big[:200<<10]
	for _, c := range []struct {
		name, head string
		body       []byte
		status     int
	}{
		{"short Content-Length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", big[:500], 502},
		{"short Content-Length, streamed", fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(big)), cut, 200},
		{"chunked cut short", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
			[]byte(fmt.Sprintf("%x\r\n%s\r\n", len(cut), cut)), 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := startProxy(t, keys.rings, &recorder{}, crmApp(rawUpstream(t, c.head, c.body)))
			resp, err := http.Get(proxyURL(m, "crm") + "/records")
			if err != nil {
				if c.status == 502 {
					t.Fatal(err)
				}
				return // aborted before the headers: the client knows it has no answer
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, c.status, got)
			}
			if c.status == 502 {
				if resp.Header.Get("Content-Type") != "application/json" || !bytes.Contains(got, []byte(ErrKindUpstream)) {
					t.Fatalf("502 body %s", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("the client read %d bytes of a cut answer as a whole one", len(got))
			}
			if len(got) > 0 && !bytes.HasPrefix(got, []byte(`{"ssn":"123-45-6789",`)) {
				t.Fatalf("the streamed part was not decrypted: %.60s", got)
			}
		})
	}
}

// TestHugeAnswerStreamsBounded: a 48 MiB JSON answer (twelve times
// max_body_bytes), chunked, goes through with every token opened while the
// process's heap stays within a few MiB of where it started: the proxy
// holds a window of it, not the whole.
func TestHugeAnswerStreamsBounded(t *testing.T) {
	keys := newRing(t, 16, "crm")
	codec := token.NewCodec("crm", keys.rings)
	tok, _, _ := codec.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	rec := []byte(`{"ssn":"` + tok + `","notes":"` + strings.Repeat("n", 900) + `"},`)
	const n = 48 << 20 / 1024
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 32<<10)
		bw.WriteString(`{"records":[`)
		for range n {
			bw.Write(rec)
		}
		bw.WriteString(`{}]}`)
		bw.Flush()
	})
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	frequentGC(t)
	base := heapInUse()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	resp, err := http.Get(proxyURL(m, "crm") + "/records")
	if err != nil {
		t.Fatal(err)
	}
	// Read as it comes, counting the opened values and any token left
	// (a value split across two reads is found through a short carry).
	opened, left := 0, 0
	buf := make([]byte, 32<<10)
	chunk := make([]byte, 0, 33<<10)
	var carry []byte
	for {
		k, err := resp.Body.Read(buf)
		chunk = append(append(chunk[:0], carry...), buf[:k]...)
		// The carry is shorter than the value, so no value is counted
		// twice; a token left would show at least once.
		opened += bytes.Count(chunk, []byte("123-45-6789"))
		left += bytes.Count(chunk, []byte(token.Prefix))
		carry = append(carry[:0:0], chunk[max(0, len(chunk)-10):]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	close(stop)
	<-done
	if opened != n || left != 0 {
		t.Fatalf("%d of %d tokens opened, %d left", opened, n, left)
	}
	if grew := int64(peak.Load()) - int64(base); grew > 16<<20 {
		t.Fatalf("heap grew by %d MiB while a 48 MiB answer passed", grew>>20)
	}
}

// FuzzJSONStream: any answer, any window and any split of its reads: the
// stream never panics, and a valid JSON answer comes out exactly as
// DecryptJSON makes it of the whole.
func FuzzJSONStream(f *testing.F) {
	_, a, ex, doc := streamApp(f)
	f.Add(doc, uint16(40), uint16(17))
	f.Add([]byte(`["a\"", "b\\", "`+string(doc[8:90])+`"]`), uint16(9), uint16(3))
	f.Add([]byte(`{"x":"kw1.`), uint16(4), uint16(2))
	f.Fuzz(func(t *testing.T, doc []byte, w, split uint16) {
		i := int(split) % (len(doc) + 1)
		s := newStream(a, ex, &splitReader{[][]byte{bytes.Clone(doc[:i]), bytes.Clone(doc[i:])}}, 1+int(w)%512, 1<<16)
		got, err := io.ReadAll(s)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if json.Valid(doc) {
			if want, _ := fields.DecryptJSON(nil, doc, a.decrypter(ex)); !bytes.Equal(got, want) {
				t.Fatalf("window %d, split %d:\n got %s\nwant %s", 1+int(w)%512, i, got, want)
			}
		}
	})
}

// TestJSONStreamHugeString: a string that outgrows max_body_bytes ends the
// decryption: what came before it is decrypted, it and the rest pass as
// they came (the token after it too), counted as response-too-large; the
// answer is whole either way.
func TestJSONStreamHugeString(t *testing.T) {
	m, a, ex, _ := streamApp(t)
	tok, _, _ := a.codec.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	doc := []byte(`{"a":"` + tok + `","big":"` + strings.Repeat("x", 40000) + `","b":"` + tok + `"}`)
	before := m.Statuses()[0].Errors[ErrKindRespTooLarge]
	s := newStream(a, ex, bytes.NewReader(doc), 64, 8<<10)
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"123-45-6789","big":"` + strings.Repeat("x", 40000) + `","b":"` + tok + `"}`
	if string(got) != want {
		t.Fatalf("got %d bytes, want %d: %.80s…%.120s", len(got), len(want), got, got[max(0, len(got)-120):])
	}
	if n := m.Statuses()[0].Errors[ErrKindRespTooLarge] - before; n != 1 {
		t.Fatalf("response-too-large counted %d times", n)
	}
	// Under the limit the same string is decrypted around.
	s = newStream(a, ex, bytes.NewReader(doc), 64, 64<<10)
	if got, _ := io.ReadAll(s); strings.Contains(string(got), token.Prefix) {
		t.Fatal("a token was left under the limit")
	}
}
