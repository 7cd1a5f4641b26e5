// Package schedroutes serves the schedule routes of the socket API
// (/v1/schedules…): it translates between HTTP and daemon/api's wire types
// on one side and the scheduler's calls on the other, and nothing else.
// Reading is for users; creating, editing, pausing, resuming, deleting
// and running are for admins (the daemon's mount guard checks the role of
// every request that is not a GET).
package schedroutes

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/scheduler"
	"github.com/keyward/keyward/engine/schedule"
)

// CallerFunc returns the socket caller attached to a request's context
// (api.CallerFromContext).
type CallerFunc func(context.Context) (api.Caller, bool)

// Handler serves /v1/schedules and /v1/schedules/… for r.
func Handler(r *scheduler.Runner, caller CallerFunc) http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, params []api.Param, admin bool, fn func(w http.ResponseWriter, req *http.Request, who string) (int, any, error)) {
		mux.Handle(pattern, api.WithParams(params, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			c, ok := caller(req.Context())
			if !ok || c.Role == api.RoleNone || admin && !c.Role.Allows(api.RoleAdmin) {
				api.WriteError(w, http.StatusForbidden, api.CodeForbidden, "%s %s needs the admin role", req.Method, req.URL.Path)
				return
			}
			who := c.User
			if who == "" {
				who = "uid:" + strconv.Itoa(c.UID)
			}
			status, out, err := fn(w, req, who)
			if err != nil {
				e := apiError(err)
				api.WriteJSON(w, e.Status, e)
				return
			}
			api.WriteJSON(w, status, out)
		})))
	}
	info := func(req *http.Request, name string) (api.ScheduleInfo, error) {
		in, err := r.Infos(req.Context(), name)
		if err != nil {
			return api.ScheduleInfo{}, err
		}
		return wire(in[0]), nil
	}
	h("GET /v1/schedules", nil, false, func(_ http.ResponseWriter, req *http.Request, _ string) (int, any, error) {
		in, err := r.Infos(req.Context(), "")
		out := make([]api.ScheduleInfo, 0, len(in))
		for _, i := range in {
			out = append(out, wire(i))
		}
		return http.StatusOK, map[string]any{"schedules": out}, err
	})
	h("GET /v1/schedules/{name}", []api.Param{api.IntParam("run", 1, 1<<53)}, false, func(_ http.ResponseWriter, req *http.Request, _ string) (int, any, error) {
		name := req.PathValue("name")
		in, err := info(req, name)
		if err != nil {
			return 0, nil, err
		}
		id, _ := strconv.ParseInt(req.URL.Query().Get("run"), 10, 64)
		run, steps, err := r.Steps(req.Context(), name, id)
		return http.StatusOK, api.ScheduleDetail{Schedule: in, Run: run, Steps: steps}, err
	})
	h("GET /v1/schedules/{name}/dry-run", nil, false, func(_ http.ResponseWriter, req *http.Request, _ string) (int, any, error) {
		steps, err := r.DryRun(req.Context(), req.PathValue("name"))
		if steps == nil {
			steps = []schedule.Step{}
		}
		return http.StatusOK, api.DryRun{Schedule: req.PathValue("name"), Steps: steps}, err
	})
	h("POST /v1/schedules", nil, true, func(w http.ResponseWriter, req *http.Request, who string) (int, any, error) {
		var sp schedule.Spec
		if e := api.ReadJSON(w, req, &sp); e != nil {
			return 0, nil, e
		}
		if err := r.Create(req.Context(), sp, who); err != nil {
			return 0, nil, err
		}
		in, err := info(req, sp.Name)
		return http.StatusCreated, map[string]any{"schedule": in}, err
	})
	h("PUT /v1/schedules/{name}", nil, true, func(w http.ResponseWriter, req *http.Request, who string) (int, any, error) {
		var sp schedule.Spec
		if e := api.ReadJSON(w, req, &sp); e != nil {
			return 0, nil, e
		}
		if sp.Name == "" {
			sp.Name = req.PathValue("name")
		}
		if sp.Name != req.PathValue("name") {
			return 0, nil, &api.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest,
				Message: "the body names schedule " + strconv.Quote(sp.Name) + ", the path " + strconv.Quote(req.PathValue("name")) + " (a schedule cannot be renamed: add the new one and remove the old)"}
		}
		if err := r.Edit(req.Context(), sp, who); err != nil {
			return 0, nil, err
		}
		in, err := info(req, sp.Name)
		return http.StatusOK, map[string]any{"schedule": in}, err
	})
	for _, op := range []string{"pause", "resume"} {
		h("POST /v1/schedules/{name}/"+op, nil, true, func(_ http.ResponseWriter, req *http.Request, who string) (int, any, error) {
			name := req.PathValue("name")
			var err error
			if op == "pause" {
				err = r.Pause(req.Context(), name, who)
			} else {
				err = r.Resume(req.Context(), name, who)
			}
			if err != nil {
				return 0, nil, err
			}
			in, err := info(req, name)
			return http.StatusOK, map[string]any{"schedule": in}, err
		})
	}
	h("DELETE /v1/schedules/{name}", nil, true, func(_ http.ResponseWriter, req *http.Request, who string) (int, any, error) {
		name := req.PathValue("name")
		return http.StatusOK, map[string]any{"deleted": name}, r.Delete(req.Context(), name, who)
	})
	h("POST /v1/schedules/{name}/run", nil, true, func(_ http.ResponseWriter, req *http.Request, who string) (int, any, error) {
		run, err := r.RunNow(req.Context(), req.PathValue("name"), who)
		return http.StatusAccepted, map[string]any{"run": run}, err
	})
	return mux
}

func wire(i scheduler.Info) api.ScheduleInfo {
	recent := i.Recent
	if recent == nil {
		recent = []schedule.Run{}
	}
	return api.ScheduleInfo{Spec: i.Row.Spec, Origin: i.Row.Origin, Paused: i.Row.Paused, When: i.When, NextRun: i.NextRun,
		Health: string(i.Health), Reason: i.Reason, Running: i.Running, Recent: recent}
}

func apiError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	e := &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: err.Error()}
	switch {
	case errors.Is(err, schedule.ErrInvalid):
		e.Status, e.Code = http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, scheduler.ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, scheduler.ErrReadOnly):
		e.Status, e.Code = http.StatusForbidden, api.CodeForbidden
	case errors.Is(err, scheduler.ErrRunning), errors.Is(err, scheduler.ErrExists):
		e.Status, e.Code = http.StatusConflict, api.CodeConflict
	}
	return e
}
