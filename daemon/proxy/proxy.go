// Package proxy is keyward's encryption proxy: one reverse proxy per cloud
// application that encrypts the protected fields of requests with the
// application's newest key generation, decrypts every keyward token in
// responses with whichever retained generation made it, fails closed when it
// cannot protect a field, and reports live status, Prometheus metrics and
// per-key usage.
package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy/fields"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/token"
)

// Recorder is what the proxy needs from the daemon: the activity log, the
// usage table and the event stream. The daemon satisfies it with the store
// (store.Record, store.AddUsage) and its notification hub.
type Recorder interface {
	// Event records one activity event (Origin proxy): a refused request,
	// an upstream outage or recovery, a change of encrypting generation.
	Event(ctx context.Context, ev engine.Event)
	// Usage adds per-key, per-hour encrypt/decrypt counts.
	Usage(ctx context.Context, rows []engine.Usage) error
	// Status publishes one application's status on /v1/events
	// (Notification{Type: "proxy", Data: json of st}).
	Status(st engine.ProxyStatus)
}

// RingDescriber is implemented by key sources that can describe a ring
// (keyring.Rings does); the status then shows the generations, capacity and
// last change.
type RingDescriber interface {
	Ring(app string) (keyring.Ring, bool)
}

// App is the reverse proxy of one application.
type App struct {
	cfg      config.ProxyApp
	upstream *url.URL
	codec    *token.Codec
	keys     keyring.KeySource
	rules    *fields.Rules
	form     *fields.Rules // form bodies and query strings
	// checkRules are every protected field (field_scope everywhere): what
	// a body or query string no rule rewrites must not carry
	// (bodyCheckJSON, bodyCheckForm, bodySniff), and what a rewritten form
	// must not carry in plaintext.
	checkRules *fields.Rules
	pass       map[string]bool
	hasRules   bool
	rp         *httputil.ReverseProxy
	tr         *http.Transport
	rec        Recorder
	log        *slog.Logger
	metrics    *appMetrics

	st    *stats
	usage usage
	since time.Time

	mu          sync.Mutex
	health      engine.UpstreamHealth // its LastSuccess is lastSuccess, set by Status
	lastSuccess time.Time
	lastEvent   map[string]time.Time // per event kind, for rate limiting
	suppressed  map[string]int
}

// New builds the proxy of one application. keys supplies the material
// (keyring.Rings in the daemon); rec may be nil (nothing recorded).
func New(cfg config.ProxyApp, keys keyring.KeySource, rec Recorder, logger *slog.Logger) (*App, error) {
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if rec == nil {
		rec = nopRecorder{}
	}
	u, err := url.Parse(cfg.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy %s: upstream %q is not an http(s) URL", cfg.Name, cfg.Upstream)
	}
	if host, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("proxy %s: listen %q is not host:port", cfg.Name, cfg.Listen)
	} else if cfg.TLSCert == "" && !config.IsLoopback(host) {
		return nil, fmt.Errorf("proxy %s: listen %q serves plain HTTP on a non-loopback address: set tls_cert and tls_key, or listen on 127.0.0.1", cfg.Name, cfg.Listen)
	}
	rules, form, err := cfg.Protection()
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", cfg.Name, err)
	}
	a := &App{cfg: cfg, upstream: u, codec: token.NewCodec(cfg.Name, keys), keys: keys, rules: rules, form: form,
		pass: map[string]bool{}, rec: rec, log: logger.With("app", cfg.Name), st: newStats(), since: time.Now(),
		health: engine.UpstreamHealth{State: engine.UpstreamUnknown}, lastEvent: map[string]time.Time{}, suppressed: map[string]int{}}
	for _, ct := range cfg.PassContentTypes {
		a.pass[strings.ToLower(strings.TrimSpace(ct))] = true
	}
	if a.checkRules, err = cfg.AllFields(); err != nil {
		return nil, fmt.Errorf("proxy %s: %w", cfg.Name, err)
	}
	a.metrics = newSeries().forApp(cfg.Name) // the manager's, once it takes the app
	a.ring()                                 // note the encrypting generation, so a later change is seen as one
	a.hasRules = !rules.Empty() || !form.Empty() || len(cfg.Bodies) > 0
	a.tr, err = transport(cfg)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", cfg.Name, err)
	}
	// An https upstream may speak HTTP/2, whose flow control writeBounded
	// does not see (sendWatch); a plain one speaks HTTP/1.
	watchSend := u.Scheme == "https" && cfg.Timeout > 0
	a.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			ex, ok := pr.In.Context().(*exchange)
			if ok && ex.body != nil && pr.Out.Body != nil {
				// ReverseProxy wrapped it in a type net/http does
				// not know to be in memory (see forward).
				pr.Out.Body = ex.body
			}
			if ok && watchSend && pr.Out.Body != nil && pr.Out.Body != http.NoBody {
				ex.send.watch(pr.Out.Body, time.Duration(cfg.Timeout))
				pr.Out.Body = &ex.send
				pr.Out.Cancel = ex.send.cancel //nolint:staticcheck // the one cancellation both transports honour without a new request
			}
			pr.SetURL(u)
			pr.SetXForwarded()
			// Responses must come back uncompressed for their tokens to
			// be found and decrypted.
			pr.Out.Header.Del("Accept-Encoding")
		},
		Transport:  timedTransport{a.tr},
		BufferPool: copyBuffers{},
		// Default flushing: a response of unknown length or an event
		// stream is flushed at once by ReverseProxy itself; others are
		// not flushed write by write (a syscall each).
		ModifyResponse: a.modifyResponse,
		ErrorHandler:   a.upstreamError,
		ErrorLog:       slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	return a, nil
}

