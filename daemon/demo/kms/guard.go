package kms

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
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
// on (frameCounter), which would crash the process from its read loop.

// maxMessage is the largest message the KMS reads: the server is told the
// same limit, so guardedConn counts the messages the library answers.
const maxMessage = ttlv.DefaultMaxMessageSize

// holdLimit bounds how long a read error is held back: should the count be
// wrong, a connection's goroutines still end (the KMS answers a request in
// microseconds; a minute is far beyond any answer).
const holdLimit = time.Minute

// errMalformed ends a connection whose client sent a message kmip-go's
// decoder cannot survive.
var errMalformed = errors.New("kms: a message from the client is malformed (its structure lengths do not add up); connection closed")

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
	frames  frameCounter
	owed    int   // answers the library owes: requests read minus answers begun
	closed  bool  // Close was called
	later   error // a read error that came with data, returned by the next Read
}

func newGuardedConn(c net.Conn, max int) *guardedConn {
	g := &guardedConn{Conn: c, frames: frameCounter{max: max}}
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
	answered, poisoned := g.frames.feed(p[:n])
	g.owed += answered
	if poisoned {
		// The library has the message but its last bytes: it gets a
		// read error instead, and closes the connection.
		n, err = 0, errMalformed
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

// frameCounter follows the TTLV messages of a client's byte stream as
// kmipserver's reader cuts them (ttlv.Stream.Recv: an 8-byte header, then
// the value padded to 8 bytes), decodes each as that reader does, and
// counts those the server answers: every message but a well-formed Response
// Message (a client's, ignored), and a header announcing more than the
// server reads (refused with an answer, after which the server closes the
// connection: the counter stops). A message whose decoding panics in
// kmip-go (a structure whose length cuts a field's header: 16 bytes do it)
// is poisoned: it must never reach the library, whose reader would panic in
// a goroutine of its own and take the process with it.
type frameCounter struct {
	max      int
	hdr      [8]byte
	hdrN     int
	left     int    // bytes of the current message's value still to come
	msg      []byte // the current message
	stopped  bool
	poisoned bool
}

// feed reads b and returns how many answered messages it completed, and
// whether it completed one that must not reach kmip-go's decoder.
func (f *frameCounter) feed(b []byte) (answered int, poisoned bool) {
	for len(b) > 0 && !f.stopped {
		if f.hdrN < len(f.hdr) {
			k := copy(f.hdr[f.hdrN:], b)
			f.hdrN += k
			b = b[k:]
			if f.hdrN < len(f.hdr) {
				break
			}
			l := int(binary.BigEndian.Uint32(f.hdr[4:]))
			f.left = l + (8-l%8)%8
			if f.max > 0 && 8+f.left > f.max {
				f.stopped = true
				return answered + 1, false
			}
			f.msg = append(f.msg[:0], f.hdr[:]...)
		}
		k := min(f.left, len(b))
		f.msg = append(f.msg, b[:k]...)
		f.left -= k
		b = b[k:]
		if f.left == 0 {
			switch decode(f.msg) {
			case decodedPanic:
				f.stopped, f.poisoned = true, true
				return answered, true
			case decodedResponse:
			default:
				answered++
			}
			f.hdrN = 0
		}
	}
	return answered, false
}

type decoded int

const (
	decodedRequest  decoded = iota // answered
	decodedRefused                 // answered with an error, then the connection closes
	decodedResponse                // a client's Response Message: dropped, no answer
	decodedPanic                   // kmip-go's decoder panics on it
)

// decode decodes msg as kmipserver's reader does (its recvMsg), from a
// buffer made as ttlv.Stream.Recv makes its own: kmip-go's decoder reads
// past a value's end within the buffer's capacity (zeros there), so the
// same message panics or not with the buffer's size.
func decode(msg []byte) (d decoded) {
	defer func() {
		if recover() != nil {
			d = decodedPanic
		}
	}()
	buf := make([]byte, 512)
	if len(msg) > cap(buf) {
		buf = slices.Grow(buf, len(msg)-cap(buf))
	}
	copy(buf[:len(msg)], msg)
	var m received
	if err := ttlv.UnmarshalTTLV(buf[:len(msg)], &m); err != nil {
		return decodedRefused
	}
	if _, ok := m.msg.(*kmip.ResponseMessage); ok {
		return decodedResponse
	}
	return decodedRequest
}

// received is kmipserver's recvMsg (kmipserver/conn.go), unexported there.
type received struct{ msg any }

func (m *received) DecodeTTLV(d *ttlv.Decoder) error {
	switch d.Tag() {
	case kmip.TagRequestMessage:
		m.msg = new(kmip.RequestMessage)
	case kmip.TagResponseMessage:
		m.msg = new(kmip.ResponseMessage)
	default:
		return ttlv.Errorf("Unexpected tag %q", ttlv.TagString(d.Tag()))
	}
	return d.Any(&m.msg)
}
