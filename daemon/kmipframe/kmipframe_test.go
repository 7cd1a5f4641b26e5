package kmipframe

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

// crasher is a Request Message whose structure is 2 bytes long: kmip-go
// v0.8.1's decoder indexes past its end (found by FuzzFrameCounter).
var crasher = []byte("B\x00x\x01\x00\x00\x00\x0200000000")

func locateRequest() []byte {
	return ttlv.MarshalTTLV(&kmip.RequestMessage{
		Header: kmip.RequestHeader{ProtocolVersion: kmip.V1_4, BatchCount: 1},
		BatchItem: []kmip.RequestBatchItem{{Operation: kmip.OperationLocate,
			RequestPayload: &payloads.LocateRequestPayload{}}},
	})
}

// TestGuardKeepsTheCrasherFromTheReader: kmip-go's own reader on a guarded
// connection gets ErrMalformed where the crasher would have panicked it,
// after reading the good message before it.
func TestGuardKeepsTheCrasherFromTheReader(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		_, _ = server.Write(append(locateRequest(), crasher...))
		_ = server.Close()
	}()
	s := ttlv.NewStream(Guard(client, ttlv.DefaultMaxMessageSize), ttlv.DefaultMaxMessageSize)
	var first received
	if err := s.Recv(&first); err != nil {
		t.Fatalf("the good message: %v", err)
	}
	var second received
	if err := s.Recv(&second); !errors.Is(err, ErrMalformed) {
		t.Fatalf("the crasher: %v, want ErrMalformed", err)
	}
}

func TestFrameCounter(t *testing.T) {
	req := locateRequest()
	resp := ttlv.MarshalTTLV(&kmip.ResponseMessage{Header: kmip.ResponseHeader{ProtocolVersion: kmip.V1_4, BatchCount: 0}})
	badResp := append([]byte{}, resp...)
	badResp[3] = byte(ttlv.TypeInteger) // a Response Message tag the server cannot decode: refused, answered
	tooBig := []byte{0x42, 0x00, 0x78, 0x01, 0x00, 0x10, 0x00, 0x00}
	for _, tc := range []struct {
		name     string
		stream   []byte
		want     int
		poisoned bool
	}{
		{"one request", req, 1, false},
		{"two requests", append(append([]byte{}, req...), req...), 2, false},
		{"half a request", req[:len(req)/2], 0, false},
		{"a client's response", resp, 0, false},
		{"an undecodable response", badResp, 1, false},
		{"a message over the limit", append(append([]byte{}, tooBig...), req...), 1, false},
		{"a message kmip-go's decoder panics on", append(append([]byte{}, req...), crasher...), 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Counter{Max: ttlv.DefaultMaxMessageSize}
			got := 0
			poisoned := false
			for _, b := range tc.stream { // byte by byte: no read is a whole message
				n, p := f.Feed([]byte{b})
				got, poisoned = got+n, poisoned || p
			}
			if got != tc.want || poisoned != tc.poisoned {
				t.Fatalf("counted %d answered messages (poisoned %v), want %d (%v)", got, poisoned, tc.want, tc.poisoned)
			}
		})
	}
}

var errPanicked = errors.New("kmip-go's reader panicked")

func recvOrPanic(s *ttlv.Stream, m *received) (err error) {
	defer func() {
		if recover() != nil {
			err = errPanicked
		}
	}()
	return s.Recv(m)
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzFrameCounter: the counter agrees with kmip-go's own reader on how
// many messages of a stream the server answers, up to the first one it
// refuses (after which the server closes the connection), however the
// stream is cut into reads.
func FuzzFrameCounter(f *testing.F) {
	req := locateRequest()
	f.Add(req, uint8(7))
	f.Add(append(append([]byte{}, req...), req[:20]...), uint8(1))
	f.Add(ttlv.MarshalTTLV(&kmip.ResponseMessage{}), uint8(3))
	f.Add([]byte{0x42, 0x00, 0x78, 0x01, 0xff, 0xff, 0xff, 0xff}, uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		const max = 4096
		cr := &countingReader{r: bytes.NewReader(stream)}
		s := ttlv.NewStream(struct {
			io.Reader
			io.Writer
			io.Closer
		}{cr, io.Discard, io.NopCloser(nil)}, max)
		want, wantPoison := 0, false
		for {
			var m received
			err := recvOrPanic(&s, &m)
			if errors.Is(err, errPanicked) {
				wantPoison = true
				break
			}
			if err != nil && !ttlv.IsErrEncoding(err) {
				break
			}
			if err != nil {
				want++
				break
			}
			if _, isResp := m.msg.(*kmip.ResponseMessage); !isResp {
				want++
			}
		}
		fc := Counter{Max: max}
		got, poisoned := 0, false
		b := stream[:cr.n]
		step := int(cut)%17 + 1
		for len(b) > 0 && !poisoned {
			k := min(step, len(b))
			n, p := fc.Feed(b[:k])
			got, poisoned = got+n, p
			b = b[k:]
		}
		if got != want || poisoned != wantPoison {
			t.Fatalf("counted %d answered messages in %d bytes (poisoned %v), kmip-go's reader %d (panicked %v)", got, cr.n, poisoned, want, wantPoison)
		}
	})
}
