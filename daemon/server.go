package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
)

// Mount attaches a feature's handler (proxy, cloud operations, ...) to the
// socket API under Pattern (a net/http ServeMux pattern such as "/v1/cloud/").
// The server has already refused callers with no role; GET and HEAD need the
// user role, and other methods need WriteRole (admin unless set to user, in
// which case the handler makes its own finer check).
type Mount struct {
	Pattern   string
	Handler   http.Handler
	WriteRole api.Role
	// Audit, when set, names the activity a successful state-changing
	// request of this mount is recorded as, for handlers that do not
	// record their own (the daemon adds the caller and the time); resp is
	// the header the handler answered with.
	Audit func(r *http.Request, resp http.Header) (operation, source, details string)
}

type route struct {
	pattern string
	need    api.Role
	h       http.HandlerFunc
	params  []api.Param // the query parameters it accepts (api.CheckQuery)
}

// Query parameters several routes share.
var (
	limitParam  = api.IntParam("limit", 1, maxPage)
	rangeParams = []api.Param{api.TextParam("from"), api.TextParam("to"), limitParam}
	eventParams = join(api.TextParams("source", "key", "operation", "actor", "origin", "cursor"), []api.Param{api.BoolParam("comparison")})
)

// join makes one parameter list of several (never sharing their arrays).
func join(lists ...[]api.Param) []api.Param {
	var out []api.Param
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// maxPage is the largest page a list endpoint answers (limit).
const maxPage = 5000

// routes is the socket API: one line per endpoint.
func (d *Daemon) routes() []route {
	return []route{
		{"GET /v1/status", api.RoleUser, d.handleStatus, nil},
		{"GET /v1/keys", api.RoleUser, d.handleKeys, join(keyFilters, api.TextParams("cursor"), []api.Param{limitParam})},
		{"GET /v1/export/keys", api.RoleUser, d.handleKeysExport, join(keyFilters, api.TextParams("format"), []api.Param{api.IntParam("limit", 1, math.MaxInt32)})},
		{"GET /v1/keys/{id...}", api.RoleUser, d.handleKey, nil},
		{"GET /v1/sources", api.RoleUser, d.handleSources, nil},
		{"GET /v1/activity", api.RoleUser, d.handleActivity, join(eventParams, rangeParams)},
		{"GET /v1/events", api.RoleUser, d.handleEvents, nil},
		{"POST /v1/sync", api.RoleAdmin, d.handleSync, api.TextParams("source")},
		{"GET /v1/reports/aging", api.RoleUser, d.handleAgingReport, join(api.TextParams("source", "key", "cursor"), rangeParams)},
		{"GET /v1/reports/aging/summary", api.RoleUser, d.handleAgingSummary, api.TextParams("source")},
		{"GET /v1/reports/activity", api.RoleUser, d.handleActivityReport, join(eventParams, rangeParams)},
		{"GET /v1/reports/usage", api.RoleUser, d.handleUsageReport, join(api.TextParams("app", "key", "source"), rangeParams)},
	}
}

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range d.routes() {
		mux.Handle(rt.pattern, d.guard(rt.need, api.WithParams(rt.params, rt.h)))
	}
	for _, m := range d.opts.Mounts {
		need := m.WriteRole
		if need == api.RoleNone {
			need = api.RoleAdmin
		}
		h, audit := m.Handler, m.Audit
		mux.Handle(m.Pattern, d.guard(api.RoleUser, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			write := r.Method != http.MethodGet && r.Method != http.MethodHead
			if write && !callerOf(r).Role.Allows(need) {
				refuse(w, r, need)
				return
			}
			if !write || audit == nil {
				h.ServeHTTP(w, r)
				return
			}
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			h.ServeHTTP(sw, r)
			if sw.status/100 == 2 {
				op, src, details := audit(r, sw.Header())
				_ = d.sink.record(context.WithoutCancel(r.Context()), engine.Event{Operation: op, Source: src,
					Actor: callerOf(r).User, Origin: engine.OriginKeyward, Details: details})
			}
		})))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint %s %s (the API is under /%s/)", r.Method, r.URL.Path, api.Version)
	})
	return d.limitRequest(d.browserGuard(mux))
}

// browserGuard refuses anything a web page could send: a browser always
// adds Origin or Referer, a CLI or curl never does.
func (d *Daemon) browserGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
			api.WriteError(w, http.StatusForbidden, api.CodeForbidden, "requests from web browsers are refused (Origin or Referer header present)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func callerOf(r *http.Request) api.Caller {
	c, _ := api.CallerFromContext(r.Context())
	return c
}

