// Package cloudroutes serves the cloud life-cycle routes of the socket API
// (/v1/cloud/…): it translates between HTTP and the wire types of
// daemon/api on one side and cloud.Manager's domain calls on the other,
// and nothing else. One handler serves the sources of every connector kind.
package cloudroutes

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
)

// CallerFunc returns the socket caller attached to a request's context
// (api.CallerFromContext).
type CallerFunc func(context.Context) (api.Caller, bool)

// Handler serves the cloud life-cycle routes under /v1/cloud/ (see
// daemon/api/cloud.go) for every source of m. The daemon mounts it once
// for "/v1/cloud/"; the Manager checks the caller's role itself as well.
func Handler(m *cloud.Manager, caller CallerFunc) http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error)) {
		mux.Handle(pattern, api.WithParams(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := caller(r.Context())
			if !ok || c.Role == api.RoleNone {
				writeError(w, &api.Error{Status: http.StatusForbidden, Code: api.CodeForbidden, Message: "no keyward role for this caller"})
				return
			}
			out, err := fn(w, r, cloud.Caller{UID: c.UID, User: c.User, Role: string(c.Role)})
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
	h("GET /v1/cloud/sources", func(_ http.ResponseWriter, _ *http.Request, _ cloud.Caller) (any, error) {
		return map[string]any{"sources": Sources(m.Sources())}, nil
	})
	h("POST /v1/cloud/{source}/keys", func(w http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
		var req api.CreateKeyRequest
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return result(m.Create(r.Context(), c, r.PathValue("source"), cloud.CreateRequest(req)))
	})
	h("POST /v1/cloud/{source}/upload", func(w http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
		var req api.UploadKeyRequest
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return result(m.Upload(r.Context(), c, r.PathValue("source"),
			cloud.UploadRequest{CreateRequest: cloud.CreateRequest(req.CreateKeyRequest), FromSource: req.FromSource, FromApplication: req.FromApplication, Material: req.Material}))
	})
	h("POST /v1/cloud/{source}/keys/{name}/{op}", func(w http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
		src, name, ctx := r.PathValue("source"), r.PathValue("name"), r.Context()
		switch r.PathValue("op") {
		case "rotate":
			return result(m.Rotate(ctx, c, src, name))
		case "recover":
			return result(m.Recover(ctx, c, src, name))
		case "delete", "purge", "delete-material":
			var req api.ConfirmRequest
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			switch r.PathValue("op") {
			case "delete":
				return result(m.Delete(ctx, c, src, name, req.Confirm))
			case "delete-material":
				return result(m.DeleteMaterial(ctx, c, src, name, req.Confirm))
			}
			return result(m.Purge(ctx, c, src, name, req.Confirm))
		case "update":
			var req api.UpdateKeyRequest
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			return result(m.Update(ctx, c, src, name, cloud.UpdateRequest(req)))
		case "backup":
			return backup(m.Backup(ctx, c, src, name))
		case "policy":
			var req api.SetRotationPolicy
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			empty := req.RotationPolicy == api.RotationPolicy{}
			if empty != req.Clear {
				msg := `a policy with no setting would clear every one: send {"clear": true} to remove the policy`
				if req.Clear {
					msg = `"clear": true removes every setting and cannot come with settings`
				}
				return nil, &api.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: msg}
			}
			return policy(m.SetRotationPolicy(ctx, c, src, name, cloud.RotationPolicy(req.RotationPolicy)))
		}
		return nil, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound,
			Message: "unknown operation " + r.PathValue("op") + " (rotate, update, delete, recover, purge, backup, policy, delete-material)"}
	})
	h("GET /v1/cloud/{source}/keys/{name}/policy", func(_ http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
		return policy(m.RotationPolicy(r.Context(), c, r.PathValue("source"), r.PathValue("name")))
	})
	h("GET /v1/cloud/backups", func(_ http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
		infos, err := m.Backups(r.Context(), c)
		b := make([]api.BackupInfo, len(infos))
		for i, info := range infos {
			b[i] = api.BackupInfo(info)
		}
		if err != nil && len(b) == 0 {
			return nil, err
		}
		return map[string]any{"backups": b}, nil
	})
	h("POST /v1/cloud/backups/{id}/restore", func(w http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
		var req api.RestoreRequest
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return result(m.Restore(r.Context(), c, r.PathValue("id"), req.Source))
	})
	h("DELETE /v1/cloud/backups/{id}", func(_ http.ResponseWriter, r *http.Request, c cloud.Caller) (any, error) {
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

// Sources translates the cloud sources for the wire.
func Sources(infos []cloud.SourceInfo) []api.CloudSourceInfo {
	out := make([]api.CloudSourceInfo, len(infos))
	for i, s := range infos {
		out[i] = api.CloudSourceInfo{Name: s.Name, Kind: s.Kind, Address: s.Address, Geography: s.Geography, Capabilities: s.Capabilities}
	}
	return out
}

func result(r *cloud.KeyResult, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return (*api.CloudKeyResult)(r), nil
}

func backup(b *cloud.BackupInfo, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return (*api.BackupInfo)(b), nil
}

func policy(p *cloud.RotationPolicy, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return (*api.RotationPolicy)(p), nil
}

// apiError maps a Manager or connector error to the socket API's error.
func apiError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	e := &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: err.Error()}
	switch {
	case errors.Is(err, cloud.ErrForbidden):
		e.Status, e.Code = http.StatusForbidden, api.CodeForbidden
	case errors.Is(err, cloud.ErrInvalid):
		e.Status, e.Code = http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, cloud.ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, cloud.ErrConflict), errors.Is(err, cloud.ErrUnsupported):
		e.Status, e.Code = http.StatusConflict, api.CodeConflict
	case errors.Is(err, cloud.ErrCredential), errors.Is(err, cloud.ErrAccess), errors.Is(err, cloud.ErrUnreachable),
		errors.Is(err, cloud.ErrThrottled), errors.Is(err, cloud.ErrBadAnswer), errors.Is(err, cloud.ErrNotRunning):
		e.Status, e.Code = http.StatusServiceUnavailable, api.CodeUnavailable
	}
	return e
}

func writeError(w http.ResponseWriter, e *api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
