package localapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
)

// AppRotator rotates a KMIP application: the next generation of its ring,
// created and activated on the KMS, recorded as actor's (the daemon
// implements it over its KMIP sources).
type AppRotator interface {
	RotateApp(ctx context.Context, source, app, actor string) (api.AppRotation, error)
}

// ErrNoApp says the source or application is not one keyward knows.
var ErrNoApp = errors.New("not found")

// ErrRotationBlocked says the KMS holds something the rotation will not
// guess about (a Pre-Active key keyward did not make): a 409 naming it.
var ErrRotationBlocked = errors.New("rotation refused")

// rotateApp is POST /v1/kmip/{source}/apps/{app}/rotate (admin): the
// activity event is stored by the rotation, with the caller as its actor.
func (h *Handler) rotateApp(w http.ResponseWriter, r *http.Request) error {
	c := CallerOf(r)
	source, app := r.PathValue("source"), r.PathValue("app")
	rot, err := h.s.Apps.RotateApp(r.Context(), source, app, c.User)
	switch {
	case errors.Is(err, ErrNoApp):
		return notFound("%v", err)
	case errors.Is(err, ErrRotationBlocked):
		return fail(http.StatusConflict, api.CodeConflict, "rotate %s in %s: %v", app, source, err)
	case err != nil:
		return fail(http.StatusBadGateway, api.CodeUnavailable, "rotate %s in %s: %v", app, source, err)
	}
	return writeJSON(w, rot)
}