// upstreamWriteBuffer is the transport's write buffer per upstream
// connection (net/http's default is 4 KiB): a rewritten request up to this
// size goes upstream in one write with its headers (see forward).
const upstreamWriteBuffer = 128 << 10

func transport(cfg config.ProxyApp) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.UpstreamServerName}
	if cfg.UpstreamCA != "" {
		pool, err := pemPool("upstream_ca", cfg.UpstreamCA)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	}
	d := &net.Dialer{Timeout: time.Duration(cfg.DialTimeout), KeepAlive: 30 * time.Second}
	return &http.Transport{
		WriteBufferSize:       upstreamWriteBuffer,
		DialContext:           boundedDial(d.DialContext, time.Duration(cfg.Timeout)),
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   time.Duration(cfg.DialTimeout),
		ResponseHeaderTimeout: time.Duration(cfg.Timeout),
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
	}, nil
}

// Name is the application's name.
func (a *App) Name() string { return a.cfg.Name }

// Config is the application's configuration, with defaults applied.
func (a *App) Config() config.ProxyApp { return a.cfg }

// Codec is the application's token codec (for keyward encrypt/decrypt).
func (a *App) Codec() *token.Codec { return a.codec }

type ctxKey struct{}

// exchange is the per-request state shared by the handler and the
// ReverseProxy hooks. It is the request's context too (its own value under
// ctxKey), so a request carries it at the cost of one allocation.
type exchange struct {
	context.Context
	hour        int64                  // unix seconds of the hour's start, for the usage counts
	at          int64                  // unix milliseconds of the request: the time of its keys' use
	body        io.ReadCloser          // the rewritten request body, in memory (forward)
	out         atomic.Pointer[[]byte] // its pooled buffer, until the transport wrote it
	trace       httptrace.ClientTrace
	upstreamT0  time.Time
	upstreamDur time.Duration
	// clientStalled: the client's body stopped coming (clientBody).
	clientStalled atomic.Bool
	// send bounds an https upstream's taking of the request body.
	send sendWatch
}

// newExchange starts the exchange of a request that arrived at t.
func newExchange(ctx context.Context, t time.Time) *exchange {
	return &exchange{Context: ctx, hour: t.Truncate(time.Hour).Unix(), at: t.UnixMilli()}
}

// Value is the exchange itself under ctxKey, else the parent's value.
func (ex *exchange) Value(key any) any {
	if key == (ctxKey{}) {
		return ex
	}
	return ex.Context.Value(key)
}

// refusal is a request the proxy will not forward.
type refusal struct {
	status int
	kind   string
	msg    string
}

func (a *App) refuse(w http.ResponseWriter, r *http.Request, f refusal) {
	a.st.fail(f.kind)
	a.metrics.err(f.kind)
	a.event(f.kind, engine.SeverityWarn, r.RemoteAddr, fmt.Sprintf("refused %s %s: %s", r.Method, r.URL.Path, f.msg))
	a.log.Warn("request refused", "method", r.Method, "path", r.URL.Path, "kind", f.kind, "reason", f.msg)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Keyward-Refused", f.kind)
	w.WriteHeader(f.status)
	fmt.Fprintf(w, "{\"error\":%q,\"message\":%q}\n", f.kind, "keyward proxy: "+f.msg)
}

