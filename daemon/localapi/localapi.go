// Package localapi serves keyward's socket API: every route in one table
// (routes.go) of method, pattern, role and handler, behind one guard
// (browser refusal, the caller's role, the route's query parameters), with
// one JSON reader and writer, one error shape and one audit hook through
// which every state-changing request passes once. Handlers translate
// between HTTP and the domain services (the daemon's inventory and
// reports, cloud.Manager, proxy.Manager, pki.Service) and nothing else.
//
// It sits between the daemon, which builds the services and owns the
// listener and its connection limits, and daemon/api, the wire types and
// their Go client: the daemon imports it, it imports the services, and
// no service imports it.
package localapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/daemon/scheduler"
	"github.com/keyward/keyward/engine"
)

// HandlerFunc serves one route. An error it returns is answered in the one
// error shape (see errorOf); a handler that has started its answer returns
// nil.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one line of the socket API.
type Route struct {
	Method  string // GET, POST, PUT, DELETE
	Pattern string // a net/http path pattern: /v1/keys/{id...}
	Role    api.Role
	Params  []api.Param // the query parameters it takes (api.CheckQuery)
	Serve   HandlerFunc
	// Why says, for a state-changing route a user may call, why it is not
	// admin-only; TestRouteTable holds every other one to the admin role.
	Why string
	// Refused, when set, is added to the 403 a caller without Role gets
	// (what an admin can change to allow it).
	Refused string
	// needs is the service the route calls; when the daemon runs none
	// (nothing of it configured) the route answers 404 saying so.
	needs service
}

// service names what a route calls beyond the daemon itself.
type service int

const (
	daemonItself service = iota
	cloudService
	backupService
	proxyService
	identityService
	scheduleService
	appService
)

// missing is the 404 of a route whose service the daemon does not run.
func (h *Handler) missing(needs service, r *http.Request) error {
	switch {
	case needs == cloudService && h.s.Cloud == nil:
		return notFound("no cloud source is configured (add an [[azure]], [[aws]] or [[gcp]] section to keyward.toml), so %s %s has nothing to act on", r.Method, r.URL.Path)
	case needs == backupService && h.s.Backups == nil:
		return notFound("this daemon reads no stored backups, so %s %s has nothing to act on", r.Method, r.URL.Path)
	case needs == proxyService && h.s.Proxy == nil:
		return notFound("no application is proxied (add a [[proxy.app]] section to keyward.toml), so %s %s has nothing to act on", r.Method, r.URL.Path)
	case needs == identityService && h.s.Identities == nil:
		return notFound("no KMIP source named %q (none is configured)", r.PathValue("source"))
	case needs == appService && h.s.Apps == nil:
		return notFound("no KMIP source named %q (none is configured)", r.PathValue("source"))
	case needs == scheduleService && h.s.Schedules == nil:
		return notFound("this daemon runs no schedules, so %s %s has nothing to act on", r.Method, r.URL.Path)
	}
	return nil
}

// Changes reports whether the route's method changes state (anything but
// GET and HEAD): those requests pass through the audit hook.
func (rt Route) Changes() bool { return rt.Method != http.MethodGet && rt.Method != http.MethodHead }

// Action is what the audit hook hears of one state-changing request, once,
// after its handler has answered: who asked, what, how it ended, and the
// activity events the handler reports.
type Action struct {
	// ID names the request (random, given by the guard; Begin and the
	// audit hook hear the same).
	ID      string
	Caller  api.Caller
	Method  string
	Pattern string // the route's pattern
	Path    string
	Status  int // the HTTP status answered
	// Events are the activity the request caused. Stored events are
	// already in the activity log (a domain service wrote them together
	// with the change they describe); the hook records the others.
	Events []Event
}

// Event is one activity event of an Action.
type Event struct {
	engine.Event
	Stored bool
}

// Services are what the handlers call. Daemon is required; a nil Cloud,
// Backups, Proxy, Identities or Schedules answers their routes 404 (not
// configured).
type Services struct {
	Daemon Daemon
	Cloud  *cloud.Manager
	// Backups lists, restores and deletes the stored backups: the Cloud
	// manager, or one of no source when none is configured (a listing
	// needs only the store; a restore says which source it needs).
	Backups    *cloud.Manager
	Proxy      *proxy.Manager
	Identities *pki.Service
	Schedules  *scheduler.Runner
	// Apps rotates KMIP applications (nil: no KMIP source).
	Apps AppRotator
	// Audit hears every state-changing request once (see Action).
	Audit func(context.Context, Action)
	// AuditReady is asked before a state-changing request runs: when the
	// activity log cannot be written, the request is refused (503) rather
	// than done unrecorded (fail closed). Nil: always ready.
	AuditReady func(context.Context) error
	// Begin is called before a state-changing request runs, after
	// AuditReady, with the Action as far as it is known (no status, no
	// events): it notes the request durably, so a daemon that dies inside
	// the handler leaves a trace of who asked. An error refuses the
	// request (503, fail closed). Nil: nothing noted.
	Begin func(context.Context, Action) error
	Log   *slog.Logger
	// WriteTimeout bounds the reading of each page of a streamed export;
	// StreamWriteTimeout each notification of an event stream.
	WriteTimeout, StreamWriteTimeout time.Duration
	// StreamsPerUID bounds the event streams one peer uid may hold.
	StreamsPerUID int
	// Extra routes (tests) join the table.
	Extra []Route
}

// Handler is the socket API.
type Handler struct {
	s      Services
	routes []Route
	mux    *http.ServeMux
}

