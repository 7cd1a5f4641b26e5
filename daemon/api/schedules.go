package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keyward/keyward/engine/schedule"
)

// NoteSchedules: a schedule or one of its runs changed (Source names the
// schedule).
const NoteSchedules = "schedules"

// ScheduleSourceKind is the kind of the health rows schedules keep among
// GET /v1/sources' ("schedule:NAME"): items with a health, not sources of
// keys (nothing to sync, no keys).
const ScheduleSourceKind = "schedule"

// ScheduleInfo is one schedule as GET /v1/schedules serves it: its spec,
// where it was defined, and how it stands.
type ScheduleInfo struct {
	schedule.Spec
	// Origin is "config" (keyward.toml: read-only over the socket) or "api".
	Origin string `json:"origin"`
	Paused bool   `json:"paused"`
	// When says when it runs, in words ("weekly mon 02:00 UTC").
	When string `json:"when"`
	// NextRun is when its next occurrence starts (its random delay
	// included); omitted when paused or past its end date.
	NextRun *time.Time `json:"next_run,omitempty"`
	// Health is ok, degraded (its last run failed in part or whole, with
	// Reason) or unknown (never ran).
	Health string `json:"health"`
	Reason string `json:"reason,omitempty"`
	// Running is the run in progress, if any.
	Running *schedule.Run `json:"running,omitempty"`
	// Recent are the latest runs, newest first (at most 20): the history.
	Recent []schedule.Run `json:"recent"`
}

// ScheduleDetail is GET /v1/schedules/{name}: the schedule, its runs and
// the steps of one run (the latest, or ?run=ID).
type ScheduleDetail struct {
	Schedule ScheduleInfo    `json:"schedule"`
	Run      *schedule.Run   `json:"run,omitempty"`
	Steps    []schedule.Step `json:"steps"`
}

// DryRun is GET /v1/schedules/{name}/dry-run: the targets a run would
// touch now (pending) and those it would skip, with why.
type DryRun struct {
	Schedule string          `json:"schedule"`
	Steps    []schedule.Step `json:"steps"`
}

// Schedules lists every schedule.
func (c *Client) Schedules(ctx context.Context) ([]ScheduleInfo, error) {
	var s struct {
		Schedules []ScheduleInfo `json:"schedules"`
	}
	return s.Schedules, c.Do(ctx, http.MethodGet, "/schedules", nil, nil, &s)
}

// Schedule returns one schedule with the steps of run (0: the latest).
func (c *Client) Schedule(ctx context.Context, name string, run int64) (*ScheduleDetail, error) {
	var q url.Values
	if run > 0 {
		q = url.Values{"run": {strconv.FormatInt(run, 10)}}
	}
	var d ScheduleDetail
	return &d, c.Do(ctx, http.MethodGet, "/schedules/"+url.PathEscape(name), q, nil, &d)
}

// CreateSchedule adds a schedule (admin).
func (c *Client) CreateSchedule(ctx context.Context, s schedule.Spec) (*ScheduleInfo, error) {
	var out struct {
		Schedule ScheduleInfo `json:"schedule"`
	}
	return &out.Schedule, c.Do(ctx, http.MethodPost, "/schedules", nil, s, &out)
}

// EditSchedule replaces a schedule made over the socket (admin).
func (c *Client) EditSchedule(ctx context.Context, s schedule.Spec) (*ScheduleInfo, error) {
	var out struct {
		Schedule ScheduleInfo `json:"schedule"`
	}
	return &out.Schedule, c.Do(ctx, http.MethodPut, "/schedules/"+url.PathEscape(s.Name), nil, s, &out)
}

// ScheduleAction pauses, resumes or deletes a schedule (admin): op is
// "pause", "resume" or "delete".
func (c *Client) ScheduleAction(ctx context.Context, name, op string) error {
	if op == "delete" {
		return c.Do(ctx, http.MethodDelete, "/schedules/"+url.PathEscape(name), nil, nil, nil)
	}
	return c.Do(ctx, http.MethodPost, "/schedules/"+url.PathEscape(name)+"/"+op, nil, nil, nil)
}

// RunSchedule starts a run now (admin).
func (c *Client) RunSchedule(ctx context.Context, name string) (*schedule.Run, error) {
	var out struct {
		Run schedule.Run `json:"run"`
	}
	return &out.Run, c.Do(ctx, http.MethodPost, "/schedules/"+url.PathEscape(name)+"/run", nil, nil, &out)
}

// DryRunSchedule lists what a run would touch now.
func (c *Client) DryRunSchedule(ctx context.Context, name string) (*DryRun, error) {
	var d DryRun
	return &d, c.Do(ctx, http.MethodGet, "/schedules/"+url.PathEscape(name)+"/dry-run", nil, nil, &d)
}