// ServeHTTP proxies one request.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	a.st.requests.Add(1)
	a.st.series.add(t0, 1, 0)
	ex := newExchange(r.Context(), t0)
	cw := newCountingWriter(w, time.Duration(a.cfg.ClientTimeout))
	defer func() {
		cw.deadline() // for the flush net/http makes after this returns
		if cw.stalled {
			a.st.fail(ErrKindClientTimeout)
			a.metrics.err(ErrKindClientTimeout)
		}
		total := time.Since(t0)
		own := max(total-ex.upstreamDur, 0)
		a.st.proxyLat.add(own)
		a.metrics.observe(own, ex.upstreamDur)
		if ex.upstreamDur > 0 {
			a.st.upstreamLat.add(ex.upstreamDur)
		}
		a.st.bytesOut.Add(cw.n)
		a.metrics.bytesOut.Add(float64(cw.n))
	}()
	r = r.WithContext(ex)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = bodyDeadline(r.Body, w, time.Duration(a.cfg.ClientTimeout), t0, &ex.clientStalled)
	}

	if a.hasRules && r.Header.Get("Upgrade") != "" {
		// A WebSocket (or other upgraded) stream cannot be inspected, so
		// a protected field could ride it upstream in the clear.
		a.refuse(cw, r, refusal{http.StatusNotImplemented, ErrKindUpgrade,
			fmt.Sprintf("protocol upgrades (%.40q) cannot be inspected for protected fields", r.Header.Get("Upgrade"))})
		return
	}
	var fr framing
	if a.hasRules {
		var rf *refusal
		if fr, rf = readFraming(r.Header, r.Trailer); rf != nil {
			a.refuse(cw, r, *rf)
			return
		}
	}
	if rf := a.protectQuery(r, ex); rf != nil {
		a.refuse(cw, r, *rf)
		return
	}
	if rf := a.pathParams(r); rf != nil {
		a.refuse(cw, r, *rf)
		return
	}
	if rf := a.cookies(r); rf != nil {
		a.refuse(cw, r, *rf)
		return
	}
	if rf := a.protectBody(r, ex, fr); rf != nil {
		a.refuse(cw, r, *rf)
		return
	}
	a.rp.ServeHTTP(cw, r)
}

// protectQuery encrypts protected form fields found in the query string,
// and refuses a query string that still carries a protected field's
// plaintext as upstreams read one.
func (a *App) protectQuery(r *http.Request, ex *exchange) *refusal {
	if r.URL.RawQuery == "" {
		return nil
	}
	if n := strings.Count(r.URL.RawQuery, "&") + 1; n > maxQueryParams {
		return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
			fmt.Sprintf("the query string has %d parameters; the proxy forwards at most %d (past that net/http's ReverseProxy would send the request on without its query string)", n, maxQueryParams)}
	}
	if a.checkRules.Empty() {
		return nil
	}
	if !a.form.Empty() {
		out, n, err := a.form.EncryptForm(nil, []byte(r.URL.RawQuery), a.encrypter(ex))
		if err != nil {
			return a.encryptRefusal(err, "query string")
		}
		if n > 0 {
			r.URL.RawQuery = string(out)
			a.countEncrypted(n)
		}
	}
	return exposed(a.checkRules, []byte(r.URL.RawQuery), "query string")
}

// maxQueryParams is net/url's limit on the parameters of a query string
// (ParseQuery fails past it), which ReverseProxy's re-encoding of a query
// with more of them turns into no query at all.
const maxQueryParams = 10000

// pathParams refuses a path whose segment parameters (";name=value", read
// by Spring's @MatrixVariable and JAX-RS's @MatrixParam) carry a protected
// field's plaintext: the proxy does not rewrite paths.
func (a *App) pathParams(r *http.Request) *refusal {
	p := r.URL.EscapedPath()
	if !strings.Contains(p, ";") {
		return nil
	}
	for _, seg := range strings.Split(p, "/") {
		if _, params, ok := strings.Cut(seg, ";"); ok {
			if rf := exposed(a.checkRules, []byte(params), "path parameters"); rf != nil {
				return rf
			}
		}
	}
	return nil
}

// cookies refuses cookies that carry a protected field's plaintext: ASP.NET's
// Request[name] and Request.Params read cookies beside the query and the
// form, and the proxy does not rewrite cookies.
func (a *App) cookies(r *http.Request) *refusal {
	cs := r.Cookies()
	if len(cs) == 0 || a.checkRules.Empty() {
		return nil
	}
	var form []byte
	for _, c := range cs {
		form = append(form, url.QueryEscape(c.Name)+"="+url.QueryEscape(c.Value)+"&"...)
	}
	return exposed(a.checkRules, form, "cookies")
}

func (a *App) countEncrypted(n int) {
	a.st.encrypted.Add(int64(n))
	a.metrics.encrypted.Add(float64(n))
}

// bodyKind is what the proxy does with a request body.
type bodyKind int

const (
	bodyStream    bodyKind = iota // sent on as it comes
	bodyJSON                      // protected JSON fields encrypted
	bodyForm                      // protected form fields encrypted
	bodyPatch                     // a JSON Patch: protected values encrypted (RFC 6902)
	bodyWhole                     // the whole body encrypted (a body rule)
	bodyCheckJSON                 // JSON the application has no JSON rules for: read, refused if it carries a protected field
	bodyCheckForm                 // a form the application has no form rules for: likewise
	bodySniff                     // a pass_content_types body: streamed unless its first bytes are JSON or a form
)

const patchType = "application/json-patch+json" // RFC 6902