func refuse(w http.ResponseWriter, r *http.Request, need api.Role) {
	c := callerOf(r)
	if c.Role == api.RoleNone {
		api.WriteError(w, http.StatusForbidden, api.CodeForbidden, "user %s (uid %d) is not in the keyward user or admin group", c.User, c.UID)
		return
	}
	api.WriteError(w, http.StatusForbidden, api.CodeForbidden, "%s %s needs the %s role; user %s has the %s role", r.Method, r.URL.Path, need, c.User, c.Role)
}

func (d *Daemon) guard(need api.Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !callerOf(r).Role.Allows(need) {
			refuse(w, r, need)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (d *Daemon) status(r *http.Request) (*api.Status, error) {
	srcs, n, err := d.sourcesWithCounts(r)
	if err != nil {
		return nil, err
	}
	au, err := d.auditStatus(r.Context())
	if err != nil {
		return nil, err
	}
	return &api.Status{Version: Version, PID: d.pid, StartedAt: d.started, Socket: d.socket, DataDir: d.cfg.DataDir,
		Keys: n, Sources: srcs, Caller: callerOf(r), Audit: au}, nil
}

func (d *Daemon) auditStatus(ctx context.Context) (*api.AuditStatus, error) {
	h, err := d.st.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	last := d.audit.Last()
	a := &api.AuditStatus{Events: h.Seq, Error: last.Err, VerifierKey: d.auditKey}
	if !last.VerifiedAt.IsZero() {
		a.Checkpoint = &api.AuditCheckpoint{Size: last.Size, Head: last.Head.String(), Time: last.Time, VerifiedAt: last.VerifiedAt}
	}
	return a, nil
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	s, err := d.status(r)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, s)
}

func (d *Daemon) internal(w http.ResponseWriter, r *http.Request, err error) {
	d.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%v", err)
}

// storeFailed answers a store error: a bad cursor is the caller's mistake
// (400), anything else the daemon's (500). It reports whether err was set.
func (d *Daemon) storeFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrBadCursor):
		badRequest(w, "%v", err)
	default:
		d.internal(w, r, err)
	}
	return true
}

func badRequest(w http.ResponseWriter, format string, a ...any) {
	api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, format, a...)
}

// intParam reads a parameter api.CheckQuery has already checked (0 when absent).
func intParam(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.URL.Query().Get(name))
	return n
}

// keyQuery reads the filters the keys list and the keys export share,
// answering 400 (and returning false) for a state or bucket it does not know.
func (d *Daemon) keyQuery(w http.ResponseWriter, r *http.Request) (store.KeyQuery, bool) {
	q := r.URL.Query()
	kq := store.KeyQuery{Source: q.Get("source"), Text: q.Get("q"), Sort: q.Get("sort"), Cursor: q.Get("cursor"),
		Limit: intParam(r, "limit"), Now: d.now(), Thresholds: d.thresholds}
	if s := q.Get("state"); s != "" {
		st, err := engine.ParseState(s)
		if err != nil {
			badRequest(w, "%v", err)
			return kq, false
		}
		kq.State = st
	}
	if a := q.Get("aging"); a != "" {
		ok := false
		for _, b := range d.thresholds.Buckets() {
			ok = ok || string(b) == a
		}
		if !ok {
			badRequest(w, "unknown aging bucket %q (known: %v)", a, d.thresholds.Buckets())
			return kq, false
		}
		kq.Aging = engine.Bucket(a)
	}
	return kq, true
}

// keyFilters are the query parameters of GET /v1/keys and its export.
var keyFilters = api.TextParams("source", "state", "aging", "q", "sort")

func (d *Daemon) handleKeys(w http.ResponseWriter, r *http.Request) {
	kq, ok := d.keyQuery(w, r)
	if !ok {
		return
	}
	// A bucket's size is in the cached summary; counting it in SQL would
	// scan the inventory for every first page.
	var cachedTotal int
	var asOf *time.Time
	if kq.Aging != "" && kq.State == "" && kq.Text == "" && kq.Cursor == "" {
		counts, at, err := d.agingCounts(r)
		if err != nil {
			d.internal(w, r, err)
			return
		}
		for src, m := range counts {
			if kq.Source == "" || kq.Source == src {
				cachedTotal += m[kq.Aging]
			}
		}
		kq.SkipCount = true
		if d.summaryEstimated() {
			asOf = &at
		}
	}
	page, err := d.st.Keys(r.Context(), kq)
	if kq.SkipCount {
		page.Total = cachedTotal
	}
	if err != nil {
		if errors.Is(err, store.ErrBadCursor) || strings.Contains(err.Error(), "cannot sort") {
			badRequest(w, "%v", err)
			return
		}
		d.internal(w, r, err)
		return
	}
	d.classify(page.Keys)
	if page.Keys == nil {
		page.Keys = []engine.Key{}
	}
	api.WriteJSON(w, http.StatusOK, api.KeysPage{Keys: page.Keys, Total: page.Total, NextCursor: page.NextCursor, TotalAsOf: asOf})
}

