package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/proxy/fields"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/token"
)

// MaxCryptInput bounds what keyward encrypt and decrypt accept on the
// socket, so one request never makes the daemon hold more than a few MiB
// (the input, and an answer at most a third larger).
const MaxCryptInput = 4 << 20

// Handler serves the proxy's socket routes, to mount under the daemon's mux:
//
//	GET  /v1/proxy                          every application's status (user)
//	POST /v1/encrypt?app=A[&deterministic=true]  body → one token (user)
//	POST /v1/decrypt?app=A                  token or text → plaintext
//	                                        (admin, or user when
//	                                        proxy.allow_user_decrypt)
//	POST /v1/rewrap?app=A                   text → the same text with every
//	                                        token under an older generation
//	                                        re-encrypted under the newest (admin)
//
// roleOf returns the caller's role as the daemon established it from the
// socket's peer credentials; the handler enforces the roles above itself.
func (m *Manager) Handler(roleOf func(*http.Request) api.Role) http.Handler {
	if roleOf == nil {
		roleOf = func(*http.Request) api.Role { return api.RoleNone }
	}
	mux := http.NewServeMux()
	handle := func(pattern string, params []api.Param, h http.HandlerFunc) {
		mux.Handle(pattern, api.WithParams(params, h))
	}
	handle("GET /"+api.Version+"/proxy", nil, func(w http.ResponseWriter, r *http.Request) {
		if roleOf(r) == api.RoleNone {
			apiError(w, http.StatusForbidden, api.CodeForbidden, "the caller has no keyward role")
			return
		}
		writeJSON(w, api.ProxyStatuses{Apps: m.Statuses()})
	})
	handle("POST /"+api.Version+"/encrypt", []api.Param{api.TextParam("app"), api.BoolParam("deterministic")}, func(w http.ResponseWriter, r *http.Request) {
		m.crypt(w, r, roleOf(r), true)
	})
	handle("POST /"+api.Version+"/decrypt", []api.Param{api.TextParam("app")}, func(w http.ResponseWriter, r *http.Request) {
		m.crypt(w, r, roleOf(r), false)
	})
	handle("POST /"+api.Version+"/rewrap", []api.Param{api.TextParam("app")}, func(w http.ResponseWriter, r *http.Request) {
		m.rewrap(w, r, roleOf(r))
	})
	return mux
}

// CallerRole is the role the daemon attached to the request (from the
// socket's peer credentials): pass it to Handler when mounting.
func CallerRole(r *http.Request) api.Role {
	c, _ := api.CallerFromContext(r.Context())
	return c.Role
}

// cryptInput finds the application named by ?app= and reads the body (at
// most MaxCryptInput bytes); on failure it has answered and returns nil.
func (m *Manager) cryptInput(w http.ResponseWriter, r *http.Request) (*App, []byte) {
	name := r.URL.Query().Get("app")
	a, ok := m.byName[name]
	if !ok {
		apiError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no proxied application %q (configured: %s)", name, strings.Join(m.names(), ", ")))
		return nil, nil
	}
	in, err := io.ReadAll(io.LimitReader(r.Body, MaxCryptInput+1))
	if err != nil {
		clear(in)
		apiError(w, http.StatusBadRequest, api.CodeBadRequest, "reading input: "+err.Error())
		return nil, nil
	}
	if len(in) > MaxCryptInput {
		clear(in)
		apiError(w, http.StatusRequestEntityTooLarge, api.CodeBadRequest, fmt.Sprintf("input is larger than %d bytes (4 MiB), the most encrypt, decrypt and rewrap take at once; split it", MaxCryptInput))
		return nil, nil
	}
	return a, in
}

