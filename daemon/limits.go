package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// Limits bound what one socket caller can make the daemon hold: time,
// connections, event streams. Zero fields take the defaults (see
// withDefaults and the README's socket API section); tests set small ones.
type Limits struct {
	// HeaderTimeout is how long a caller has to send the request line
	// and headers, including the first request of a new connection.
	HeaderTimeout time.Duration
	// BodyTimeout is how long a caller has to send a request body.
	BodyTimeout time.Duration
	// WriteTimeout is how long a caller has to read an answer once the
	// daemon starts writing it (event streams: StreamWriteTimeout).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request.
	IdleTimeout time.Duration
	// StreamWriteTimeout is how long an event-stream reader may leave a
	// notification unread before the stream is dropped.
	StreamWriteTimeout time.Duration
	// ConnsPerUID bounds the open socket connections of one peer uid.
	ConnsPerUID int
	// StreamsPerUID bounds the open /v1/events streams of one peer uid.
	StreamsPerUID int
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.HeaderTimeout, 10*time.Second)
	def(&l.BodyTimeout, 30*time.Second)
	def(&l.WriteTimeout, 30*time.Second)
	def(&l.IdleTimeout, 2*time.Minute)
	def(&l.StreamWriteTimeout, 10*time.Second)
	if l.ConnsPerUID <= 0 {
		l.ConnsPerUID = 64
	}
	if l.StreamsPerUID <= 0 {
		l.StreamsPerUID = 8
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	return l
}

// server is the socket's HTTP server with the limits applied. There is
// no server-wide ReadTimeout or WriteTimeout: net/http's ReadTimeout
// cancels the context of any handler running past it (a long sync) and a
// WriteTimeout would cut event streams, so limitRequest sets the body and
// write deadlines per request instead.
func (d *Daemon) server(f *features) *http.Server {
	return &http.Server{Handler: d.handler(f), ConnContext: d.connContext,
		ReadHeaderTimeout: d.limits.HeaderTimeout, IdleTimeout: d.limits.IdleTimeout, MaxHeaderBytes: d.limits.MaxHeaderBytes,
		ErrorLog: d.httpLog}
}

type connKey struct{}

func (d *Daemon) connContext(ctx context.Context, c net.Conn) context.Context {
	pc, ok := c.(*peerConn)
	if !ok {
		return api.WithCaller(ctx, d.roles.peerCaller(c))
	}
	return context.WithValue(api.WithCaller(ctx, pc.caller), connKey{}, pc)
}

// peerListener reads each connection's peer credentials when it is
// accepted and refuses a uid that already holds ConnsPerUID connections.
type peerListener struct {
	net.Listener
	roles     Roles
	max       int
	maxHeader int
	// refusing counts the refusals being answered; past maxRefusing a
	// refused connection is closed without an answer, so a flood of
	// connections cannot pile up goroutines.
	refusing atomic.Int32
	mu       sync.Mutex
	open     map[int]int
}

// maxRefusing bounds the refused connections answered at once.
const maxRefusing = 16

// openConns is the number of connections open now.
func (l *peerListener) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.open {
		n += c
	}
	return n
}

func newPeerListener(ln net.Listener, roles Roles, l Limits) *peerListener {
	return &peerListener{Listener: ln, roles: roles, max: l.ConnsPerUID, maxHeader: l.MaxHeaderBytes, open: map[int]int{}}
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		caller := l.roles.peerCaller(c)
		l.mu.Lock()
		over := l.open[caller.UID] >= l.max
		if !over {
			l.open[caller.UID]++
		}
		l.mu.Unlock()
		if over {
			if l.refusing.Add(1) > maxRefusing {
				l.refusing.Add(-1)
				c.Close()
				continue
			}
			go func() {
				defer l.refusing.Add(-1)
				refuseConn(c, http.StatusTooManyRequests, api.CodeUnavailable, fmt.Sprintf(
					"uid %d already has %d connections open to the daemon (the most one user may hold); close some and retry", caller.UID, l.max))
			}()
			continue
		}
		pc := &peerConn{Conn: c, caller: caller, maxHeader: l.maxHeader}
		pc.release = func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[caller.UID]--; l.open[caller.UID] <= 0 {
				delete(l.open, caller.UID)
			}
		}
		return pc, nil
	}
}

// refuseConn answers a connection the daemon will not serve with one JSON
// error and closes it. It reads what the caller sent first (briefly), so
// the answer is not lost to a reset.
func refuseConn(c net.Conn, status int, code, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	_, _ = c.Read(buf)
	_, _ = c.Write(rawJSONError(status, code, msg))
}

