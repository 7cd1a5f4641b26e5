package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// timedTransport stamps when the upstream exchange starts, so the time the
// upstream takes can be told from the time the proxy adds.
type timedTransport struct{ rt http.RoundTripper }

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ex, _ := r.Context().Value(ctxKey{}).(*exchange)
	if ex != nil {
		ex.upstreamT0 = time.Now()
	}
	resp, err := t.rt.RoundTrip(r)
	if ex != nil && err == nil {
		_ = ex.send.end() // the headers came: what is left of the body is the upstream's to take
	}
	return resp, err
}

// countingWriter counts the body bytes sent to the client, and gives each
// write to the client at most a pause to complete (client_timeout to 1.5×
// it: the connection's write deadline, checked before every write and
// flush, moved when less than a pause is left; pauseDeadline): a client
// that stops reading its answer fails the write after one pause, and
// ReverseProxy then aborts the exchange. Unwrap lets
// http.ResponseController reach Flush on the real writer, so streamed
// bodies are flushed as they come.
type countingWriter struct {
	http.ResponseWriter
	n       int64
	conn    writeDeadliner // nil: the writer has no deadlines
	pause   pauseDeadline
	stalled bool // a write failed on its deadline
}

func newCountingWriter(w http.ResponseWriter, d time.Duration) *countingWriter {
	cw := &countingWriter{ResponseWriter: w, pause: pauseDeadline{d: d}}
	if conn, ok := w.(writeDeadliner); ok && d > 0 {
		cw.conn = conn
		// A keep-alive connection still has the last request's. Not
		// armed here: an HTTP/2 stream is reset when its write deadline
		// passes, even with no write pending, and the upstream may take
		// longer than client_timeout to answer.
		_ = conn.SetWriteDeadline(time.Time{})
	}
	return cw
}

// deadline gives the next write to the client at least a pause from now.
func (w *countingWriter) deadline() {
	if w.conn == nil {
		return
	}
	if t, move := w.pause.next(time.Now()); move {
		_ = w.conn.SetWriteDeadline(t)
	}
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.deadline()
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		w.stalled = true
	}
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush is here too because ReverseProxy type-asserts for it on some paths.
func (w *countingWriter) Flush() {
	w.deadline()
	if err := http.NewResponseController(w.ResponseWriter).Flush(); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		w.stalled = true
	}
}

// countingReader counts a streamed request body.
type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
	m *appMetrics
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if n > 0 {
		r.n.Add(int64(n))
		r.m.bytesIn.Add(float64(n))
	}
	return n, err
}

var errTooLarge = errors.New("body over the limit")

// readLimited reads at most limit bytes of r into a pooled buffer (put
// it back with putBuf); on errTooLarge it holds the bytes read so far
// (limit+1). A body of
// unknown length (a chunked one: what most servers send when they write
// more than a few KiB) starts in a 4 KiB buffer and, whenever it fills,
// moves to a pooled buffer of the next size class, the old one zeroed (it
// may hold plaintext) and put back: growing by append instead copied a
// 64 KiB body a dozen times and left its garbage to the collector.
func readLimited(r io.Reader, limit, contentLength int64) (*[]byte, error) {
	hint := 4096
	if contentLength > 0 && contentLength <= limit {
		hint = int(contentLength) + 1
	}
	p := getBuf(hint)
	b := (*p)[:0]
	for {
		if len(b) == cap(b) {
			np := getBuf(2 * cap(b))
			nb := append((*np)[:0], b...)
			clear(b)
			*p = b
			putBuf(p)
			p, b = np, nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*p = b
		if int64(len(b)) > limit {
			return p, errTooLarge
		}
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return p, err
		}
	}
}

// Buffers for bodies come from free lists by size class, so a 64 KiB body
// does not take a 4 KiB buffer only to allocate anew. Each class keeps at
// most 16 MiB (and at least 2 buffers) idle. Plain free lists rather than
// sync.Pool: a buffer put back on one P was not found by the next request
// on another, and the pool empties at every GC.
var bufClasses = [...]int{4 << 10, 16 << 10, 128 << 10, 1 << 20, 8 << 20}

type freeList struct {
	mu   sync.Mutex
	bufs []*[]byte
	max  int
}

var freeLists [len(bufClasses)]freeList

func init() {
	for i, size := range bufClasses {
		freeLists[i].max = max(2, (16<<20)/size)
	}
}

func getBuf(n int) *[]byte {
	for i, size := range bufClasses {
		if n <= size {
			f := &freeLists[i]
			f.mu.Lock()
			if k := len(f.bufs); k > 0 {
				p := f.bufs[k-1]
				f.bufs = f.bufs[:k-1]
				f.mu.Unlock()
				*p = (*p)[:0]
				return p
			}
			f.mu.Unlock()
			b := make([]byte, 0, size)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

func putBuf(p *[]byte) {
	c := cap(*p)
	for i := len(bufClasses) - 1; i >= 0; i-- {
		if c >= bufClasses[i] {
			if c <= 2*bufClasses[i] {
				f := &freeLists[i]
				f.mu.Lock()
				if len(f.bufs) < f.max {
					f.bufs = append(f.bufs, p)
				}
				f.mu.Unlock()
			}
			return
		}
	}
}

// copyBuffers is the ReverseProxy's buffer pool for the answers it copies
// to the client (it allocates 32 KiB per response without one). Its buffers
// hold an answer read whole (wholeResponse) in one piece, so such an answer
// reaches the client's connection in one write rather than one per 32 KiB.
type copyBuffers struct{}

var copyPool = sync.Pool{New: func() any { b := make([]byte, wholeResponse); return &b }}

func (copyBuffers) Get() []byte  { return *(copyPool.Get().(*[]byte)) }
func (copyBuffers) Put(b []byte) { copyPool.Put(&b) }

// pooledBody serves a rewritten answer from a pooled buffer and returns
// the buffer (zeroed when it held decrypted plaintext) on Close.
type pooledBody struct {
	buf  *[]byte
	off  int
	zero bool
	once sync.Once
}

func (b *pooledBody) Read(p []byte) (int, error) {
	if b.off >= len(*b.buf) {
		return 0, io.EOF
	}
	n := copy(p, (*b.buf)[b.off:])
	b.off += n
	return n, nil
}

func (b *pooledBody) Close() error {
	b.once.Do(func() {
		if b.zero {
			clear(*b.buf)
		}
		putBuf(b.buf)
	})
	return nil
}

// joinedBody reads a buffered head then the rest of the upstream body.
type joinedBody struct {
	io.Reader
	c io.Closer
}

func (b *joinedBody) Close() error { return b.c.Close() }
