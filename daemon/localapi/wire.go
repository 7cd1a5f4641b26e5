package localapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/scheduler"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/store"
)

// WriteJSON is the one JSON writer of the socket API: v with status 200
// (a HandlerFunc returns what it returns).
func WriteJSON(w http.ResponseWriter, v any) error { return writeJSON(w, v) }

func writeJSON(w http.ResponseWriter, v any) error { return writeJSONStatus(w, http.StatusOK, v) }

// writeJSONStatus writes v with status (201 Created, 202 Accepted).
func writeJSONStatus(w http.ResponseWriter, status int, v any) error {
	api.WriteJSON(w, status, v)
	return nil
}

// writeError answers e in the one error shape, {"code", "message"}.
func writeError(w http.ResponseWriter, e *api.Error) {
	api.WriteJSON(w, e.Status, e)
}

// decode reads a request body into v: one JSON object of at most
// api.MaxRequestBody bytes, with no unknown field and nothing after it
// (api.ReadJSON). The error is an *api.Error (400, 408 or 413).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if e := api.ReadJSON(w, r, v); e != nil {
		return e
	}
	return nil
}

// fail is an error answered with status and code.
func fail(status int, code, format string, a ...any) *api.Error {
	return &api.Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) *api.Error {
	return fail(http.StatusBadRequest, api.CodeBadRequest, format, a...)
}

func notFound(format string, a ...any) *api.Error {
	return fail(http.StatusNotFound, api.CodeNotFound, format, a...)
}

// errorOf maps a domain error to the socket API's: the one table from the
// services' sentinel errors to a status and code. Anything it does not
// know is the daemon's fault (500).
func errorOf(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	e := &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: err.Error()}
	switch {
	case errors.Is(err, store.ErrBadCursor), errors.Is(err, cloud.ErrInvalid), errors.Is(err, schedule.ErrInvalid):
		e.Status, e.Code = http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, scheduler.ErrReadOnly):
		e.Status, e.Code = http.StatusForbidden, api.CodeForbidden
	case errors.Is(err, cloud.ErrNotFound), errors.Is(err, store.ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, cloud.ErrConflict), errors.Is(err, cloud.ErrUnsupported), errors.Is(err, store.ErrRunning), errors.Is(err, store.ErrExists):
		e.Status, e.Code = http.StatusConflict, api.CodeConflict
	case errors.Is(err, cloud.ErrCredential), errors.Is(err, cloud.ErrAccess), errors.Is(err, cloud.ErrUnreachable),
		errors.Is(err, cloud.ErrThrottled), errors.Is(err, cloud.ErrBadAnswer), errors.Is(err, cloud.ErrNotRunning):
		e.Status, e.Code = http.StatusServiceUnavailable, api.CodeUnavailable
	}
	return e
}

// intParam reads a parameter api.CheckQuery has already checked (0 when absent).
func intParam(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.URL.Query().Get(name))
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
