// Package kmipframe follows the TTLV messages of a KMIP byte stream as
// ovh/kmip-go's readers cut and decode them, so that a connection can keep
// from kmip-go a message its decoder panics on (in a goroutine of its own,
// where nothing recovers: the whole process stops), and a server can count
// the answers it owes.
package kmipframe

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// ErrMalformed ends a connection whose peer sent a message kmip-go's
// decoder cannot survive.
var ErrMalformed = errors.New("a KMIP message from the peer is malformed (its structure lengths do not add up); connection closed")

// Counter follows the TTLV messages of a byte stream as kmip-go's
// readers (kmipserver's and kmipclient's) cut them (ttlv.Stream.Recv: an 8-byte header, then
// the value padded to 8 bytes), decodes each as they do, and
// counts those a server answers: every message but a well-formed Response
// Message (a client's, ignored), and a header announcing more than the
// server reads (refused with an answer, after which the server closes the
// connection: the counter stops). A message whose decoding panics in
// kmip-go (a structure whose length cuts a field's header: 16 bytes do it)
// is poisoned: it must never reach the library, whose reader would panic in
// a goroutine of its own and take the process with it.
type Counter struct {
	Max      int // the largest message the reader takes (0: no limit)
	hdr      [8]byte
	hdrN     int
	left     int    // bytes of the current message's value still to come
	msg      []byte // the current message
	stopped  bool
	poisoned bool
}

// Feed reads b and returns how many answered messages it completed, and
// whether it completed one that must not reach kmip-go's decoder.
func (f *Counter) Feed(b []byte) (answered int, poisoned bool) {
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
			if f.Max > 0 && 8+f.left > f.Max {
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

// Guard is conn with its reads watched: the read that would hand kmip-go
// the last bytes of a message its decoder panics on fails with
// ErrMalformed instead (kmip-go then closes the connection), as does every
// read after it. max is the largest message the reader takes.
func Guard(conn net.Conn, max int) net.Conn {
	return &guarded{Conn: conn, frames: Counter{Max: max}}
}

type guarded struct {
	net.Conn
	mu       sync.Mutex
	frames   Counter
	poisoned bool
}

func (g *guarded) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, bad := g.frames.Feed(p[:n]); bad || g.poisoned {
		g.poisoned = true
		return 0, ErrMalformed
	}
	return n, err
}
