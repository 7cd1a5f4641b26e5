package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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

// clientBody is a request body that must keep coming: each read waits at
// most d for the client's next bytes (the connection's read deadline, set
// first when the request arrives, so net/http's own reading of a body the
// handler left, before it answers, is bounded too). The deadline is lifted
// when the body ends, before net/http starts watching the connection for
// the client hanging up (a deadline left there would cancel the request
// while the upstream answers); after a failed read it stays, so the rest
// of a stalled body is not waited for either.
type clientBody struct {
	io.ReadCloser
	conn    readDeadliner
	d       time.Duration
	done    bool
	stalled *atomic.Bool // set when a read fails on its deadline
}

// bodyDeadline makes body a clientBody when w can set deadlines, and
// starts its first pause. stalled is set if the client stalls: net/http
// cancels the request when the read fails, so a transport reading the
// body for the upstream may report only the cancellation.
func bodyDeadline(body io.ReadCloser, w any, d time.Duration, stalled *atomic.Bool) io.ReadCloser {
	conn, ok := w.(readDeadliner)
	if !ok || d <= 0 {
		return body
	}
	if conn.SetReadDeadline(time.Now().Add(d)) != nil {
		return body
	}
	return &clientBody{ReadCloser: body, conn: conn, d: d, stalled: stalled}
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	_ = b.conn.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.done = true
		_ = b.conn.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.done = true
		b.stalled.Store(true)
		return n, clientStalled(b.d)
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
// within d: an upstream that stops reading a request (a 4 MiB body fills
// the socket buffers) fails it after one pause instead of holding it
// forever. net/http's ResponseHeaderTimeout starts only once the request
// is written. Reads are left alone: an idle pooled connection waits in a
// read.
type writeBounded struct {
	net.Conn
	d time.Duration
}

func (c *writeBounded) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(p)
}

// boundedDial dials with dial and bounds the connection's writes by d.
func boundedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), d time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil || d <= 0 {
			return c, err
		}
		return &writeBounded{Conn: c, d: d}, nil
	}
}
