package sourcespane

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

// historyLen is how many health changes a source's view lists, and
// historyFrom how far back it looks. historyTo is past the daemon's now: a
// range ends before its end, and a change recorded in the daemon's current
// second (or clock) must show.
const (
	historyLen  = 20
	historyFrom = "-90d"
	historyTo   = "+1h"
)

// sourceView is one source opened with enter: its health history (the
// activity log's outage and recovery events), its statistics (health, keys,
// last sync, the latest poll, its rings) and K for its keys.
type sourceView struct {
	m    *Model
	name string
	src  *api.SourceInfo
	// jumped: opened from elsewhere (a key's detail); esc goes back there.
	jumped  bool
	history []engine.Event
	loaded  bool
	err     error
	seq     int
	vp      viewport.Model
}

type historyMsg struct {
	seq    int
	events []engine.Event
	err    error
}

// open opens the source named name, and asks for its health history.
func (m *Model) open(name string, jumped bool) tea.Cmd {
	m.viewSeq++
	v := &sourceView{m: m, name: name, jumped: jumped, vp: common.NewViewport(), src: m.source(name), seq: m.viewSeq}
	m.view = v
	v.setSize(m.width, m.height)
	return v.fetch()
}

func (v *sourceView) fetch() tea.Cmd {
	c, name, seq := v.m.ctx, v.name, v.seq
	r := c.Backend
	return func() tea.Msg {
		var events []engine.Event
		// The outages and the recoveries: two small queries rather than
		// every key event of the source.
		err := c.Call(func(ctx context.Context) error {
			for _, op := range []string{engine.OpOutage, engine.OpRecovery} {
				rep, err := r.ActivityReport(ctx, api.ReportQuery{From: historyFrom, To: historyTo, Source: name, Operation: op, Limit: historyLen})
				if err != nil {
					return err
				}
				events = append(events, rep.Events...)
			}
			return nil
		})
		if common.Unserved(err) {
			err = nil // a daemon without the activity report: no history
		}
		sort.SliceStable(events, func(i, j int) bool { return events[i].Time.After(events[j].Time) })
		if len(events) > historyLen {
			events = events[:historyLen]
		}
		return common.Reply(common.PaneSources, historyMsg{seq: seq, events: events, err: err})
	}
}

func (v *sourceView) set(msg historyMsg) {
	if msg.seq != v.seq {
		return
	}
	v.loaded, v.err = true, msg.err
	if msg.err == nil {
		v.history = msg.events
	}
	v.render()
}

func (v *sourceView) setSource(s *api.SourceInfo) {
	v.src = s
	v.render()
}

func (v *sourceView) setSize(w, h int) {
	v.vp.Width, v.vp.Height = w, max(1, h-1)
	v.render()
}

// update handles a key; close reports that the view is to close.
func (v *sourceView) update(msg tea.KeyMsg) (cmd tea.Cmd, close bool) {
	k := v.m.ctx.Keys
	switch {
	case key.Matches(msg, k.Back):
		if v.jumped {
			return func() tea.Msg { return common.DetailClosedMsg{} }, true
		}
		return nil, true
	case key.Matches(msg, k.GoKeys):
		if v.src != nil {
			if name, ok := common.ScheduleOfRow(v.src.Source); ok {
				return common.OpenSchedule(name), false
			}
		}
		return common.SourceKeys(v.name), false
	case key.Matches(msg, k.Reload):
		return tea.Batch(v.m.fetch(), v.fetch()), false
	}
	k.Scroll(&v.vp, msg)
	return nil, false
}

func (v *sourceView) render() {
	m := v.m
	st, now, w := m.ctx.Styles, m.ctx.Now(), v.vp.Width
	var lines []string
	add := func(s string) { lines = append(lines, table.Fit(s, w)) }
	if v.src == nil {
		if m.loaded {
			add(st.Error.Render("  no source named " + table.Clean(v.name) + " (it is no longer configured)"))
		} else {
			add(st.Placeholder.Render("  loading sources…"))
		}
	} else {
		s := v.src
		body, _ := build([]api.SourceInfo{*s}, true, nil, w, now, st, -1)
		lines = append(lines, strings.Split(body, "\n")...)
		add("")
		stats := fmt.Sprintf("%s · health %s · last sync %s", common.Plural(s.Keys, "key"), s.Health, render.Ago(s.LastSync, now))
		for _, l := range table.Wrap(stats, max(20, w-2)) {
			add(st.Muted.Render("  " + l))
		}
		if name, ok := common.ScheduleOfRow(s.Source); ok {
			add(st.Muted.Render(fmt.Sprintf("  %s: schedule %s in the Schedules pane (R there runs it)", v.m.ctx.Keys.GoKeys.Help().Key, table.Clean(name))))
		} else {
			add(st.Muted.Render(fmt.Sprintf("  %s: its keys in the Keys pane", v.m.ctx.Keys.GoKeys.Help().Key)))
		}
	}
	add("")
	add(st.Section.Render("  Health history (90 days)"))
	switch {
	case v.err != nil:
		for _, l := range table.Wrap("cannot load the health history: "+common.Explain(v.err), max(20, w-4)) {
			add(st.Error.Render("  " + l))
		}
	case !v.loaded:
		add(st.Placeholder.Render("  loading…"))
	case len(v.history) == 0:
		add(st.Placeholder.Render("  no outage recorded"))
	default:
		for _, e := range v.history {
			what := "recovered"
			style := st.OK
			if e.Operation == engine.OpOutage {
				what, style = "degraded", st.Danger
			}
			line := fmt.Sprintf("%s  %-9s %s", e.Time.UTC().Format("2006-01-02 15:04"), what, table.Clean(e.Details))
			for _, l := range table.Wrap(line, max(20, w-4)) {
				add(style.Render("  " + l))
			}
		}
	}
	v.vp.SetContent(strings.Join(lines, "\n"))
}

func (v *sourceView) viewString() string {
	st := v.m.ctx.Styles
	title := st.Bold.Render("source "+table.Clean(v.name)) + st.Muted.Render("  (esc back)")
	return table.Fit(title, v.vp.Width) + "\n" + v.vp.View()
}