func (d *Daemon) handleKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	k, err := d.st.Key(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no key with id %q (ids look like source/name[/version]; see keyward keys list)", id)
		return
	}
	if err != nil {
		d.internal(w, r, err)
		return
	}
	a := engine.Classify(k, d.now(), d.thresholds)
	k.Aging = &a
	events, _, err := d.st.Events(r.Context(), store.EventQuery{KeyID: id, Limit: 50})
	if err != nil {
		d.internal(w, r, err)
		return
	}
	if events == nil {
		events = []engine.Event{}
	}
	api.WriteJSON(w, http.StatusOK, api.KeyDetail{Key: k, Activity: events})
}

func (d *Daemon) handleSources(w http.ResponseWriter, r *http.Request) {
	srcs, _, err := d.sourcesWithCounts(r)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	out := make([]api.SourceInfo, 0, len(srcs))
	for _, s := range srcs {
		info := api.SourceInfo{Source: s}
		if describe, ok := d.details[s.Name]; ok {
			describe(&info)
		}
		out = append(out, info)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// handleActivity is the activity log of all time (unless from/to say
// otherwise), newest first; the activity report is the same with a default
// range of 30 days and the per-day counts.
func (d *Daemon) handleActivity(w http.ResponseWriter, r *http.Request) {
	d.activity(w, r, report.Range{}, false)
}

// handleEvents streams notifications as newline-delimited JSON until the
// client goes away or the daemon stops. The first line is a hello with the
// daemon's status and the sequence number of the latest notification.
func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	ch, hello, cancel, err := d.hub.subscribe(c.UID, d.limits.StreamsPerUID)
	if err != nil {
		api.WriteError(w, http.StatusTooManyRequests, api.CodeUnavailable, "%v", err)
		return
	}
	defer cancel()
	st, err := d.status(r)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	// A stream lives as long as its reader: no read deadline (the caller
	// sends nothing more), and a write deadline per notification instead
	// of one for the whole answer.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(n api.Notification) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(d.limits.StreamWriteTimeout))
		err := enc.Encode(n)
		if err == nil {
			err = rc.Flush()
		}
		if err == nil {
			return true
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			why := fmt.Sprintf("it did not read a notification within %s", d.limits.StreamWriteTimeout)
			d.hub.drop(c.UID, d.now(), why)
			d.log.Warn("event stream dropped", "uid", c.UID, "user", c.User, "reason", why)
		}
		return false
	}
	hello.Time, hello.Status = d.now(), st
	if !send(hello) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case n, ok := <-ch:
			if !ok || !send(n) {
				return
			}
		}
	}
}

// handleSync asks every source that can sync on demand (or only ?source=S)
// to sync now, and records who asked.
func (d *Daemon) handleSync(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query().Get("source")
	var synced []string
	found := false
	for _, s := range d.srcs {
		if want != "" && s.Name() != want {
			continue
		}
		found = true
		sy, ok := s.(sources.Syncer)
		if !ok {
			if want != "" {
				badRequest(w, "source %q (%s) cannot sync on demand", want, s.Kind())
				return
			}
			continue
		}
		if err := sy.SyncNow(r.Context()); err != nil {
			api.WriteError(w, http.StatusBadGateway, api.CodeUnavailable, "sync %s: %v", s.Name(), err)
			return
		}
		synced = append(synced, s.Name())
	}
	if want != "" && !found {
		api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no source named %q (see keyward status)", want)
		return
	}
	c := callerOf(r)
	for _, name := range synced {
		_ = d.sink.record(r.Context(), engine.Event{Source: name, Operation: engine.OpSynced, Actor: c.User,
			Origin: engine.OriginKeyward, Details: "sync requested"})
	}
	if synced == nil {
		synced = []string{}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"synced": synced})
}

// sourcesWithCounts lists the sources with their key counts, read from the
// per-source, per-state counts the store keeps as the inventory changes:
// exact, and as cheap on the first request after a start as on any other.
func (d *Daemon) sourcesWithCounts(r *http.Request) ([]engine.Source, int, error) {
	srcs, err := d.st.Sources(r.Context())
	if err != nil {
		return nil, 0, err
	}
	counts, err := d.st.KeyCounts(r.Context())
	if err != nil {
		return nil, 0, err
	}
	total := 0
	for i := range srcs {
		for _, n := range counts[srcs[i].Name] {
			srcs[i].Keys += n
		}
		total += srcs[i].Keys
	}
	return srcs, total, nil
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

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
