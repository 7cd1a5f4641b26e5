package kms

import (
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/daemon/kmipframe"
)

// kmip-go v0.8.1's kmipserver has a race that can crash the whole process
// when a client goes away while a request of its is answered: the
// connection's read loop sees the end of the stream and closes the channel
// the answer is about to be sent on (kmipserver/conn.go, terminate closes
// c.tx while send, on the connection's own goroutine, has loaded it and is
// entering `tx <- ...`: "send on closed channel", in a goroutine of theirs
// that nothing of ours can recover). The library cannot be fixed from here,
// so the KMS keeps it from seeing the race: every connection it serves is a
// guardedConn, which holds back a read error (the end of the stream, a
// reset) until every request read so far has had its answer's write begun.
// Once the write of the last answer has begun the library is past the send
// that panics, and its reaction to the read error is safe. The same
// connection keeps from the library the messages its TTLV decoder panics
// on (kmipframe.Counter), which would crash the process from its read loop.

// maxMessage is the largest message the KMS reads: the server is told the
// same limit, so guardedConn counts the messages the library answers.
const maxMessage = ttlv.DefaultMaxMessageSize

// holdLimit bounds how long a read error is held back: should the count be
// wrong, a connection's goroutines still end (the KMS answers a request in
// microseconds; a minute is far beyond any answer).
const holdLimit = time.Minute

// guardListener accepts TCP connections and serves each as TLS behind a
// guardedConn. The TLS handshake runs on the connection's first read, in
// the library's goroutine for that connection, never in Accept.
type guardListener struct {
	net.Listener
	cfg *tls.Config
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardedConn(tls.Server(c, l.cfg), maxMessage), nil
}

// guardedConn is a connection whose read errors wait for the answers owed.
type guardedConn struct {
	net.Conn
	mu      sync.Mutex
	changed *sync.Cond
	frames  kmipframe.Counter
	owed    int   // answers the library owes: requests read minus answers begun
	closed  bool  // Close was called
	later   error // a read error that came with data, returned by the next Read
}

func newGuardedConn(c net.Conn, max int) *guardedConn {
	g := &guardedConn{Conn: c, frames: kmipframe.Counter{Max: max}}
	g.changed = sync.NewCond(&g.mu)
	return g
}

func (g *guardedConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	err := g.later
	g.later = nil
	g.mu.Unlock()
	n := 0
	if err == nil {
		n, err = g.Conn.Read(p)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	answered, poisoned := g.frames.Feed(p[:n])
	g.owed += answered
	if poisoned {
		// The library has the message but its last bytes: it gets a
		// read error instead, and closes the connection.
		n, err = 0, kmipframe.ErrMalformed
	}
	if err == nil {
		return n, nil
	}
	if n > 0 {
		// The data may complete a request the library has yet to see:
		// it gets the data now and the error on its next read.
		g.later = err
		return n, nil
	}
	if g.owed > 0 && !g.closed {
		stop := time.AfterFunc(holdLimit, func() {
			g.mu.Lock()
			g.closed = true
			g.changed.Broadcast()
			g.mu.Unlock()
		})
		for g.owed > 0 && !g.closed {
			g.changed.Wait()
		}
		stop.Stop()
	}
	return n, err
}

func (g *guardedConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	if g.owed > 0 {
		g.owed-- // kmipserver writes each answer in one Write
	}
	g.changed.Broadcast()
	g.mu.Unlock()
	return g.Conn.Write(p)
}

func (g *guardedConn) Close() error {
	g.mu.Lock()
	g.closed = true
	g.changed.Broadcast()
	g.mu.Unlock()
	return g.Conn.Close()
}
