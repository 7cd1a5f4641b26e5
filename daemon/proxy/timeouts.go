package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The proxy's bounds on waiting. Once a request's headers are in
// (net/http's ReadHeaderTimeout bounds those), every wait on the other
// side is bounded by a pause, not by a total: a client must send the next
// bytes of its body, and take the next bytes of its answer, within
// client_timeout; an upstream must take the next bytes of a request and
// send its headers, and the next bytes of an answer the proxy reads before
// the client sees it, within timeout. A peer that stops (a slowloris body,
// a chunked answer that never ends, a client that reads nothing of a huge
// answer) is cut off after one pause, so it holds a connection, a
// goroutine and at most one buffer for a bounded time; a slow peer that
// keeps sending is not cut short.
//
// A socket deadline that bounds a pause is kept between one and one and a
// half pauses ahead of every wait (pauseDeadline), so a stalled peer is cut
// off after d to 1.5×d, and a stream of reads or writes moves it once per
// half pause rather than before every call: moving a deadline takes a lock
// and a timer change in the runtime's poller, and at 64 KiB bodies that was
// a measurable part of the proxy's CPU (BENCHMARKS.md, issue 18's ratio).

var (
	// errClientStalled: a pause of client_timeout in a request body.
	errClientStalled = errors.New("the client sent nothing more of its request body")
	// errUpstreamStalled: a pause of timeout in an answer the proxy reads.
	errUpstreamStalled = errors.New("the upstream sent nothing more of its answer")
)

// readDeadliner and writeDeadliner are the deadlines of the connection
// under an http.ResponseWriter (net/http's HTTP/1 and HTTP/2 writers have
// both); asserted on directly rather than through http.ResponseController,
// which would cost an allocation per request.
type readDeadliner interface{ SetReadDeadline(time.Time) error }
type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

// pauseDeadline is one deadline of a connection (its reads or its writes)
// that bounds each wait to a pause of d: next, called as a wait starts,
// moves it to 1.5×d ahead when less than d is left, so every wait has at
// least d and at most 1.5×d. A clock read per wait stays: only a real
// reading can prove a wait still has d left (a coarse clock kept by a
// ticker lags by as much as the ticker is late on a loaded machine, and
// would cut a pause short by that much).
type pauseDeadline struct {
	d     time.Duration
	armed time.Time // the deadline set; zero when none is
}

// next returns the deadline a wait starting at now must have, and whether
// it differs from the one set (the caller sets it then).
func (p *pauseDeadline) next(now time.Time) (time.Time, bool) {
	if !p.armed.IsZero() && p.armed.Sub(now) >= p.d {
		return p.armed, false
	}
	p.armed = now.Add(p.d + p.d/2)
	return p.armed, true
}

// forget records that the deadline was changed by other means (lifted, or
// set by its owner): the next wait sets its own.
func (p *pauseDeadline) forget() { p.armed = time.Time{} }

// clientBody is a request body that must keep coming: each read waits at
// most a pause (d to 1.5×d, pauseDeadline) for the client's next bytes
// (the connection's read deadline, set first when the request arrives, so
// net/http's own reading of a body the handler left, before it answers, is
// bounded too). The deadline is lifted when the body ends, before net/http
// starts watching the connection for the client hanging up (a deadline
// left there would cancel the request while the upstream answers); after a
// failed read it stays, so the rest of a stalled body is not waited for
// either.
type clientBody struct {
	io.ReadCloser
	conn    readDeadliner
	pause   pauseDeadline
	done    bool
	stalled *atomic.Bool // set when a read fails on its deadline
}

// bodyDeadline makes body a clientBody when w can set deadlines, and
// starts its first pause at now (the request's arrival). stalled is set if
// the client stalls: net/http cancels the request when the read fails, so
// a transport reading the body for the upstream may report only the
// cancellation.
func bodyDeadline(body io.ReadCloser, w any, d time.Duration, now time.Time, stalled *atomic.Bool) io.ReadCloser {
	conn, ok := w.(readDeadliner)
	if !ok || d <= 0 {
		return body
	}
	b := &clientBody{ReadCloser: body, conn: conn, pause: pauseDeadline{d: d}, stalled: stalled}
	t, _ := b.pause.next(now)
	if conn.SetReadDeadline(t) != nil {
		return body
	}
	return b
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if t, move := b.pause.next(time.Now()); move {
		_ = b.conn.SetReadDeadline(t)
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.done = true
		_ = b.conn.SetReadDeadline(time.Time{})
		b.pause.forget()
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.done = true
		b.stalled.Store(true)
		return n, clientStalled(b.pause.d)
	default:
		b.done = true
	}
	return n, err
}

func clientStalled(d time.Duration) error {
	return fmt.Errorf("%w for %s (client_timeout)", errClientStalled, d)
}

// bodyReadRefusal answers a request whose body could not be read.
func bodyReadRefusal(err error) *refusal {
	if errors.Is(err, errClientStalled) {
		return &refusal{http.StatusRequestTimeout, ErrKindClientTimeout, err.Error() + "; the request was not completed upstream"}
	}
	return &refusal{http.StatusBadRequest, ErrKindInvalidJSON, "reading the request body: " + err.Error()}
}