func (m *Manager) crypt(w http.ResponseWriter, r *http.Request, role api.Role, encrypt bool) {
	switch {
	case role == api.RoleNone:
		apiError(w, http.StatusForbidden, api.CodeForbidden, "the caller has no keyward role")
		return
	case !encrypt && role != api.RoleAdmin && !m.cfg.AllowUserDecrypt:
		apiError(w, http.StatusForbidden, api.CodeForbidden,
			"keyward decrypt is for admins; an admin may set proxy.allow_user_decrypt = true to let users decrypt")
		return
	}
	a, in := m.cryptInput(w, r)
	if a == nil {
		return
	}
	defer clear(in)
	ex := newExchange(time.Now())
	if encrypt {
		det := r.URL.Query().Get("deterministic") == "true"
		out, err := a.encrypter(ex)(nil, in, det, token.Text)
		if err != nil {
			status, code := http.StatusInternalServerError, api.CodeInternal
			if errors.Is(err, token.ErrNoActiveKey) {
				status, code = http.StatusServiceUnavailable, api.CodeUnavailable
			}
			apiError(w, status, code, err.Error())
			return
		}
		a.countEncrypted(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(append(out, '\n'))
		return
	}
	text := bytes.TrimSpace(in)
	var out []byte
	var op fields.Opened
	switch {
	case len(text) > 0 && token.Span(text) == len(text):
		var err error
		out, _, err = a.decrypter(ex)(nil, text)
		if err != nil {
			op.Failed = append(op.Failed, err)
		} else {
			op.Decrypted = 1
		}
	case fields.Valid(in):
		out, op = fields.DecryptJSON(nil, in, a.decrypter(ex))
	default:
		out, op = fields.DecryptText(nil, in, a.decrypter(ex))
	}
	a.countOpened(op)
	if len(op.Failed) > 0 {
		clear(out)
		msgs := make([]string, 0, len(op.Failed))
		for _, e := range op.Failed {
			msgs = append(msgs, e.Error())
		}
		apiError(w, http.StatusUnprocessableEntity, api.CodeBadRequest,
			fmt.Sprintf("%s could not be decrypted: %s", engine.Plural(len(op.Failed), "token"), strings.Join(dedupe(msgs), "; ")))
		return
	}
	a.event("decrypt", engine.SeverityInfo, r, fmt.Sprintf("keyward decrypt opened %s for %s caller", engine.Plural(op.Decrypted, "token"), engine.WithArticle(string(role))))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(out)
	clear(out)
}

// rewrap re-encrypts every token of the input under the application's
// newest generation (keyward rewrap): the plaintext stays in the daemon.
// Admin only, recorded in the activity log whether it worked or not.
func (m *Manager) rewrap(w http.ResponseWriter, r *http.Request, role api.Role) {
	if role != api.RoleAdmin {
		apiError(w, http.StatusForbidden, api.CodeForbidden, "keyward rewrap is for admins")
		return
	}
	a, in := m.cryptInput(w, r)
	if a == nil {
		return
	}
	defer clear(in)
	out, st, err := a.codec.Rewrap(nil, in)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		status, code := http.StatusUnprocessableEntity, api.CodeBadRequest
		if errors.Is(err, token.ErrNoActiveKey) {
			status, code = http.StatusServiceUnavailable, api.CodeUnavailable
		}
		a.event("rewrap", engine.SeverityWarn, r, "keyward rewrap refused: "+msg)
		apiError(w, status, code, msg)
		return
	}
	defer clear(out)
	from := make([]string, 0, len(st.From))
	for _, id := range slices.Sorted(maps.Keys(st.From)) {
		from = append(from, fmt.Sprintf("%d from %s", st.From[id], id))
	}
	details := fmt.Sprintf("keyward rewrap re-encrypted %s under key id %s (%s); %d already under it", engine.Plural(st.Rewrapped, "token"), st.To, strings.Join(from, ", "), st.Current)
	if st.Rewrapped == 0 {
		details = fmt.Sprintf("keyward rewrap found %s, all already under key id %s", engine.Plural(st.Current, "token"), st.To)
	}
	a.event("rewrap", engine.SeverityInfo, r, details)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Keyward-Rewrapped", fmt.Sprint(st.Rewrapped))
	w.Write(out)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func (m *Manager) names() []string {
	out := make([]string, 0, len(m.apps))
	for _, a := range m.apps {
		out = append(out, a.Name())
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Error{Code: code, Message: msg})
}
