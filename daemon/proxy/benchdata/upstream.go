package benchdata

import (
	"bytes"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Framings are the two ways the upstream sends its answer, named by the
// first element of the request's path: /cl/... with a Content-Length,
// /chunked/... with chunked transfer encoding (headers flushed before the
// body). Both proxies are measured against both in the same run.
var Framings = []string{"cl", "chunked"}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Upstream answers every request with its body, as a record store returns
// what it saved, framed as the path's first element says (see Framings).
func Upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bodies.Get().(*bytes.Buffer)
		defer bodies.Put(b)
		b.Reset()
		if _, err := b.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/chunked/") {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush() // no length known: chunked
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		}
		w.Write(b.Bytes())
	})
}

// BufferPool is the copy-buffer pool a production ReverseProxy is given
// (without one it allocates 32 KiB per response).
type BufferPool struct{ p sync.Pool }

// Get returns a 32 KiB buffer.
func (bp *BufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

// Put returns a buffer to the pool.
func (bp *BufferPool) Put(b []byte) { bp.p.Put(&b) }

// Plain is the baseline the keyward proxy is measured against: an
// httputil.ReverseProxy to upstream with a BufferPool and a transport that
// keeps idle connections, default flushing.
func Plain(upstream *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(upstream); pr.SetXForwarded() },
		Transport:  &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		BufferPool: &BufferPool{},
	}
}

// FullDuplex serves h (the baseline) with the HTTP/1 server's full duplex
// on, as a proxy that streams request bodies must be served: by default
// the server reads the rest of the request body and closes it when the
// handler writes the response headers, and ReverseProxy's transport, whose
// writer goroutine may not yet have made its last read of that body (the
// one that checks it ends at its Content-Length), then reads a closed body
// ("http: invalid Read on closed Body"), fails the request's write and
// closes the upstream connection while the answer is still being copied
// from it: the client got a cut answer ("use of closed network connection"
// in the proxy's log; golang/go#40747, the reason for EnableFullDuplex).
func FullDuplex(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex() // HTTP/1 only; nothing to do elsewhere
		h.ServeHTTP(w, r)
	})
}