// classify decides how to treat the request body from its framing.
func (a *App) classify(r *http.Request, f framing) (bodyKind, bool, *refusal) {
	mt := f.mt
	for _, b := range a.cfg.Bodies {
		if ok, _ := path.Match(b.Path, r.URL.Path); ok && (b.ContentType == "" || strings.EqualFold(b.ContentType, mt)) {
			return bodyWhole, b.Deterministic, nil
		}
	}
	switch {
	case isJSON(mt):
		if rf := f.utf8Only(); rf != nil {
			return bodyStream, false, rf
		}
		switch {
		case mt == patchType && !a.rules.Empty():
			return bodyPatch, false, nil
		case !a.rules.Empty():
			return bodyJSON, false, nil
		case !a.checkRules.Empty():
			return bodyCheckJSON, false, nil
		}
		return bodyStream, false, nil
	case mt == formType:
		if rf := f.utf8Only(); rf != nil {
			return bodyStream, false, rf
		}
		switch {
		case !a.form.Empty():
			return bodyForm, false, nil
		case !a.checkRules.Empty():
			return bodyCheckForm, false, nil
		}
		return bodyStream, false, nil
	case a.pass[mt]:
		if !a.checkRules.Empty() {
			return bodySniff, false, nil
		}
		return bodyStream, false, nil
	}
	if mt == "" {
		mt = "no content type"
	}
	return bodyStream, false, &refusal{http.StatusUnsupportedMediaType, ErrKindContentType,
		fmt.Sprintf("a %s body is not covered by the protection rules of %q; send JSON or a form, or list the type in pass_content_types if it never carries protected fields", mt, a.cfg.Name)}
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength > 0 || (r.ContentLength < 0 && len(r.TransferEncoding) > 0) || r.ContentLength == -1)
}

// protectBody encrypts what policy says must be protected in the body, or
// says why the request cannot go upstream.
func (a *App) protectBody(r *http.Request, ex *exchange, f framing) *refusal {
	if !hasBody(r) {
		return nil
	}
	kind, det := bodyStream, false
	if a.hasRules {
		var rf *refusal
		if kind, det, rf = a.classify(r, f); rf != nil {
			return rf
		}
	}
	if kind == bodySniff {
		if f.encoding != "" {
			kind = bodyStream // compressed: its bytes say nothing (see README)
		} else {
			var rf *refusal
			if kind, rf = a.sniff(r, f.mt); rf != nil {
				return rf
			}
		}
	}
	if kind == bodyStream {
		r.Body = &countingReader{ReadCloser: r.Body, n: &a.st.bytesIn, m: a.metrics}
		return nil
	}
	if f.encoding != "" {
		return &refusal{http.StatusUnsupportedMediaType, ErrKindEncoded,
			fmt.Sprintf("the body is %.40s-encoded and cannot be inspected for protected fields; send it uncompressed", f.encoding)}
	}
	limit := a.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return &refusal{http.StatusRequestEntityTooLarge, ErrKindTooLarge,
			fmt.Sprintf("the body is %d bytes, over the %d-byte limit for bodies the proxy must read (max_body_bytes)", r.ContentLength, limit)}
	}
	bp, err := readLimited(r.Body, limit, r.ContentLength)
	body := *bp
	r.Body.Close()
	if err != nil {
		clear(body) // plaintext the proxy will not forward
		if errors.Is(err, errTooLarge) {
			return &refusal{http.StatusRequestEntityTooLarge, ErrKindTooLarge,
				fmt.Sprintf("the body is over the %d-byte limit for bodies the proxy must read (max_body_bytes)", limit)}
		}
		return bodyReadRefusal(err)
	}
	a.st.bytesIn.Add(int64(len(body)))
	a.metrics.bytesIn.Add(float64(len(body)))
	if kind == bodyCheckJSON || kind == bodyCheckForm {
		if rf := a.check(kind, body, f.mt); rf != nil {
			clear(body)
			putBuf(bp)
			return rf
		}
		a.forward(r, ex, bp) // nothing to encrypt: sent as it came
		return nil
	}
	if kind == bodyForm {
		if rf := strictForm(body); rf != nil {
			clear(body)
			putBuf(bp)
			return rf
		}
	}
	if kind == bodyJSON && patchLike(body) {
		kind = bodyPatch // ASP.NET applies a JSON Patch sent as application/json too
	}
	out := getBuf(len(body) + len(body)/2 + 256)
	var n int
	switch kind {
	case bodyJSON:
		*out, n, err = a.rules.EncryptJSON((*out)[:0], body, a.encrypter(ex))
	case bodyForm:
		*out, n, err = a.form.EncryptForm((*out)[:0], body, a.encrypter(ex))
		if err == nil {
			if rf := exposed(a.checkRules, *out, "form body"); rf != nil {
				clear(body)
				putBuf(bp)
				clear(*out)
				putBuf(out)
				return rf
			}
		}
	case bodyPatch:
		*out, n, err = a.rules.EncryptPatch((*out)[:0], body, a.encrypter(ex))
	case bodyWhole:
		*out, err = a.encrypter(ex)((*out)[:0], body, det, token.Text)
		n = 1
	}
	clear(body) // plaintext of protected fields: gone once rewritten
	putBuf(bp)
	if err != nil {
		putBuf(out)
		return a.encryptRefusal(err, "body")
	}
	a.countEncrypted(n)
	a.forward(r, ex, out)
	return nil
}

