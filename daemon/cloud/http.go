package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
)

// CallerFunc returns the socket caller attached to a request's context
// (api.CallerFromContext).
type CallerFunc func(context.Context) (api.Caller, bool)

// Handler serves the cloud life-cycle routes under /v1/cloud/ (see
// daemon/api/cloud.go). The daemon mounts it for "/v1/cloud/"; the Manager
// checks the caller's role itself as well.
func (m *Manager) Handler(caller CallerFunc) http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, c api.Caller) (any, error)) {
		mux.Handle(pattern, api.WithParams(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := caller(r.Context())
			if !ok || c.Role == api.RoleNone {
				writeError(w, &api.Error{Status: http.StatusForbidden, Code: api.CodeForbidden, Message: "no keyward role for this caller"})
				return
			}
			out, err := fn(w, r, c)
			if err != nil {
				writeError(w, apiError(err))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})))
	}
	// Every body is one JSON object (api.ReadJSON): an empty or null body
	// never reaches an operation as "all fields zero".
	decode := func(w http.ResponseWriter, r *http.Request, v any) error {
		if e := api.ReadJSON(w, r, v); e != nil {
			return e
		}
		return nil
	}
	h("GET /v1/cloud/sources", func(_ http.ResponseWriter, _ *http.Request, _ api.Caller) (any, error) {
		return map[string]any{"sources": m.Sources()}, nil
	})
	h("POST /v1/cloud/{source}/keys", func(w http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		var req api.CreateKeyRequest
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return m.Create(r.Context(), c, r.PathValue("source"), req)
	})
	h("POST /v1/cloud/{source}/upload", func(w http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		var req api.UploadKeyRequest
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return m.Upload(r.Context(), c, r.PathValue("source"), req)
	})
	h("POST /v1/cloud/{source}/keys/{name}/{op}", func(w http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		src, name, ctx := r.PathValue("source"), r.PathValue("name"), r.Context()
		switch r.PathValue("op") {
		case "rotate":
			return m.Rotate(ctx, c, src, name)
		case "recover":
			return m.Recover(ctx, c, src, name)
		case "delete", "purge":
			var req api.ConfirmRequest
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			if r.PathValue("op") == "delete" {
				return m.Delete(ctx, c, src, name, req.Confirm)
			}
			return m.Purge(ctx, c, src, name, req.Confirm)
		case "update":
			var req api.UpdateKeyRequest
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			return m.Update(ctx, c, src, name, req)
		case "backup":
			return m.Backup(ctx, c, src, name)
		case "policy":
			var req api.RotationPolicy
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			return m.SetRotationPolicy(ctx, c, src, name, req)
		}
		return nil, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound,
			Message: "unknown operation " + r.PathValue("op") + " (rotate, update, delete, recover, purge, backup, policy)"}
	})
	h("GET /v1/cloud/{source}/keys/{name}/policy", func(_ http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		return m.RotationPolicy(r.Context(), c, r.PathValue("source"), r.PathValue("name"))
	})
	h("GET /v1/cloud/backups", func(_ http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		b, err := m.Backups(r.Context(), c)
		if b == nil {
			b = []api.BackupInfo{}
		}
		if err != nil && len(b) == 0 {
			return nil, err
		}
		return map[string]any{"backups": b}, nil
	})
	h("POST /v1/cloud/backups/{id}/restore", func(w http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		var req api.RestoreRequest
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return m.Restore(r.Context(), c, r.PathValue("id"), req.Source)
	})
	h("DELETE /v1/cloud/backups/{id}", func(_ http.ResponseWriter, r *http.Request, c api.Caller) (any, error) {
		if err := m.DeleteBackup(r.Context(), c, r.PathValue("id")); err != nil {
			return nil, err
		}
		return map[string]string{"deleted": r.PathValue("id")}, nil
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound,
			Message: "no such cloud endpoint " + r.Method + " " + r.URL.Path + " (see keyward key --help)"})
	})
	return mux
}

// apiError maps a Manager or connector error to the socket API's error.
func apiError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	e := &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: err.Error()}
	switch {
	case errors.Is(err, ErrForbidden):
		e.Status, e.Code = http.StatusForbidden, api.CodeForbidden
	case errors.Is(err, ErrInvalid):
		e.Status, e.Code = http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, ErrUnsupported):
		e.Status, e.Code = http.StatusConflict, api.CodeConflict
	case errors.Is(err, ErrCredential), errors.Is(err, ErrAccess), errors.Is(err, ErrUnreachable),
		errors.Is(err, ErrThrottled), errors.Is(err, ErrBadAnswer), errors.Is(err, ErrNotRunning):
		e.Status, e.Code = http.StatusServiceUnavailable, api.CodeUnavailable
	}
	return e
}

func writeError(w http.ResponseWriter, e *api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
