package schedulepane

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui/table"
)

// historyWidth is how many runs the history strip shows.
const historyWidth = 10

// View implements common.Pane.
func (m *Model) View() string {
	if m.open() {
		return m.modal.View(m.ctx.Styles, m.ctx.Keys, m.width, m.height)
	}
	st := m.ctx.Styles
	var lines []string
	switch {
	case m.unserved:
		lines = append(lines, st.Muted.Render(" this daemon has no schedules (an older keyward)"))
	case m.lastErr != "":
		lines = append(lines, st.Error.Render(table.Fit(" "+table.Clean(m.lastErr), m.width)))
	case !m.loaded:
		lines = append(lines, st.Muted.Render(" loading…"))
	case len(m.scheds) == 0:
		lines = append(lines, st.Muted.Render(" no schedules: keyward schedule add, or [[schedule]] in keyward.toml"))
	}
	if len(m.scheds) > 0 {
		nameW := 8
		for _, s := range m.scheds {
			nameW = max(nameW, len(s.Name))
		}
		// NAME KIND NEXT RUN LAST HISTORY HEALTH: the name gives way first.
		fixed := 46 + historyWidth
		nameW = max(8, min(nameW, m.width-fixed))
		row := func(name, kind, next, last, hist, health string) string {
			return table.Fit(" "+table.Align(name, nameW, false)+" "+table.Align(kind, 6, false)+" "+table.Align(next, 18, false)+" "+
				table.Align(last, 8, false)+" "+table.Align(hist, historyWidth, false)+" "+health, m.width)
		}
		lines = append(lines, st.Header.Render(row("NAME", "KIND", "NEXT RUN", "LAST", "HISTORY", "HEALTH")))
		now := m.ctx.Now()
		for i, s := range m.scheds {
			mark := " "
			if i == m.sel {
				mark = "›"
			}
			r := mark + row(table.Clean(s.Name), string(s.Kind), next(s, now), last(s), History(s.Recent, historyWidth), s.Health)[1:]
			switch {
			case i == m.sel:
				r = st.RowSelected.Render(r)
			case s.Health == string(engine.HealthDegraded):
				r = st.Warn.Render(r)
			default:
				r = st.Row.Render(r)
			}
			lines = append(lines, r)
		}
		lines = append(lines, "")
		lines = append(lines, m.detail(m.scheds[m.sel], now)...)
	}
	for len(lines) < m.height {
		lines = append(lines, "")
	}
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	return strings.Join(lines, "\n")
}

func next(s api.ScheduleInfo, now time.Time) string {
	switch {
	case s.Paused:
		return "paused"
	case s.NextRun == nil:
		return "none (ended)"
	}
	return s.NextRun.UTC().Format("01-02 15:04") + " " + inRel(s.NextRun.Sub(now))
}

func inRel(d time.Duration) string {
	if d <= time.Minute {
		return "now"
	}
	return "in " + engine.HumanDuration(d)
}

func last(s api.ScheduleInfo) string {
	if s.Running != nil {
		return "running"
	}
	for _, r := range s.Recent {
		if r.Status != schedule.RunSkipped {
			return r.Status
		}
	}
	return "never"
}

// detail is the selected schedule in words: when, what, where from, and
// how its last run went (and why it failed).
func (m *Model) detail(s api.ScheduleInfo, now time.Time) []string {
	st := m.ctx.Styles
	w := m.width
	label := func(l, v string) string {
		return table.Fit(" "+st.Label.Render(fmt.Sprintf("%-9s", l))+" "+v, w)
	}
	origin := "made over the socket"
	if s.Origin == schedule.OriginConfig {
		origin = "keyward.toml (read-only here)"
	}
	out := []string{
		table.Fit(" "+st.Section.Render(table.Clean(s.Name)), w),
		label("runs", table.Clean(s.When)+jitter(s)),
		label("does", s.Kind.Describe()+": "+describe(s)),
		label("defined", origin),
	}
	for _, r := range s.Recent {
		if r.Status == schedule.RunSkipped {
			continue
		}
		text := fmt.Sprintf("run %d, %s %s: %s", r.ID, r.Trigger, r.Started.UTC().Format("2006-01-02 15:04"), r.Status)
		if r.Summary != "" {
			text += " — " + r.Summary
		}
		out = append(out, label("last run", table.Clean(text)))
		break
	}
	if s.Reason != "" {
		out = append(out, st.Warn.Render(label("failing", table.Clean(s.Reason))))
	}
	out = append(out, table.Fit(" "+st.Muted.Render("history, oldest first: █ done ▄ partial ▁ failed · skipped"), w))
	return out
}

func jitter(s api.ScheduleInfo) string {
	if s.Jitter == "" {
		return ""
	}
	return ", up to " + s.Jitter + " later"
}