// forward makes buf (a pooled buffer, holding no plaintext of a protected
// field) the request's body: a *bytes.Reader under io.NopCloser, the
// in-memory body net/http writes with the request's headers in one syscall
// (with the transport's write buffer, upstreamWriteBuffer, up to that
// size). A body it does not know (a pooled body must be one, to learn
// when it was read) gets the headers flushed alone first and then 32 KiB
// writes, each a syscall here and a read at the upstream. buf goes back to
// its pool when the transport reports the request written (an
// httptrace.ClientTrace on the exchange's context): it reads the body
// no more after that, as a failed write never retries a body it has read.
// A request not written leaves buf to the garbage collector.
func (a *App) forward(r *http.Request, ex *exchange, buf *[]byte) {
	ex.out.Store(buf)
	ex.trace.WroteRequest = ex.wroteRequest
	ex.Context = httptrace.WithClientTrace(ex.Context, &ex.trace)
	ex.body = io.NopCloser(bytes.NewReader(*buf))
	r.Body = ex.body
	r.ContentLength = int64(len(*buf))
	r.Header.Del("Content-Length") // the transport writes ContentLength's
	r.TransferEncoding = nil
}

// wroteRequest puts the request body's buffer back once it is written.
func (ex *exchange) wroteRequest(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		if buf := ex.out.Swap(nil); buf != nil {
			putBuf(buf)
		}
	}
}

// check refuses a body the application has no rules for when it carries a
// protected field, read as JSON or as a form; mt is its media type.
func (a *App) check(kind bodyKind, body []byte, mt string) *refusal {
	if kind == bodyCheckForm {
		if rf := strictForm(body); rf != nil {
			return rf
		}
		return exposed(a.checkRules, body, "form body")
	}
	n := 0
	count := func(dst, _ []byte, _ bool, _ token.Kind) ([]byte, error) {
		n++
		return dst, nil
	}
	// A byte order mark: Jackson and .NET skip it, so the proxy does too.
	doc := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	var err error
	if mt == patchType || patchLike(doc) {
		_, _, err = a.checkRules.EncryptPatch(nil, doc, count)
	} else {
		_, _, err = a.checkRules.EncryptJSON(nil, doc, count)
	}
	if err != nil {
		return a.encryptRefusal(err, "body")
	}
	if n > 0 {
		where := "only in forms and query strings"
		if !isJSON(mt) {
			where = fmt.Sprintf("only in JSON and form bodies (%.60s is passed through unread)", mt)
		}
		return &refusal{http.StatusBadRequest, ErrKindExposed,
			fmt.Sprintf("the body is JSON carrying %s, which %q encrypts %s; send the fields where the rules protect them", engine.Plural(n, "protected field"), a.cfg.Name, where)}
	}
	return nil
}

// patchLike reports whether a JSON document is an array with an object
// that has an "op" member (in any case): a JSON Patch to an upstream that
// binds one from any JSON body, as ASP.NET's JsonPatchDocument does. Only
// documents that start with '[' are looked at, so an object costs nothing.
func patchLike(doc []byte) bool {
	if !bytes.HasPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("[")) {
		return false
	}
	var elems []json.RawMessage
	if json.Unmarshal(doc, &elems) != nil {
		return false
	}
	for _, e := range elems {
		var members map[string]json.RawMessage
		if json.Unmarshal(e, &members) != nil {
			continue
		}
		for name := range members {
			if strings.EqualFold(name, "op") {
				return true
			}
		}
	}
	return false
}

func (a *App) encryptRefusal(err error, what string) *refusal {
	var fe *fields.FormError
	switch {
	case errors.Is(err, token.ErrNoActiveKey):
		return &refusal{http.StatusServiceUnavailable, ErrKindNoKey,
			fmt.Sprintf("no active key generation for %q, so protected fields cannot be encrypted; check the KMS and the ring (keyward sources)", a.cfg.Name)}
	case errors.Is(err, fields.ErrInvalidJSON):
		// The reason and position only: fields' message starts with
		// ErrInvalidJSON's own words, said here once.
		why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), fields.ErrInvalidJSON.Error()), ": ")
		return &refusal{http.StatusBadRequest, ErrKindInvalidJSON, fmt.Sprintf("the %s is not valid JSON: %s", what, why)}
	case errors.Is(err, fields.ErrPatch):
		return &refusal{http.StatusBadRequest, ErrKindPatch, fmt.Sprintf("the %s is refused as a JSON Patch: %v", what, err)}
	case errors.Is(err, fields.ErrAmbiguousName):
		return &refusal{http.StatusBadRequest, ErrKindAmbiguousName, fmt.Sprintf("the %s names a protected field ambiguously: %v", what, err)}
	case errors.As(err, &fe):
		// A pair's position and a configured field, never the request's bytes.
		return &refusal{http.StatusBadRequest, ErrKindInvalidForm, fmt.Sprintf("the %s is not a valid form: %v", what, fe)}
	default:
		return &refusal{http.StatusServiceUnavailable, ErrKindEncrypt, fmt.Sprintf("encrypting the %s failed: %v", what, err)}
	}
}

