package localapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/token"
)

// proxyError maps the proxy's errors: an unknown application is a 404, a
// ring with nothing that encrypts a 503, a token that does not open a 422.
func proxyError(err error) error {
	switch {
	case errors.Is(err, proxy.ErrNoApp):
		return notFound("%v", err)
	case errors.Is(err, token.ErrNoActiveKey):
		return fail(http.StatusServiceUnavailable, api.CodeUnavailable, "%v", err)
	case errors.Is(err, proxy.ErrUnopened):
		return fail(http.StatusUnprocessableEntity, api.CodeBadRequest, "%v", err)
	}
	return err
}

// cryptInput is the application (?app=, known to the proxy) and the
// body of encrypt, decrypt and rewrap: at most proxy.MaxCryptInput bytes.
// The caller zeroes it.
func (h *Handler) cryptInput(r *http.Request) (string, []byte, error) {
	app := r.URL.Query().Get("app")
	if err := h.s.Proxy.Known(app); err != nil {
		return "", nil, proxyError(err)
	}
	in, err := io.ReadAll(io.LimitReader(r.Body, proxy.MaxCryptInput+1))
	if err != nil {
		clear(in)
		return "", nil, badRequest("reading input: %v", err)
	}
	if len(in) > proxy.MaxCryptInput {
		clear(in)
		return "", nil, fail(http.StatusRequestEntityTooLarge, api.CodeBadRequest,
			"input is larger than %d bytes (4 MiB), the most encrypt, decrypt and rewrap take at once; split it", proxy.MaxCryptInput)
	}
	return app, in, nil
}

func (h *Handler) proxyStatus(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Proxy
	return writeJSON(w, api.ProxyStatuses{Apps: m.Statuses()})
}

// crypt is POST /v1/encrypt, /v1/decrypt and /v1/rewrap: the input
// through the application's ring, the answer as raw bytes (a token and a
// newline for encrypt). Decrypt and rewrap hand their event to the audit
// hook (rewrap also when it refused the input).
func (h *Handler) crypt(w http.ResponseWriter, r *http.Request) error {
	app, in, err := h.cryptInput(r)
	if err != nil {
		return err
	}
	defer clear(in)
	var out []byte
	var ev *engine.Event
	c, ct := CallerOf(r), "application/octet-stream"
	switch r.URL.Path {
	case "/" + api.Version + "/encrypt":
		out, err = h.s.Proxy.Encrypt(app, in, r.URL.Query().Get("deterministic") == "true")
		out, ct = append(out, '\n'), "text/plain; charset=utf-8"
	case "/" + api.Version + "/decrypt":
		out, ev, err = h.s.Proxy.Decrypt(app, in, c.User, string(c.Role))
	default:
		var n int
		out, n, ev, err = h.s.Proxy.Rewrap(app, in, c.User)
		w.Header().Set("X-Keyward-Rewrapped", fmt.Sprint(n))
	}
	defer clear(out)
	if ev != nil {
		record(r, *ev, false)
	}
	if err != nil {
		w.Header().Del("X-Keyward-Rewrapped")
		return proxyError(err)
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(out)
	return nil
}
