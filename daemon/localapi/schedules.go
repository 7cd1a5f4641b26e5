package localapi

import (
	"net/http"
	"strconv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/scheduler"
	"github.com/keyward/keyward/engine/schedule"
)

// actor is the caller as a schedule's history names it.
func actor(r *http.Request) string {
	c := CallerOf(r)
	if c.User != "" {
		return c.User
	}
	return "uid:" + strconv.Itoa(c.UID)
}

func scheduleInfo(i scheduler.Info) api.ScheduleInfo {
	recent := i.Recent
	if recent == nil {
		recent = []schedule.Run{}
	}
	return api.ScheduleInfo{Spec: i.Row.Spec, Origin: i.Row.Origin, Paused: i.Row.Paused, When: i.When, NextRun: i.NextRun,
		Health: string(i.Health), Reason: i.Reason, Running: i.Running, Recent: recent}
}

// oneSchedule answers the schedule called name, with status.
func oneSchedule(w http.ResponseWriter, r *http.Request, s *scheduler.Runner, status int, name string) error {
	in, err := s.Infos(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSONStatus(w, status, map[string]any{"schedule": scheduleInfo(in[0])})
}

func (h *Handler) schedules(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	in, err := s.Infos(r.Context(), "")
	if err != nil {
		return err
	}
	out := make([]api.ScheduleInfo, 0, len(in))
	for _, i := range in {
		out = append(out, scheduleInfo(i))
	}
	return writeJSON(w, map[string]any{"schedules": out})
}

func (h *Handler) scheduleDetail(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	name := r.PathValue("name")
	in, err := s.Infos(r.Context(), name)
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(r.URL.Query().Get("run"), 10, 64)
	run, steps, err := s.Steps(r.Context(), name, id)
	if err != nil {
		return err
	}
	return writeJSON(w, api.ScheduleDetail{Schedule: scheduleInfo(in[0]), Run: run, Steps: steps})
}

func (h *Handler) scheduleDryRun(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	steps, err := s.DryRun(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if steps == nil {
		steps = []schedule.Step{}
	}
	return writeJSON(w, api.DryRun{Schedule: r.PathValue("name"), Steps: steps})
}

func (h *Handler) scheduleCreate(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	var sp schedule.Spec
	if err := decode(w, r, &sp); err != nil {
		return err
	}
	if err := s.Create(r.Context(), sp, actor(r)); err != nil {
		return err
	}
	return oneSchedule(w, r, s, http.StatusCreated, sp.Name)
}

func (h *Handler) scheduleEdit(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	var sp schedule.Spec
	if err := decode(w, r, &sp); err != nil {
		return err
	}
	if sp.Name == "" {
		sp.Name = r.PathValue("name")
	}
	if sp.Name != r.PathValue("name") {
		return badRequest("the body names schedule %q, the path %q (a schedule cannot be renamed: add the new one and remove the old)", sp.Name, r.PathValue("name"))
	}
	if err := s.Edit(r.Context(), sp, actor(r)); err != nil {
		return err
	}
	return oneSchedule(w, r, s, http.StatusOK, sp.Name)
}

// scheduleOp is POST /v1/schedules/{name}/pause, …/resume and …/run.
func (h *Handler) scheduleOp(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	name := r.PathValue("name")
	var err error
	switch r.PathValue("op") {
	case "pause":
		err = s.Pause(r.Context(), name, actor(r))
	case "resume":
		err = s.Resume(r.Context(), name, actor(r))
	case "run":
		run, err := s.RunNow(r.Context(), name, actor(r))
		if err != nil {
			return err
		}
		return writeJSONStatus(w, http.StatusAccepted, map[string]any{"run": run})
	default:
		return notFound("unknown operation %s (pause, resume, run)", r.PathValue("op"))
	}
	if err != nil {
		return err
	}
	return oneSchedule(w, r, s, http.StatusOK, name)
}

func (h *Handler) scheduleDelete(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Schedules
	name := r.PathValue("name")
	if err := s.Delete(r.Context(), name, actor(r)); err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"deleted": name})
}