// rawJSONError is a whole HTTP/1.1 answer carrying the API's error shape,
// for answers written outside a handler.
func rawJSONError(status int, code, msg string) []byte {
	body, _ := json.Marshal(api.Error{Code: code, Message: msg})
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// peerConn is one accepted socket connection: who is on the other end,
// and whether a handler is answering on it right now.
type peerConn struct {
	net.Conn
	caller    api.Caller
	maxHeader int
	release   func()
	once      sync.Once
	inHandler atomic.Bool
}

func (c *peerConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// netHTTPErrorHeaders is how net/http frames the errors it answers itself
// before any handler runs (bad request line, headers too large,
// unsupported transfer encoding): "HTTP/1.1 <status>" + these + a text.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// Write turns the plain-text errors net/http writes itself, outside any
// handler, into the API's JSON error shape.
func (c *peerConn) Write(p []byte) (int, error) {
	if c.inHandler.Load() {
		return c.Conn.Write(p)
	}
	if status, text, ok := netHTTPError(p); ok {
		msg := "the request could not be read as HTTP (" + text + ")"
		if status == http.StatusRequestHeaderFieldsTooLarge {
			msg = fmt.Sprintf("the request line and headers are larger than %d bytes", c.maxHeader)
		}
		if _, err := c.Conn.Write(rawJSONError(status, api.CodeBadRequest, msg)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// netHTTPError recognises one of net/http's own error answers.
func netHTTPError(p []byte) (status int, text string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found {
		return 0, "", false
	}
	line, body, found := bytes.Cut(rest, []byte(netHTTPErrorHeaders))
	if !found || bytes.ContainsAny(line, "\r\n") || len(line) < 3 {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(line[:3]))
	if err != nil || status < 400 || status > 599 {
		return 0, "", false
	}
	return status, string(body), true
}

// limitRequest is the outermost handler: it marks the connection as
// answered by a handler, bounds the time to send a body and to read the
// answer, closes the connection of a refused (403) or throttled (429)
// caller, and turns the plain-text answers net/http's ServeMux writes
// itself (404, 405, path-cleaning redirects) into the API's JSON errors.
func (d *Daemon) limitRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pc, ok := r.Context().Value(connKey{}).(*peerConn); ok {
			pc.inHandler.Store(true)
			defer pc.inHandler.Store(false)
		}
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(d.limits.BodyTimeout))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		jw := &jsonErrorWriter{ResponseWriter: w, r: r, rc: rc, writeTimeout: d.limits.WriteTimeout}
		next.ServeHTTP(jw, r)
		jw.finish()
	})
}

// deadlineBody lifts the body's read deadline once the whole body is
// read: past that, net/http's background read of the connection must not
// time out, or it would cancel the request's context mid-handler. A body
// that fails keeps its deadline, so net/http's discarding of the rest
// cannot wait on a stalled caller either.
type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// jsonErrorWriter sets the answer's write deadline when the answer
// starts, and replaces a non-JSON error or redirect with a JSON error,
// written by finish once the handler is done (it keeps the first line of
// the text the handler wrote, for the message).
type jsonErrorWriter struct {
	http.ResponseWriter
	r            *http.Request
	rc           *http.ResponseController
	writeTimeout time.Duration
	started      bool
	replaced     int // the status of the answer being replaced, 0 if none
	text         []byte
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if w.started {
		return
	}
	w.started = true
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	h := w.Header()
	if code == http.StatusForbidden || code == http.StatusTooManyRequests {
		h.Set("Connection", "close")
	}
	if code < 300 || h.Get("Content-Type") == "application/json" {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = code
}

// finish writes the JSON error that replaces a non-JSON one: ServeMux's
// own answers (404, 405, a path-cleaning redirect) or any http.Error.
func (w *jsonErrorWriter) finish() {
	code := w.replaced
	if code == 0 {
		return
	}
	w.replaced = 0
	h := w.Header()
	status, apiCode := code, api.CodeBadRequest
	var msg string
	switch {
	case code < 400:
		status = http.StatusNotFound
		apiCode = api.CodeNotFound
		msg = fmt.Sprintf("no such endpoint %s %s: paths are not redirected; the canonical path is %s", w.r.Method, w.r.URL.Path, h.Get("Location"))
	case code == http.StatusNotFound:
		apiCode = api.CodeNotFound
		msg = fmt.Sprintf("no such endpoint %s %s (the API is under /%s/)", w.r.Method, w.r.URL.Path, api.Version)
	case code == http.StatusMethodNotAllowed:
		msg = fmt.Sprintf("%s is not allowed on %s (allowed: %s)", w.r.Method, w.r.URL.Path, h.Get("Allow"))
	default:
		if code >= 500 {
			apiCode = api.CodeInternal
		}
		text, _, _ := strings.Cut(strings.TrimSpace(string(w.text)), "\n")
		if text == "" {
			text = http.StatusText(code)
		}
		msg = fmt.Sprintf("%s %s: %s", w.r.Method, w.r.URL.Path, text)
	}
	for _, k := range []string{"Location", "X-Content-Type-Options", "Content-Length"} {
		h.Del(k)
	}
	api.WriteError(w.ResponseWriter, status, apiCode, "%s", msg)
}

// maxReplacedText is how much of a replaced answer's text is kept.
const maxReplacedText = 512

func (w *jsonErrorWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced != 0 {
		if room := maxReplacedText - len(w.text); room > 0 {
			w.text = append(w.text, p[:min(room, len(p))]...)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *jsonErrorWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush that says whether the answer reached the socket
// (http.ResponseController uses it).
func (w *jsonErrorWriter) FlushError() error {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	w.finish()
	return w.rc.Flush()
}

func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
