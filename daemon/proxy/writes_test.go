package proxy

import (
	"bytes"
	"context"
	"net"
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

// TestSmallBodyOneWrite: a small rewritten request goes upstream in one
// write (headers and body together), not the headers alone and then the
// body; a large one still arrives whole. Counted on the proxy's own upstream
// connection, on a real socket.
func TestSmallBodyOneWrite(t *testing.T) {
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
		{"64 KiB JSON", `{"ssn":"123-45-6789","notes":"` + strings.Repeat("n", 64<<10) + `"}`, 0},
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
