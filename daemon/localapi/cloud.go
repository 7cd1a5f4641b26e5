package localapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// cloudCaller is the caller as the cloud manager records it.
func cloudCaller(r *http.Request) cloud.Caller {
	c := CallerOf(r)
	return cloud.Caller{UID: c.UID, User: c.User}
}

// CloudSources translates the cloud sources for the wire.
func CloudSources(infos []cloud.SourceInfo) []api.CloudSourceInfo {
	out := make([]api.CloudSourceInfo, len(infos))
	for i, s := range infos {
		out[i] = api.CloudSourceInfo{Name: s.Name, Kind: s.Kind, Address: s.Address, Geography: s.Geography, Capabilities: s.Capabilities, Creates: s.Creates,
			PrimaryTag: s.PrimaryTag}
		for _, o := range s.Options {
			out[i].CreateOptions = append(out[i].CreateOptions, api.CreateOption{Tag: o.Tag, Name: o.Name, Hint: o.Hint, Values: o.Values})
		}
	}
	return out
}

func (h *Handler) cloudSources(w http.ResponseWriter, r *http.Request) error {
	var infos []cloud.SourceInfo
	if h.s.Cloud != nil {
		infos = h.s.Cloud.Sources()
	}
	return writeJSON(w, map[string]any{"sources": CloudSources(infos)})
}

// keyResult answers a life-cycle operation's result and hands its event
// (already stored with the rows it changed) to the audit hook.
func keyResult(w http.ResponseWriter, r *http.Request, res *cloud.KeyResult, err error) error {
	if err != nil {
		return err
	}
	if res.Event != nil {
		record(r, *res.Event, true)
	}
	return writeJSON(w, (*api.CloudKeyResult)(res))
}

func (h *Handler) cloudCreate(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Cloud
	var req api.CreateKeyRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := m.Create(r.Context(), cloudCaller(r), r.PathValue("source"), cloud.CreateRequest(req))
	return keyResult(w, r, res, err)
}

func (h *Handler) cloudUpload(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Cloud
	var req api.UploadKeyRequest
	err := decode(w, r, &req)
	defer clear(req.Material) // a key file: zeroed once used
	if err != nil {
		return err
	}
	res, err := m.Upload(r.Context(), cloudCaller(r), r.PathValue("source"),
		cloud.UploadRequest{CreateRequest: cloud.CreateRequest(req.CreateKeyRequest), FromSource: req.FromSource, FromApplication: req.FromApplication, Material: req.Material})
	return keyResult(w, r, res, err)
}

// cloudKeyOp is POST /v1/cloud/{source}/keys/{name}/{op}.
func (h *Handler) cloudKeyOp(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Cloud
	src, name, ctx, c := r.PathValue("source"), r.PathValue("name"), r.Context(), cloudCaller(r)
	switch op := r.PathValue("op"); op {
	case "rotate":
		res, err := m.Rotate(ctx, c, src, name)
		return keyResult(w, r, res, err)
	case "recover":
		var req api.ConfirmRequest
		if r.ContentLength != 0 { // a body is optional: {"version": "N"} recovers one version
			if err := decode(w, r, &req); err != nil {
				return err
			}
		}
		if req.Version != "" {
			res, err := m.RecoverVersion(ctx, c, src, name, req.Version)
			return keyResult(w, r, res, err)
		}
		res, err := m.Recover(ctx, c, src, name)
		return keyResult(w, r, res, err)
	case "make-primary":
		var req api.ConfirmRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		if req.Confirm != "" {
			return badRequest(`make-primary takes only {"version": "N"}: it needs no confirmation`)
		}
		res, err := m.MakePrimary(ctx, c, src, name, req.Version)
		return keyResult(w, r, res, err)
	case "delete", "purge", "delete-material":
		var req api.ConfirmRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		if req.Version != "" {
			if op != "delete" {
				return badRequest("%s works on the whole key: a version is given only to delete or recover", op)
			}
			res, err := m.DeleteVersion(ctx, c, src, name, req.Version, req.Confirm)
			return keyResult(w, r, res, err)
		}
		do := m.Delete
		switch op {
		case "purge":
			do = m.Purge
		case "delete-material":
			do = m.DeleteMaterial
		}
		res, err := do(ctx, c, src, name, req.Confirm)
		return keyResult(w, r, res, err)
	case "update":
		var req api.UpdateKeyRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		res, err := m.Update(ctx, c, src, name, cloud.UpdateRequest(req))
		return keyResult(w, r, res, err)
	case "backup":
		b, err := m.Backup(ctx, c, src, name)
		if err != nil {
			return err
		}
		return writeJSON(w, (*api.BackupInfo)(b))
	case "policy":
		var req api.SetRotationPolicy
		if err := decode(w, r, &req); err != nil {
			return err
		}
		empty := req.RotationPolicy == api.RotationPolicy{}
		if empty != req.Clear {
			if req.Clear {
				return badRequest(`"clear": true removes every setting and cannot come with settings`)
			}
			return badRequest(`a policy with no setting would clear every one: send {"clear": true} to remove the policy`)
		}
		p, err := m.SetRotationPolicy(ctx, c, src, name, cloud.RotationPolicy(req.RotationPolicy))
		if err != nil {
			return err
		}
		return writeJSON(w, (*api.RotationPolicy)(p))
	default:
		return notFound("unknown operation %s (rotate, update, delete, recover, purge, backup, policy, delete-material, make-primary)", op)
	}
}

func (h *Handler) cloudPolicy(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Cloud
	p, err := m.RotationPolicy(r.Context(), r.PathValue("source"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, (*api.RotationPolicy)(p))
}

func (h *Handler) cloudBackups(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Backups
	infos, err := m.Backups(r.Context())
	if err != nil && len(infos) == 0 {
		return err
	}
	b := make([]api.BackupInfo, len(infos))
	for i, info := range infos {
		b[i] = api.BackupInfo(info)
	}
	return writeJSON(w, map[string]any{"backups": b})
}

func (h *Handler) cloudRestore(w http.ResponseWriter, r *http.Request) error {
	m := h.s.Backups
	var req api.RestoreRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	cr := cloud.RestoreRequest{Target: req.Source}
	switch {
	case req.NoExpiry && req.Expires != nil:
		return badRequest("give expires or no_expiry, not both")
	case req.NoExpiry:
		cr.Expiry = &cloud.MaterialExpiry{}
	case req.Expires != nil:
		cr.Expiry = &cloud.MaterialExpiry{At: req.Expires}
	}
	res, err := m.RestoreWith(r.Context(), cloudCaller(r), r.PathValue("id"), cr)
	return keyResult(w, r, res, err)
}

func (h *Handler) cloudDeleteBackup(w http.ResponseWriter, r *http.Request) error {
	m, id := h.s.Backups, r.PathValue("id")
	// What the activity log says of it: which key's backup, from where.
	what, source := "backup "+id, ""
	if all, err := m.Backups(r.Context()); err == nil {
		for _, b := range all {
			if b.ID == id {
				what = fmt.Sprintf("backup %s of %s (%s, taken %s by %s)", id, b.Key, engine.Plural(b.Versions, "version"), b.Created.UTC().Format(time.RFC3339), b.Actor)
				source = b.Source
			}
		}
	}
	if err := m.DeleteBackup(r.Context(), cloudCaller(r), id); err != nil {
		return err
	}
	record(r, engine.Event{Source: source, Operation: engine.OpBackupDeleted, Severity: engine.SeverityWarn,
		Details: what + " deleted from keyward"}, false)
	return writeJSON(w, map[string]string{"deleted": id})
}