// encrypter seals with the active generation and counts usage per key.
func (a *App) encrypter(ex *exchange) fields.Encrypter {
	return func(dst, pt []byte, det bool, kind token.Kind) ([]byte, error) {
		mode := token.GCM
		if det {
			mode = token.SIV
		}
		out, id, err := a.codec.AppendEncrypt(dst, pt, mode, kind)
		if err == nil {
			c := a.usage.counter(ex.hour, id)
			c.use(&c.enc, ex.at)
		}
		return out, err
	}
}

// decrypter opens tokens and counts usage per key and failures per kind.
func (a *App) decrypter(ex *exchange) fields.Decrypter {
	return func(dst, tok []byte) ([]byte, token.Kind, error) {
		out, o, err := a.codec.AppendDecrypt(dst, tok)
		if err != nil {
			return out, 0, err
		}
		c := a.usage.counter(ex.hour, o.KeyID)
		c.use(&c.dec, ex.at)
		return out, o.Kind, nil
	}
}

func (a *App) countOpened(op fields.Opened) {
	if op.Decrypted > 0 {
		a.st.decrypted.Add(int64(op.Decrypted))
		a.metrics.decrypted.Add(float64(op.Decrypted))
	}
	for _, err := range op.Failed {
		kind := ErrKindMalformedToken
		switch {
		case errors.Is(err, token.ErrUnknownGeneration):
			kind = ErrKindUnknownGen
		case errors.Is(err, token.ErrTampered):
			kind = ErrKindTampered
		case errors.Is(err, token.ErrWrongApplication):
			kind = ErrKindWrongApp
		}
		a.st.fail(kind)
		a.metrics.err(kind)
	}
}

// modifyResponse decrypts the tokens of a response the proxy can read whole.
func (a *App) modifyResponse(resp *http.Response) error {
	ex, _ := resp.Request.Context().Value(ctxKey{}).(*exchange)
	if ex == nil {
		ex = newExchange(context.Background(), time.Now())
	}
	if !ex.upstreamT0.IsZero() {
		ex.upstreamDur = time.Since(ex.upstreamT0) // until headers; body read below adds to it
	}
	a.upstreamAnswered(resp)
	if resp.Body == nil || resp.Body == http.NoBody || resp.Request.Method == http.MethodHead || resp.StatusCode == http.StatusSwitchingProtocols {
		return nil
	}
	mt := mediaType(resp.Header)
	jsonBody, formBody := isJSON(mt), mt == formType
	if !jsonBody && !formBody && !a.wholeBodyPath(resp.Request.URL.Path, mt) {
		return nil // streamed as is
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		a.st.fail(ErrKindRespEncoded)
		a.metrics.err(ErrKindRespEncoded)
		return nil
	}
	limit := a.cfg.MaxBodyBytes
	if jsonBody {
		// Read whole up to wholeResponse, streamed past it.
		limit = wholeResponse
	}
	// Nothing reaches the client until a window is read: an upstream
	// that stops in the middle is cut off after timeout.
	resp.Body = newUpstreamBody(resp.Body, time.Duration(a.cfg.Timeout))
	if resp.ContentLength > limit {
		if jsonBody {
			a.streamJSON(resp, ex, nil)
			return nil
		}
		a.st.fail(ErrKindRespTooLarge)
		a.metrics.err(ErrKindRespTooLarge)
		return nil
	}
	bp, err := readLimited(resp.Body, limit, resp.ContentLength)
	body := *bp
	if errors.Is(err, errTooLarge) {
		if jsonBody {
			a.streamJSON(resp, ex, bp)
			return nil
		}
		// Too big to rewrite: pass it on whole, tokens and all.
		a.st.fail(ErrKindRespTooLarge)
		a.metrics.err(ErrKindRespTooLarge)
		resp.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(body), resp.Body), c: resp.Body}
		return nil
	}
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the upstream's answer: %w", err)
	}
	if !ex.upstreamT0.IsZero() {
		ex.upstreamDur = time.Since(ex.upstreamT0)
	}
	out := getBuf(len(body) + 256)
	var op fields.Opened
	switch {
	case jsonBody:
		*out, op = fields.DecryptJSON((*out)[:0], body, a.decrypter(ex))
	case formBody:
		*out, op = fields.DecryptForm((*out)[:0], body, a.decrypter(ex))
	default:
		// A whole body: only when it is one token, trimmed.
		if t := bytes.TrimSpace(body); token.Span(t) == len(t) && len(t) > 0 {
			*out, _, err = a.decrypter(ex)((*out)[:0], t)
			if err != nil {
				op.Failed = append(op.Failed, err)
				*out = append((*out)[:0], body...)
			} else {
				op.Decrypted = 1
			}
		} else {
			*out = append((*out)[:0], body...)
		}
	}
	putBuf(bp)
	a.countOpened(op)
	resp.Body = &pooledBody{buf: out, zero: op.Decrypted > 0}
	resp.ContentLength = int64(len(*out))
	resp.Header["Content-Length"] = []string{strconv.Itoa(len(*out))}
	resp.Header.Del("Transfer-Encoding")
	return nil
}

