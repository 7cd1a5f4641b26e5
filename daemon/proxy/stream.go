package proxy

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/keyward/keyward/daemon/proxy/fields"
)

// wholeResponse is the largest JSON answer read whole before it is passed
// on: it gets an exact Content-Length, and an upstream that closes it short
// gets a 502, as every answer did before streaming. A larger answer streams
// through windows of this size, so the proxy holds a bounded amount of it
// whatever its length.
const wholeResponse = 128 << 10

// jsonStream decrypts the tokens of a JSON answer as it passes, window by
// window. A window ends at the opening quote of the last string that
// starts in it (the string and what follows go to the next window), so a
// token split across two reads, and the bytes after a string that say
// whether it is a member name, are always in one window, and each window
// starts outside any string, which is what fields.DecryptJSON needs. A
// string longer than a window grows the window, up to max_body_bytes (a
// pooled buffer's size class at least); past that, the rest of the answer
// passes undecrypted (response-too-large).
type jsonStream struct {
	a      *App
	ex     *exchange
	src    io.ReadCloser
	in     *[]byte // pooled, its length its capacity; (*in)[:n] is read and not yet decrypted
	n      int
	out    *[]byte // pooled; (*out)[off:] is decrypted and not yet read
	off    int
	limit  int64
	eof    bool
	err    error
	raw    bool // over the limit: the rest passes as it comes
	zeroed bool // out held plaintext since its last clear
}

// streamJSON makes resp's body a jsonStream that starts with head (what
// was read of it already, in a pooled buffer; nil: nothing).
func (a *App) streamJSON(resp *http.Response, ex *exchange, head *[]byte) {
	in := head
	if head == nil {
		in = getBuf(wholeResponse)
	}
	s := &jsonStream{a: a, ex: ex, src: resp.Body, in: in, n: len(*in), out: getBuf(wholeResponse), limit: a.cfg.MaxBodyBytes}
	*s.in = (*s.in)[:cap(*s.in)]
	resp.Body = s
	resp.ContentLength = -1 // the decrypted length is known only at the end: chunked to the client
	resp.Header.Del("Content-Length")
}

func (s *jsonStream) Read(p []byte) (int, error) {
	for s.off == len(*s.out) {
		if s.err != nil {
			return 0, s.err
		}
		s.next()
	}
	n := copy(p, (*s.out)[s.off:])
	s.off += n
	return n, nil
}

// next fills the window and decrypts what of it can be, into out.
func (s *jsonStream) next() {
	if s.zeroed {
		clear(*s.out)
		s.zeroed = false
	}
	*s.out, s.off = (*s.out)[:0], 0
	if s.raw {
		n, err := s.src.Read((*s.in)[:cap(*s.in)])
		*s.out = append(*s.out, (*s.in)[:n]...)
		s.fail(err)
		return
	}
	for !s.eof && s.n < cap(*s.in) {
		n, err := s.src.Read((*s.in)[s.n:cap(*s.in)])
		s.n += n
		if err == io.EOF {
			s.eof = true
			if !s.ex.upstreamT0.IsZero() {
				s.ex.upstreamDur = time.Since(s.ex.upstreamT0)
			}
		} else if err != nil {
			s.fail(err)
			return
		}
	}
	win := (*s.in)[:s.n]
	cut := len(win)
	if !s.eof {
		cut = fields.LastStringStart(win)
	}
	if cut == 0 && !s.eof {
		// One string fills the window: a bigger window, or past the
		// limit the rest as it comes.
		if int64(cap(*s.in)) >= s.limit {
			s.a.st.fail(ErrKindRespTooLarge)
			s.a.metrics.err(ErrKindRespTooLarge)
			s.raw = true
			*s.out = append(*s.out, win...)
			s.n = 0
			return
		}
		bigger := getBuf(int(min(int64(2*cap(*s.in)), s.limit)))
		*bigger = (*bigger)[:cap(*bigger)]
		copy(*bigger, win)
		putBuf(s.in)
		s.in = bigger
		return
	}
	var op fields.Opened
	*s.out, op = fields.DecryptJSON(*s.out, win[:cut], s.a.decrypter(s.ex))
	s.zeroed = op.Decrypted > 0
	s.a.countOpened(op)
	s.n = copy(*s.in, win[cut:])
	if s.eof && s.n == 0 {
		s.err = io.EOF
	}
}

// fail ends the stream with err (nil: not yet); a read error other than
// the end is the upstream's, and cuts the answer short (ReverseProxy then
// aborts the client's connection, so a short answer never looks whole).
func (s *jsonStream) fail(err error) {
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		s.err = io.EOF
	default:
		kind := ErrKindUpstream
		if errors.Is(err, errUpstreamStalled) {
			kind = ErrKindTimeout
		}
		s.a.st.fail(kind)
		s.a.metrics.err(kind)
		s.err = err
	}
}

func (s *jsonStream) Close() error {
	if s.in != nil {
		putBuf(s.in)
		clear(*s.out)
		putBuf(s.out)
		s.in, s.out = nil, nil
	}
	return s.src.Close()
}
