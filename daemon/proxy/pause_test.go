package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestPauseDeadlineBounds: whenever a wait starts, on any schedule of
// waits, the deadline it runs under is at least d and at most 1.5×d away
// (a stalled peer is cut off after one to one and a half pauses), and a
// stream of waits a hundred to the pause moves it once per half pause,
// not once per wait.
func TestPauseDeadlineBounds(t *testing.T) {
	const d = 30 * time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		gap  func() time.Duration
	}{
		{"steady, 100 waits a pause", func() time.Duration { return d / 100 }},
		{"random gaps up to two pauses", func() time.Duration { return time.Duration(rng.Int64N(int64(2 * d))) }},
		{"bursts and long silences", func() time.Duration {
			if rng.IntN(10) == 0 {
				return d + time.Duration(rng.Int64N(int64(d)))
			}
			return time.Duration(rng.Int64N(int64(time.Millisecond)))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := pauseDeadline{d: d}
			now := time.Now()
			set, moves, waits := time.Time{}, 0, 0
			for end := now.Add(100 * d); now.Before(end); now = now.Add(c.gap()) {
				dl, move := p.next(now)
				if move {
					set = dl
					moves++
				}
				waits++
				if left := set.Sub(now); left != dl.Sub(now) || left < d || left > d+d/2 {
					t.Fatalf("wait %d starts %s before its deadline (want %s to %s)", waits, left, d, d+d/2)
				}
			}
			if c.name == "steady, 100 waits a pause" && (moves > 201 || moves < 190) {
				t.Errorf("%d waits over 100 pauses moved the deadline %d times, want about 200 (once per half pause)", waits, moves)
			}
		})
	}
}

// countingConn counts the deadline changes made on a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) SetDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetDeadline(t)
}

func (c countingConn) SetReadDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c countingConn) SetWriteDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return countingConn{c, l.n}, nil
}

// TestDeadlinesMovedPerPauseNotPerCall: a 2 MiB JSON body and its 2 MiB
// answer over real sockets (read in dozens of pieces from the client,
// written in dozens to the upstream and to the client) move the client
// connection's and the upstream connection's deadlines a handful of times
// each, not once per read or write: the per-call deadlines cost the
// 64 KiB load test 5 % of its throughput (BENCHMARKS.md). Each request of
// a keep-alive series costs the same handful.
func TestDeadlinesMovedPerPauseNotPerCall(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	cfg := crmApp(up.URL)
	cfg.Listen = "127.0.0.1:0"
	cfg.MaxBodyBytes = 8 << 20
	cfg.ClientTimeout = engine.Duration(time.Minute)
	cfg.Timeout = engine.Duration(time.Minute)
	app, err := New(cfg, keys.rings, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var upstreamMoves, clientMoves atomic.Int64
	dialer := &net.Dialer{}
	app.tr.DialContext = boundedDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return c, err
		}
		return countingConn{c, &upstreamMoves}, nil
	}, time.Duration(cfg.Timeout))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(countingListener{ln, &clientMoves})
	defer srv.Close()

	var b strings.Builder
	b.WriteString(`{"records":[`)
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, `{"ssn":"123-45-%04d","notes":"%s"},`, i%10000, strings.Repeat("n", 1000))
	}
	body := strings.TrimSuffix(b.String(), ",") + "]}"
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(answerWithin))
	br := bufio.NewReader(c)
	const requests = 3
	for i := range requests {
		// Small writes and reads, so the proxy reads and writes in many
		// pieces too.
		go func() {
			fmt.Fprintf(c, "POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
			for s := body; s != ""; s = s[min(len(s), 8<<10):] {
				io.WriteString(c, s[:min(len(s), 8<<10)])
			}
		}()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(smallReads{resp.Body})
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, []byte(body)) {
			t.Fatalf("request %d: %d, %d bytes back (want %d), %v", i, resp.StatusCode, len(got), len(body), err)
		}
	}
	// Per request, the proxy's own: the client's read deadline set when
	// the request comes and lifted at the body's end, its write deadline
	// cleared and set at the first write (4); net/http's: the read
	// deadline around the headers, its background read, and the write
	// deadline after the answer (6 or 7). The upstream's write deadline:
	// once per half pause of its pooled connection. Moved per call, as
	// before, these were 192 and 198.
	if n := clientMoves.Load(); n > requests*12 {
		t.Errorf("%d requests moved the client connection's deadlines %d times: once per read or write, not per pause", requests, n)
	}
	if n := upstreamMoves.Load(); n > requests {
		t.Errorf("%d requests moved the upstream connection's write deadline %d times: once per write, not per pause", requests, n)
	}
	t.Logf("deadline changes: client connection %d, upstream connection %d, for %d requests", clientMoves.Load(), upstreamMoves.Load(), requests)
}

// smallReads reads at most 4 KiB at a time, so the proxy's answer is
// taken in many pieces.
type smallReads struct{ r io.Reader }

func (h smallReads) Read(p []byte) (int, error) { return h.r.Read(p[:min(len(p), 4<<10)]) }

// TestStalledBodyCutAfterOneToOneAndAHalfPauses: a body that comes in
// pieces, each well within the pause but not moving the deadline each
// time, and then stops, is cut off (408) no sooner than one pause after
// its last piece — a pause is never cut short — and no later than one and
// a half (with half a pause of slack for a loaded machine).
func TestStalledBodyCutAfterOneToOneAndAHalfPauses(t *testing.T) {
	const d = time.Second
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	cfg := stallApp(up.URL)
	cfg.ClientTimeout = engine.Duration(d)
	m := startProxy(t, keys.rings, &recorder{}, cfg)
	c, err := net.Dial("tcp", m.Addr("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(answerWithin))
	io.WriteString(c, "POST /records HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	var last time.Time
	for _, piece := range []string{`{"ssn":"123-45-6789",`, `"notes":"a`, `bc`} {
		time.Sleep(2 * d / 5)
		io.WriteString(c, piece)
		last = time.Now()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	waited := time.Since(last)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("after %s: %d %s", waited, resp.StatusCode, got)
	}
	if waited < d || waited > 2*d {
		t.Fatalf("the stalled body was cut %s after its last bytes, want %s to %s", waited, d, d+d/2)
	}
	t.Logf("cut %s after the last bytes (client_timeout %s)", waited, d)
}
