package tui_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui/tuitest/scheddata"
)

// The schedule endpoints of the fixture daemon: scheddata.SampleSchedules,
// run now and pause/resume recorded as calls and reflected in the list.
func (f *fixture) scheduleList() []api.ScheduleInfo {
	if f.scheds == nil {
		f.scheds = scheddata.SampleSchedules(fixedNow)
	}
	return f.scheds
}

func (f *fixture) Schedules(ctx context.Context) ([]api.ScheduleInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ScheduleInfo(nil), f.scheduleList()...), nil
}

func (f *fixture) DryRunSchedule(ctx context.Context, name string) (*api.DryRun, error) {
	f.record("dry-run %s", name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dryRun != nil {
		return f.dryRun, nil
	}
	return scheddata.SampleDryRun(name), nil
}

func (f *fixture) RunSchedule(ctx context.Context, name string) (*schedule.Run, error) {
	f.record("run %s", name)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.scheduleList() {
		if s.Name == name {
			if s.Running != nil {
				return nil, &api.Error{Status: http.StatusConflict, Code: api.CodeConflict, Message: "schedule " + name + ": a run is in progress"}
			}
			r := schedule.Run{ID: 101, Schedule: name, Due: fixedNow, Trigger: "manual", Actor: "alice", Started: fixedNow, Status: schedule.RunRunning}
			f.scheds[i].Running = &r
			f.scheds[i].Recent = append([]schedule.Run{r}, s.Recent...)
			return &r, nil
		}
	}
	return nil, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound, Message: fmt.Sprintf("schedule %q: not found", name)}
}

func (f *fixture) ScheduleAction(ctx context.Context, name, op string) error {
	f.record("%s %s", op, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.scheduleList() {
		if s.Name == name {
			if s.Origin == schedule.OriginConfig {
				return &api.Error{Status: http.StatusForbidden, Code: api.CodeForbidden, Message: "schedule " + name + " is defined in keyward.toml"}
			}
			f.scheds[i].Paused = op == "pause"
			return nil
		}
	}
	return &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound, Message: "not found"}
}

func (f *fixture) Schedule(ctx context.Context, name string, run int64) (*api.ScheduleDetail, error) {
	f.record("show %s", name)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.scheduleList() {
		if s.Name == name {
			return scheddata.SampleDetail(s), nil
		}
	}
	return nil, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound, Message: "not found"}
}