// New builds the socket API over s.
func New(s Services) *Handler {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Audit == nil {
		s.Audit = func(context.Context, Action) {}
	}
	if s.Backups == nil {
		s.Backups = s.Cloud
	}
	h := &Handler{s: s}
	h.routes = append(h.table(), s.Extra...)
	h.mux = http.NewServeMux()
	for _, rt := range h.routes {
		h.mux.Handle(rt.Method+" "+rt.Pattern, h.guard(rt))
	}
	h.mux.HandleFunc("/", h.noRoute)
	return h
}

// noRoute answers a request no route takes: 405 naming the methods the
// path takes, or 404.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, &api.Error{Status: http.StatusMethodNotAllowed, Code: api.CodeBadRequest,
			Message: r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + strings.Join(allowed, ", ") + ")"})
		return
	}
	writeError(w, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound,
		Message: "no such endpoint " + r.Method + " " + r.URL.Path + " (the API is under /" + api.Version + "/)"})
}

// Routes is the route table (a copy).
func (h *Handler) Routes() []Route { return append([]Route(nil), h.routes...) }

// ServeHTTP refuses anything a web page could send (a browser always adds
// Origin or Referer, a CLI or curl never does), then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
		writeError(w, &api.Error{Status: http.StatusForbidden, Code: api.CodeForbidden,
			Message: "requests from web browsers are refused (Origin or Referer header present)"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

type actionKey struct{}

// guard is the one place a role is checked: the caller's role (from the
// peer credentials the daemon attached to the connection) against the
// route's, then the query parameters; a state-changing request then
// passes through the audit hook once, whatever its outcome.
func (h *Handler) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := CallerOf(r)
		if !c.Role.Allows(rt.Role) {
			refuse(w, r, c, rt)
			return
		}
		if e := api.CheckQuery(r.URL.RawQuery, rt.Params); e != nil {
			writeError(w, e)
			return
		}
		if !rt.Changes() {
			h.serve(rt, w, r)
			return
		}
		if h.s.AuditReady != nil {
			if err := h.s.AuditReady(r.Context()); err != nil {
				h.s.Log.Error("state-changing request refused: the activity log cannot be written", "method", r.Method, "path", r.URL.Path, "err", err)
				writeError(w, &api.Error{Status: http.StatusServiceUnavailable, Code: api.CodeUnavailable,
					Message: fmt.Sprintf("the activity log cannot be written, so no change is made (fail closed): %v; keyward audit verify says whether the database was altered", err)})
				return
			}
		}
		a := &Action{ID: requestID(), Caller: c, Method: r.Method, Pattern: rt.Pattern, Path: r.URL.Path}
		if h.s.Begin != nil {
			if err := h.s.Begin(r.Context(), *a); err != nil {
				h.s.Log.Error("state-changing request refused: it could not be noted as in flight", "method", r.Method, "path", r.URL.Path, "err", err)
				writeError(w, &api.Error{Status: http.StatusServiceUnavailable, Code: api.CodeUnavailable,
					Message: fmt.Sprintf("the request could not be noted in the database before it runs, so no change is made (fail closed): %v", err)})
				return
			}
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.serve(rt, sw, r.WithContext(context.WithValue(r.Context(), actionKey{}, a)))
		a.Status = sw.status
		h.s.Audit(context.WithoutCancel(r.Context()), *a)
	})
}

func (h *Handler) serve(rt Route, w http.ResponseWriter, r *http.Request) {
	err := h.missing(rt.needs, r)
	if err == nil {
		err = rt.Serve(w, r)
	}
	if err != nil {
		e := errorOf(err)
		if e.Status >= 500 && e.Code == api.CodeInternal {
			h.s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeError(w, e)
	}
}

// Record tells the audit hook of an event a state-changing request caused
// (to be recorded with the caller as its actor unless it names one).
func Record(r *http.Request, ev engine.Event) { record(r, ev, false) }

// record tells the audit hook of an event the request caused; stored says
// the domain service has already written it to the activity log.
func record(r *http.Request, ev engine.Event, stored bool) {
	if a, ok := r.Context().Value(actionKey{}).(*Action); ok {
		a.Events = append(a.Events, Event{Event: ev, Stored: stored})
	}
}

// CallerOf is the socket caller the daemon attached to the request.
func CallerOf(r *http.Request) api.Caller {
	c, _ := api.CallerFromContext(r.Context())
	return c
}

func refuse(w http.ResponseWriter, r *http.Request, c api.Caller, rt Route) {
	msg := r.Method + " " + r.URL.Path + " needs the " + string(rt.Role) + " role; user " + c.User + " has the " + string(c.Role) + " role"
	if c.Role == api.RoleNone {
		msg = "user " + c.User + " (uid " + itoa(c.UID) + ") is not in the keyward user or admin group"
	} else if rt.Refused != "" {
		msg += " (" + rt.Refused + ")"
	}
	writeError(w, &api.Error{Status: http.StatusForbidden, Code: api.CodeForbidden, Message: msg})
}

// HandlerName is the name of the function serving rt (for the README's
// route table): "(*Handler).keys" for a method of Handler.
func HandlerName(rt Route) string {
	f := runtime.FuncForPC(reflect.ValueOf(rt.Serve).Pointer())
	if f == nil {
		return ""
	}
	name := strings.TrimSuffix(f.Name(), "-fm")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	_, name, _ = strings.Cut(name, ".")
	return name
}

// requestID is a new random request id (16 hex digits).
func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
