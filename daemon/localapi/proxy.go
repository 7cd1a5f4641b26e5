package localapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/proxy"
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

func (h *Handler) encrypt(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Proxy
	app, in, err := h.cryptInput(r)
	if err != nil {
		return err
	}
	defer clear(in)
	out, err := m.Encrypt(app, in, r.URL.Query().Get("deterministic") == "true")
	if err != nil {
		return proxyError(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(append(out, '\n'))
	return nil
}

func (h *Handler) decrypt(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Proxy
	app, in, err := h.cryptInput(r)
	if err != nil {
		return err
	}
	defer clear(in)
	c := CallerOf(r)
	out, ev, err := m.Decrypt(app, in, c.User, string(c.Role))
	if err != nil {
		return proxyError(err)
	}
	defer clear(out)
	record(r, *ev, false)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(out)
	return nil
}

func (h *Handler) rewrap(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Proxy
	app, in, err := h.cryptInput(r)
	if err != nil {
		return err
	}
	defer clear(in)
	out, n, ev, err := m.Rewrap(app, in, CallerOf(r).User)
	if ev != nil {
		record(r, *ev, false)
	}
	if err != nil {
		return proxyError(err)
	}
	defer clear(out)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Keyward-Rewrapped", fmt.Sprint(n))
	_, _ = w.Write(out)
	return nil
}