// upstreamBody is an answer the proxy reads before the client sees any of
// it (a JSON, form or whole-body answer): each read waits at most d for
// the upstream's next bytes; past that the body is closed, which aborts
// the upstream connection and ends the pending read, and the read fails
// with errUpstreamStalled.
type upstreamBody struct {
	io.ReadCloser
	d       time.Duration
	t       *time.Timer
	stalled atomic.Bool
}

func newUpstreamBody(body io.ReadCloser, d time.Duration) io.ReadCloser {
	if d <= 0 {
		return body
	}
	b := &upstreamBody{ReadCloser: body, d: d}
	b.t = time.AfterFunc(time.Hour, func() {
		b.stalled.Store(true)
		body.Close()
	})
	b.t.Stop()
	return b
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	b.t.Reset(b.d)
	n, err := b.ReadCloser.Read(p)
	b.t.Stop()
	if err != nil && b.stalled.Load() {
		err = fmt.Errorf("%w for %s (timeout)", errUpstreamStalled, b.d)
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	b.t.Stop()
	return b.ReadCloser.Close()
}

// writeBounded is an upstream connection whose every write must complete
// within a pause (d to 1.5×d, pauseDeadline): an upstream that stops
// reading a request (a 4 MiB body fills the socket buffers) fails it after
// one pause instead of holding it forever. net/http's
// ResponseHeaderTimeout starts only once the request is written. Reads are
// left alone: an idle pooled connection waits in a read. The pause lives
// with the connection, so the requests a pooled connection carries one
// after another move its deadline once per half pause, not once per
// request. A deadline set from above (TLS's close, an HTTP/2 transport's
// own) is forgotten, not trusted, by the next write.
type writeBounded struct {
	net.Conn
	mu    sync.Mutex // writes and deadline changes may come from two goroutines (a TLS alert beside a write)
	pause pauseDeadline
}

func (c *writeBounded) Write(p []byte) (int, error) {
	c.mu.Lock()
	if t, move := c.pause.next(time.Now()); move {
		_ = c.Conn.SetWriteDeadline(t)
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *writeBounded) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pause.forget()
	return c.Conn.SetWriteDeadline(t)
}

func (c *writeBounded) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pause.forget()
	return c.Conn.SetDeadline(t)
}

// boundedDial dials with dial and bounds the connection's writes by d.
func boundedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), d time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil || d <= 0 {
			return c, err
		}
		return &writeBounded{Conn: c, pause: pauseDeadline{d: d}}, nil
	}
}

// errUpstreamTookNothing: a pause of timeout in an upstream's taking of a
// request body (sendWatch).
var errUpstreamTookNothing = errors.New("the upstream took nothing more of the request")

// sendWatch is a request body on its way to an https upstream, which may
// speak HTTP/2: there an upstream that reads nothing of a large body
// grants no flow-control window, and the transport waits for one with no
// socket write pending (which writeBounded would bound) and before
// ResponseHeaderTimeout starts. Each time the transport has taken bytes
// of the body, the upstream must take them — and after the last, send its
// headers — within d; past that the request is cancelled (its Cancel
// channel) and answered 504. The wait inside a Read is the client's
// (clientBody), not counted here. It lives in the exchange: no allocation
// but its timer and channel, and only for https upstreams.
type sendWatch struct {
	body    io.ReadCloser
	d       time.Duration
	t       *time.Timer
	cancel  chan struct{}
	mu      sync.Mutex
	over    bool // the answer's headers came, or the exchange ended
	stalled bool
	eof     bool // the transport has read the whole body
}

// watch starts watching body (the transport's first read arms it).
func (w *sendWatch) watch(body io.ReadCloser, d time.Duration) {
	w.body, w.d, w.cancel = body, d, make(chan struct{})
	w.t = time.AfterFunc(time.Hour, w.fire)
	w.t.Stop()
}

// sendChunk is the most a sendWatch gives the transport per read: the
// HTTP/2 transport sends what it read before it reads again, so the watch
// sees progress every HTTP/2 frame, not every half megabyte (a slow but
// steady upstream taking one buffer in more than timeout).
const sendChunk = 16 << 10

func (w *sendWatch) Read(p []byte) (int, error) {
	if len(p) > sendChunk {
		p = p[:sendChunk]
	}
	w.t.Stop()
	n, err := w.body.Read(p)
	w.mu.Lock()
	if !w.over {
		w.t.Reset(w.d)
	}
	w.eof = w.eof || err == io.EOF
	w.mu.Unlock()
	return n, err
}

func (w *sendWatch) Close() error { return w.body.Close() }

func (w *sendWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over {
		return
	}
	w.stalled, w.over = true, true
	close(w.cancel)
}

// end stops watching (a no-op on an exchange that watched nothing), and
// says why the exchange was cancelled if the upstream stalled (else nil).
func (w *sendWatch) end() error {
	if w.t == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.over = true
	w.t.Stop()
	switch {
	case !w.stalled:
		return nil
	case w.eof:
		return fmt.Errorf("upstream did not answer within %s (timeout) of the request's last bytes", w.d)
	}
	return fmt.Errorf("%w for %s (timeout)", errUpstreamTookNothing, w.d)
}
