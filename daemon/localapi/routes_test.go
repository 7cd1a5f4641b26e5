package localapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
)

// syncOnly is a daemon with no sources: enough for every route's guard
// and for POST /v1/sync (the other daemon routes only read).
type syncOnly struct{ Daemon }

func (syncOnly) Sources() []sources.Source { return nil }

// pathOf is a request path matching pattern ({x} and {x...} become "x").
func pathOf(pattern string) string {
	return regexp.MustCompile(`\{[a-z]+(\.\.\.)?\}`).ReplaceAllString(pattern, "x")
}

// call serves one request from caller c.
func call(h http.Handler, c api.Caller, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.WithContext(api.WithCaller(r.Context(), c)))
	return rec
}

// answer decodes the one error shape, failing the test when the body is
// not it.
func answer(t *testing.T, what string, rec *httptest.ResponseRecorder) api.Error {
	t.Helper()
	var e api.Error
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Code == "" || e.Message == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %d answered %q (%v), not the error shape {code, message}", what, rec.Code, rec.Body, err)
	}
	return e
}

// TestRouteTable walks the route table: every route has a role and a
// handler; every state-changing route is admin-only unless it says why
// not; a user gets 403 on every admin route (and a caller with no role on
// every route) before any handler runs, with nothing for the audit hook;
// every state-changing request an admin makes reaches the audit hook
// exactly once, whatever it answers, after Begin heard it (noted in
// flight) with the same request id; an unknown route gets the one error
// shape.
func TestRouteTable(t *testing.T) {
	var heard, begun audited
	h := New(Services{Daemon: syncOnly{}, Audit: heard.hook, Begin: func(ctx context.Context, a Action) error {
		begun.hook(ctx, a)
		return nil
	}})
	routes := h.Routes()
	if len(routes) < 30 {
		t.Fatalf("the table has %d routes", len(routes))
	}
	admin := api.Caller{UID: 0, User: "root", Role: api.RoleAdmin}
	user := api.Caller{UID: 1000, User: "alice", Role: api.RoleUser}
	nobody := api.Caller{UID: 1001, User: "mallory"}
	for _, rt := range routes {
		name := rt.Method + " " + rt.Pattern
		if rt.Role != api.RoleUser && rt.Role != api.RoleAdmin {
			t.Errorf("%s: role %q", name, rt.Role)
		}
		if rt.Serve == nil || HandlerName(rt) == "" {
			t.Errorf("%s: no handler", name)
		}
		if !strings.HasPrefix(rt.Pattern, "/"+api.Version+"/") {
			t.Errorf("%s: not under /%s/", name, api.Version)
		}
		if rt.Changes() && rt.Role != api.RoleAdmin && rt.Why == "" {
			t.Errorf("%s changes state and is open to users without saying why", name)
		}
		path := pathOf(rt.Pattern)
		before := len(heard.all())
		if rec := call(h, nobody, rt.Method, path, "{}"); rec.Code != http.StatusForbidden || !strings.Contains(answer(t, name, rec).Message, "not in the keyward user or admin group") {
			t.Errorf("%s without a role: %d %s", name, rec.Code, rec.Body)
		}
		if rt.Role == api.RoleAdmin {
			rec := call(h, user, rt.Method, path, "{}")
			if e := answer(t, name, rec); rec.Code != http.StatusForbidden || e.Code != api.CodeForbidden || !strings.Contains(e.Message, "needs the admin role") {
				t.Errorf("%s as a user: %d %+v, want 403 needing the admin role", name, rec.Code, e)
			}
		}
		if n := len(heard.all()); n != before || len(begun.all()) != before {
			t.Errorf("%s: a refused request reached the audit hook or was noted in flight", name)
		}
		if !rt.Changes() {
			continue
		}
		rec := call(h, admin, rt.Method, path, "{}")
		got := heard.all()[before:]
		if len(got) != 1 || got[0].Pattern != rt.Pattern || got[0].Method != rt.Method || got[0].Caller.User != "root" || got[0].Status != rec.Code {
			t.Errorf("%s as admin (%d): the audit hook heard %+v, want it once with the route, caller and status", name, rec.Code, got)
		}
		if b := begun.all()[min(before, len(begun.all())):]; len(b) != 1 || len(got) != 1 || b[0].ID == "" || b[0].ID != got[0].ID || b[0].Path != path || b[0].Caller.User != "root" {
			t.Errorf("%s as admin: Begin heard %+v, want it once with the caller, path and the audit hook's request id", name, b)
		}
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/v1/nope"}, {"GET", "/v2/status"}, {"DELETE", "/v1/keys/x"}} {
		rec := call(h, admin, tc.method, tc.path, "")
		e := answer(t, tc.path, rec)
		switch {
		case tc.method == "DELETE" && (rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET"):
			t.Errorf("%s %s: %d %+v, want 405 allowing GET", tc.method, tc.path, rec.Code, e)
		case tc.method == "GET" && (rec.Code != http.StatusNotFound || e.Code != api.CodeNotFound || !strings.Contains(e.Message, "no such endpoint")):
			t.Errorf("%s %s: %d %+v, want 404 not_found", tc.method, tc.path, rec.Code, e)
		}
	}
}

// TestOneRoleCheck: a route's role is checked by the guard alone — a
// route made open to users in the table (decrypt with
// proxy.allow_user_decrypt) is served to a user with nothing else in the
// way, and the table's refusal names the setting otherwise.
func TestOneRoleCheck(t *testing.T) {
	for _, allow := range []bool{false, true} {
		h := New(Services{Proxy: crmProxy(t, allow)})
		var decrypt Route
		for _, rt := range h.Routes() {
			if rt.Pattern == "/v1/decrypt" {
				decrypt = rt
			}
		}
		want := map[bool]api.Role{false: api.RoleAdmin, true: api.RoleUser}[allow]
		if decrypt.Role != want {
			t.Fatalf("allow_user_decrypt %v: decrypt needs %q, want %q", allow, decrypt.Role, want)
		}
		rec := call(h, api.Caller{User: "alice", Role: api.RoleUser}, "POST", "/v1/decrypt?app=crm", "plain text")
		if allow && rec.Code != http.StatusOK {
			t.Fatalf("user decrypt allowed by the table: %d %s", rec.Code, rec.Body)
		}
		if !allow && (rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "proxy.allow_user_decrypt")) {
			t.Fatalf("user decrypt refused: %d %s", rec.Code, rec.Body)
		}
	}
}

// TestBrowserRefused: anything carrying a browser's Origin or Referer is
// refused before routing, whoever asks.
func TestBrowserRefused(t *testing.T) {
	h := New(Services{Daemon: syncOnly{}})
	for _, hdr := range []string{"Origin", "Referer"} {
		r := httptest.NewRequest("POST", "/v1/sync", nil)
		r.Header.Set(hdr, "https://evil.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(api.WithCaller(r.Context(), api.Caller{User: "root", Role: api.RoleAdmin})))
		if e := answer(t, hdr, rec); rec.Code != http.StatusForbidden || !strings.Contains(e.Message, "web browsers") {
			t.Errorf("%s: %d %+v", hdr, rec.Code, e)
		}
	}
}