// wholeBodyPath reports whether a response at path may be a whole body the
// proxy encrypted (a body rule matches): only those are read to look for a
// token; everything else streams.
func (a *App) wholeBodyPath(p, mt string) bool {
	if mt == "text/event-stream" {
		return false
	}
	for _, b := range a.cfg.Bodies {
		if ok, _ := path.Match(b.Path, p); ok {
			return true
		}
	}
	return false
}

// upstreamAnswered updates upstream health from a response.
func (a *App) upstreamAnswered(resp *http.Response) {
	now := time.Now()
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		a.setHealth(false, now, "upstream answered "+resp.Status)
	default:
		a.setHealth(true, now, "")
	}
}

func (a *App) setHealth(ok bool, now time.Time, reason string) {
	a.mu.Lock()
	was, known := a.health.OK, !a.lastSuccess.IsZero() || a.health.LastFailure != nil
	a.health.OK, a.health.State = ok, engine.UpstreamDown
	if ok {
		a.health.State = engine.UpstreamUp
		a.lastSuccess = now // a value: every answer sets it, without allocating
	} else {
		a.health.LastFailure = &now
		a.health.Reason = reason
	}
	a.mu.Unlock()
	if known && was != ok {
		if ok {
			a.event("upstream-recovered", engine.SeverityInfo, "", "upstream "+a.upstream.Redacted()+" answers again")
		} else {
			a.event("upstream-outage", engine.SeverityAlert, "", "upstream "+a.upstream.Redacted()+" failing: "+reason)
		}
	} else if !known && !ok {
		a.event("upstream-outage", engine.SeverityAlert, "", "upstream "+a.upstream.Redacted()+" failing: "+reason)
	}
}

// upstreamError answers when the upstream could not be reached or timed out.
func (a *App) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	ex, _ := r.Context().Value(ctxKey{}).(*exchange)
	if ex != nil && !ex.upstreamT0.IsZero() {
		ex.upstreamDur = time.Since(ex.upstreamT0)
	}
	if errors.Is(err, errClientStalled) || ex != nil && ex.clientStalled.Load() {
		// A body streamed upstream that stopped coming: the client's
		// doing, not the upstream's health. The transport may report
		// only the request's cancellation (net/http cancels it when the
		// read fails), which must not pass for a client gone away: the
		// client is there, and an empty 200 would tell it all went well.
		a.refuse(w, r, *bodyReadRefusal(clientStalled(time.Duration(a.cfg.ClientTimeout))))
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	kind, status, msg := ErrKindUpstream, http.StatusBadGateway, "upstream unreachable: "+cleanErr(err)
	var sent error
	if ex != nil {
		sent = ex.send.end()
	}
	var ne net.Error
	switch {
	case sent != nil:
		kind, status, msg = ErrKindTimeout, http.StatusGatewayTimeout, sent.Error()
	case errors.Is(err, errUpstreamStalled):
		kind, status = ErrKindTimeout, http.StatusGatewayTimeout
		msg = cleanErr(err)
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded):
		kind, status = ErrKindTimeout, http.StatusGatewayTimeout
		msg = fmt.Sprintf("upstream did not answer within %s: %s", time.Duration(a.cfg.Timeout), cleanErr(err))
	}
	a.st.fail(kind)
	a.metrics.err(kind)
	a.setHealth(false, time.Now(), msg)
	// The error without the request's URL: every request failing the
	// same way logs the same line, which the daemon's log folds.
	a.log.Warn("upstream failed", "err", cleanErr(err))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q,\"message\":%q}\n", kind, "keyward proxy: "+msg)
}

func cleanErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// event records an activity event. Refusals and outages are limited to one
// per kind every 10 seconds (the others are counted into the next one);
// decryptions and rewraps on the socket are always recorded.
func (a *App) event(kind string, sev engine.Severity, actor, details string) {
	if ev, ok := a.activity(kind, sev, actor, details); ok {
		a.rec.Event(context.Background(), ev)
	}
}

