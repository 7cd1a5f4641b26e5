package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// writeCounter counts the writes on the connections a transport dials.
type writeCounter struct {
	mu     sync.Mutex
	writes int
}

type countedConn struct {
	net.Conn
	c *writeCounter
}

func (c countedConn) Write(b []byte) (int, error) {
	c.c.mu.Lock()
	c.c.writes++
	c.c.mu.Unlock()
	return c.Conn.Write(b)
}

func (w *writeCounter) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.writes
	w.writes = 0
	return n
}

// TestRewrittenBodyOneWrite: a rewritten request up to the transport's
// write buffer goes upstream in one write (headers and body together), not
// the headers alone and then the body in 32 KiB pieces; a larger one still
// arrives whole. Counted on the proxy's own upstream connection, on a real
// socket.
func TestRewrittenBodyOneWrite(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	a, _ := m.App("crm")
	wc := &writeCounter{}
	d := &net.Dialer{}
	a.tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countedConn{c, wc}, nil
	}
	for _, c := range []struct {
		name, body string
		writes     int // at most
	}{
		{"1 KiB JSON", `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 1000) + `"}`, 1},
		{"small form", "ssn=123-45-6789&x=1", 1},
		{"64 KiB JSON", `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 64<<10) + `"}`, 1},
		{"300 KiB JSON", `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 300<<10) + `"}`, 0},
	} {
		ct := "application/json"
		if strings.HasPrefix(c.body, "ssn=") {
			ct = "application/x-www-form-urlencoded"
		}
		resp, got := post(t, proxyURL(m, "crm")+"/records", ct, c.body)
		if resp.StatusCode != 200 || !bytes.Contains(got, []byte("123-45-6789")) {
			t.Fatalf("%s: %d %.200s", c.name, resp.StatusCode, got)
		}
		seen := up.seen()
		if last := seen[len(seen)-1].body; bytes.Contains(last, []byte("123-45-6789")) {
			t.Fatalf("%s: upstream saw plaintext", c.name)
		}
		if n := wc.take(); c.writes > 0 && n != c.writes {
			t.Errorf("%s: %d writes to the upstream, want %d (headers and body in one)", c.name, n, c.writes)
		}
	}
}

// countingRecorder counts the handler's writes of the answer's body.
type countingRecorder struct {
	*httptest.ResponseRecorder
	writes int
}

func (c *countingRecorder) Write(b []byte) (int, error) {
	c.writes++
	return c.ResponseRecorder.Write(b)
}

// TestAnswerOneWrite: an answer read whole (here 64 KiB with a token) is
// handed to the client's connection in one write, not one per 32 KiB
// piece of ReverseProxy's copy buffer.
func TestAnswerOneWrite(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	a, _ := m.App("crm")
	body := `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 64<<10) + `"}`
	req := httptest.NewRequest("POST", "http://proxy/records", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := &countingRecorder{ResponseRecorder: httptest.NewRecorder()}
	a.ServeHTTP(w, req)
	if w.Code != 200 || w.Body.String() != body {
		t.Fatalf("status %d, %d bytes back", w.Code, w.Body.Len())
	}
	if w.writes != 1 {
		t.Fatalf("the answer took %d writes, want 1", w.writes)
	}
}

// TestConcurrentBodiesIntact: rewritten bodies of many sizes, sent at
// once, each reach the upstream and come back exactly as sent: a pooled
// request buffer is reused only after the transport wrote it, so no
// request ever carries another's bytes. An upstream that answers before
// reading the body and hangs up does not change that for the next ones.
func TestConcurrentBodiesIntact(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	rude := rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", []byte("{}"))
	rudeApp := crmApp(rude)
	rudeApp.Name = "rude"
	keys.rings.Configure("rude", "rude.key.*", 16)
	keys.rotate("rude")
	mr := startProxy(t, keys.rings, &recorder{}, rudeApp)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				n := (g*977 + i*7919) % (200 << 10)
				body := fmt.Sprintf(`{"ssn":"%03d-45-%04d","notes":"%s"}`, g, i, strings.Repeat(string(rune('a'+g)), n))
				if i%10 == 0 {
					resp, err := http.Post(proxyURL(mr, "rude")+"/records", "application/json", strings.NewReader(body))
					if err == nil {
						resp.Body.Close()
					}
				}
				resp, err := http.Post(proxyURL(m, "crm")+"/records", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err.Error()
					return
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(got) != body {
					errs <- fmt.Sprintf("goroutine %d request %d (%d bytes): status %d, %d bytes back, equal %v", g, i, len(body), resp.StatusCode, len(got), string(got) == body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