// activity is the event of kind, or false when it is one of a burst
// (refusals and outages are limited to one per 10 s per kind; the next
// says how many were left out). actor is a socket caller's user name or
// a proxied client's address ("": the proxy itself).
func (a *App) activity(kind string, sev engine.Severity, actor, details string) (engine.Event, bool) {
	now := time.Now()
	limited := kind != "decrypt" && kind != "rewrap"
	a.mu.Lock()
	if last, ok := a.lastEvent[kind]; limited && ok && now.Sub(last) < 10*time.Second {
		a.suppressed[kind]++
		a.mu.Unlock()
		return engine.Event{}, false
	}
	a.lastEvent[kind] = now
	if n := a.suppressed[kind]; n > 0 {
		details += fmt.Sprintf(" (and %d more like it since the last event)", n)
	}
	a.suppressed[kind] = 0
	a.mu.Unlock()
	op := engine.OpRefused
	switch kind {
	case "upstream-outage":
		op = engine.OpOutage
	case "upstream-recovered":
		op = engine.OpRecovery
	case "decrypt":
		op = engine.OpDecrypted
	case "rewrap":
		op = engine.OpRewrapped
	}
	if actor == "" {
		actor = "proxy:" + a.cfg.Name
	}
	return engine.Event{Time: now.UTC(), Operation: op, Actor: actor, Origin: engine.OriginProxy,
		Severity: sev, Details: "proxy " + a.cfg.Name + ": " + details}, true
}

// Status takes a snapshot of the application's status.
func (a *App) Status() engine.ProxyStatus {
	now := time.Now()
	st := engine.ProxyStatus{
		App: a.cfg.Name, Listen: a.cfg.Listen, Upstream: a.upstream.Redacted(), TLS: a.cfg.TLSCert != "",
		Since: a.since.UTC(), Time: now.UTC(),
		Requests: a.st.requests.Load(), BytesIn: a.st.bytesIn.Load(), BytesOut: a.st.bytesOut.Load(),
		FieldsEncrypt: a.st.encrypted.Load(), FieldsDecrypt: a.st.decrypted.Load(), Errors: a.st.errorCounts(),
		ProxyLatency: a.st.proxyLat.percentiles(), UpstreamLatency: a.st.upstreamLat.percentiles(),
		Series: a.st.series.last(now, 180),
	}
	a.mu.Lock()
	st.Health = a.health
	if !a.lastSuccess.IsZero() {
		t := a.lastSuccess
		st.Health.LastSuccess = &t
	}
	a.mu.Unlock()
	st.Ring = a.ring()
	return st
}

// ring describes the key ring as the proxy sees it. A change of the
// encrypting generation is recorded once, by the source that changed the
// ring (naming the key and generation), and announced on the event stream
// as a "ring" notice; the proxy records none of its own.
func (a *App) ring() engine.ProxyRing {
	var pr engine.ProxyRing
	id, err := a.codec.ActiveKeyID()
	if err != nil {
		pr.Reason = err.Error()
	}
	pr.KeyID = id
	if d, ok := a.keys.(RingDescriber); ok {
		if rg, ok := d.Ring(a.cfg.Name); ok {
			pr.Size, pr.Capacity = len(rg.Gens), rg.Capacity
			if !rg.LastChange.IsZero() {
				lc := rg.LastChange.UTC()
				pr.LastChange = &lc
			}
			for _, g := range rg.Gens {
				if g.ShortID == id {
					pr.Fingerprint = g.Fingerprint
				}
				pr.Generations = append(pr.Generations, g.Info())
			}
			if g := rg.NextOut(); g != nil {
				pr.LeavesNext = g.ShortID
			}
		}
	}
	return pr
}

// drainUsage takes the usage counted since the last call.
func (a *App) drainUsage(now time.Time) []engine.Usage {
	rows := a.usage.drain(a.cfg.Name, now)
	out := make([]engine.Usage, 0, len(rows))
	for _, r := range rows {
		u := engine.Usage{Hour: time.Unix(r.hour, 0).UTC(), Application: r.app, KeyID: r.keyID, Encrypts: r.enc, Decrypts: r.dec}
		if r.last != 0 {
			u.Last = time.UnixMilli(r.last).UTC()
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(x, y engine.Usage) int { return strings.Compare(x.KeyID, y.KeyID) })
	return out
}

// Close releases idle upstream connections and zeroes cached keys.
func (a *App) Close() {
	a.tr.CloseIdleConnections()
	a.codec.Close()
}

type nopRecorder struct{}

func (nopRecorder) Event(context.Context, engine.Event)         {}
func (nopRecorder) Usage(context.Context, []engine.Usage) error { return nil }
func (nopRecorder) Status(engine.ProxyStatus)                   {}
