// Package schedulepane is the Schedules pane of keyward's TUI: every
// schedule with its next run, its last outcome and a history strip of its
// latest runs, the selected one's details below; run now and pause/resume
// after a confirmation, and a dry-run preview of exactly which keys a run
// would touch. It refetches when the daemon's event stream says a
// schedule changed (no polling).
package schedulepane

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/dialog"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

type listMsg struct {
	scheds []api.ScheduleInfo
	err    error
}

type dryMsg struct {
	name string
	dry  *api.DryRun
	err  error
}

type detailMsg struct {
	name string
	d    *api.ScheduleDetail
	err  error
}

type doneMsg struct {
	text string
	err  error
}

// Model is the Schedules pane.
type Model struct {
	ctx    *common.Context
	scheds []api.ScheduleInfo
	sel    int
	// want is a schedule to select once listed (a jump to it).
	want          string
	width, height int
	lastErr       string
	shown, loaded bool
	unserved      bool
	modal         dialog.Modal
	// confirmed is what the open confirmation runs on enter.
	confirmed func() tea.Cmd
}

// New returns the Schedules pane.
func New(ctx *common.Context) *Model { return &Model{ctx: ctx} }

// ID implements common.Pane.
func (m *Model) ID() common.PaneID { return common.PaneSchedules }

// Title implements common.Pane.
func (m *Model) Title() string { return "Schedules" }

// Init implements common.Pane: the list is fetched when the pane is first
// shown.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Capturing implements common.Pane: an open dialog takes the keys.
func (m *Model) Capturing() bool { return m.open() }

// Typing implements common.Pane: no dialog here takes text.
func (m *Model) Typing() bool { return false }

func (m *Model) open() bool { return m.modal.Confirm != nil || m.modal.Msg != nil }

// StatusValue implements common.Pane.
func (m *Model) StatusValue() string {
	if !m.loaded {
		return ""
	}
	bad := 0
	for _, s := range m.scheds {
		if s.Health == string(engine.HealthDegraded) {
			bad++
		}
	}
	out := engine.Plural(len(m.scheds), "schedule")
	if bad > 0 {
		out += fmt.Sprintf(", %d failing", bad)
	}
	return out
}

func (m *Model) list() tea.Cmd {
	c := m.ctx
	return func() tea.Msg {
		ss, err := common.Get(c, func(ctx context.Context) ([]api.ScheduleInfo, error) { return c.Backend.Schedules(ctx) })
		return common.Reply(common.PaneSchedules, listMsg{scheds: ss, err: err})
	}
}

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case listMsg:
		m.loaded = true
		switch {
		case common.Unserved(msg.err):
			m.unserved, m.lastErr = true, ""
		case msg.err != nil:
			m.lastErr = msg.err.Error()
		default:
			// The selection stays on its schedule when the rows move
			// (one added or removed before it); gone, on its row number.
			was := ""
			if m.sel < len(m.scheds) {
				was = m.scheds[m.sel].Name
			}
			m.lastErr, m.scheds = "", msg.scheds
			m.sel = min(m.sel, max(0, len(m.scheds)-1))
			for i, s := range m.scheds {
				if s.Name == was {
					m.sel = i
				}
			}
			m.choose()
		}
	case common.OpenScheduleMsg:
		// From the schedule's health row in the Sources pane.
		m.want = msg.Name
		m.choose()
		if !m.shown {
			m.shown = true
		}
		return m.list()
	case dryMsg:
		if msg.err != nil {
			m.modal.Show(nil, nil, nil, &dialog.Message{Title: "Dry run of " + msg.name, Status: dialog.Status{Err: msg.err.Error()}})
			return nil
		}
		m.modal.Show(nil, nil, nil, &dialog.Message{Title: "Dry run of " + msg.name + ": what a run now would touch", Lines: dryLines(msg.dry)})
	case detailMsg:
		if msg.err != nil {
			m.modal.Show(nil, nil, nil, &dialog.Message{Title: msg.name, Status: dialog.Status{Err: msg.err.Error()}})
			return nil
		}
		m.modal.Show(nil, nil, nil, &dialog.Message{Title: runTitle(msg.d), Lines: stepLines(msg.d.Steps)})
	case doneMsg:
		m.modal.Show(nil, nil, nil, nil)
		m.confirmed = nil
		if msg.err != nil {
			return common.FlashErr(msg.err.Error())
		}
		return tea.Batch(common.Flash(msg.text), m.list())
	case common.ActivatedMsg:
		if !m.shown {
			m.shown = true
			return m.list()
		}
	case common.RefreshMsg:
		if m.shown && (!msg.OnlyFailed || m.lastErr != "") {
			return m.list()
		}
	case common.NotificationMsg:
		if m.shown && (msg.Type == api.NoteSchedules || msg.Type == api.NoteHello) {
			return m.list()
		}
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

// choose selects the schedule a jump asked for, once it is listed.
func (m *Model) choose() {
	for i, s := range m.scheds {
		if m.want != "" && s.Name == m.want {
			m.sel, m.want = i, ""
			return
		}
	}
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.ctx.Keys
	if m.open() {
		out, cmd := m.modal.Update(msg, k)
		switch out {
		case dialog.Cancel:
			m.modal.Show(nil, nil, nil, nil)
			m.confirmed = nil
		case dialog.Submit:
			if m.modal.Confirm != nil && m.confirmed != nil {
				m.modal.Confirm.Status.Busy = "asking the daemon…"
				return m.confirmed()
			}
			m.modal.Show(nil, nil, nil, nil)
		}
		return cmd
	}
	n := len(m.scheds)
	switch {
	case key.Matches(msg, k.Reload):
		return m.list()
	case n > 0 && key.Matches(msg, k.Down):
		m.sel = min(n-1, m.sel+1)
	case n > 0 && key.Matches(msg, k.Up):
		m.sel = max(0, m.sel-1)
	case n > 0 && key.Matches(msg, k.Home):
		m.sel = 0
	case n > 0 && key.Matches(msg, k.End):
		m.sel = n - 1
	case n > 0 && key.Matches(msg, k.Open):
		return m.showRun(m.scheds[m.sel].Name)
	case n > 0 && key.Matches(msg, k.SchedDryRun):
		return m.dryRun(m.scheds[m.sel].Name)
	case n > 0 && key.Matches(msg, k.SchedRun):
		return m.confirmRun(m.scheds[m.sel])
	case n > 0 && key.Matches(msg, k.SchedPause):
		return m.confirmPause(m.scheds[m.sel])
	}
	return nil
}

func (m *Model) dryRun(name string) tea.Cmd {
	c := m.ctx
	m.modal.Show(nil, nil, nil, &dialog.Message{Title: "Dry run of " + name, Status: dialog.Status{Busy: "asking the daemon…"}})
	return func() tea.Msg {
		d, err := common.Get(c, func(ctx context.Context) (*api.DryRun, error) { return c.Backend.DryRunSchedule(ctx, name) })
		return common.Reply(common.PaneSchedules, dryMsg{name: name, dry: d, err: err})
	}
}

// showRun fetches what the latest run of name did to each target.
func (m *Model) showRun(name string) tea.Cmd {
	c := m.ctx
	m.modal.Show(nil, nil, nil, &dialog.Message{Title: name, Status: dialog.Status{Busy: "asking the daemon…"}})
	return func() tea.Msg {
		d, err := common.Get(c, func(ctx context.Context) (*api.ScheduleDetail, error) { return c.Backend.Schedule(ctx, name, 0) })
		return common.Reply(common.PaneSchedules, detailMsg{name: name, d: d, err: err})
	}
}

func runTitle(d *api.ScheduleDetail) string {
	if d.Run == nil {
		return d.Schedule.Name + ": no run yet"
	}
	r := d.Run
	return fmt.Sprintf("%s, run %d (%s %s): %s", d.Schedule.Name, r.ID, r.Trigger, r.Started.UTC().Format("2006-01-02 15:04"), r.Status)
}

// stepLines says what a run did to each target: done (from which version
// to which), skipped and why, failed and why.
func stepLines(steps []schedule.Step) []string {
	if len(steps) == 0 {
		return []string{"nothing was selected"}
	}
	var out []string
	for _, st := range steps {
		line := st.Status + ": " + table.Clean(st.Target)
		switch {
		case st.Status == schedule.StepDone && st.After != "":
			line += " → " + table.Clean(st.After)
		case st.Reason != "":
			line += " — " + table.Clean(st.Reason)
		}
		out = append(out, line)
	}
	return out
}

// dryLines says what a run would touch, then what it would skip and why.
func dryLines(d *api.DryRun) []string {
	var touch, skip []string
	for _, st := range d.Steps {
		if st.Status == schedule.StepPending {
			touch = append(touch, "  "+table.Clean(st.Target))
		} else {
			skip = append(skip, "  "+table.Clean(st.Target)+" — "+table.Clean(st.Reason))
		}
	}
	// Counts first, then the skipped with why (few, and what an
	// administrator checks), then the targets, which may be thousands.
	head := fmt.Sprintf("touches %s", engine.Plural(len(touch), "target"))
	if len(skip) > 0 {
		head += fmt.Sprintf(", skips %d", len(skip))
	}
	out := []string{head}
	if len(skip) > 0 {
		out = append(out, "", fmt.Sprintf("skips %d:", len(skip)))
		out = append(out, skip...)
	}
	out = append(out, "", fmt.Sprintf("touches %d:", len(touch)))
	return append(out, touch...)
}

func (m *Model) confirmRun(s api.ScheduleInfo) tea.Cmd {
	if s.Running != nil {
		return common.FlashErr(s.Name + " is running (since " + s.Running.Started.UTC().Format("15:04:05") + "): runs never overlap")
	}
	c, name := m.ctx, s.Name
	m.confirmed = func() tea.Cmd {
		return func() tea.Msg {
			run, err := common.Get(c, func(ctx context.Context) (*schedule.Run, error) { return c.Backend.RunSchedule(ctx, name) })
			if err != nil {
				return common.Reply(common.PaneSchedules, doneMsg{err: fmt.Errorf("run %s: %w", name, err)})
			}
			return common.Reply(common.PaneSchedules, doneMsg{text: fmt.Sprintf("started run %d of %s", run.ID, name)})
		}
	}
	m.modal.Show(nil, dialog.NewConfirm("Run "+name+" now?", []string{
		s.Kind.Describe() + ": " + describe(s),
		"It runs in the daemon, as schedule:" + name + "; its next scheduled run stays as it is.",
		"d (after esc) shows exactly which keys it would touch.",
	}, "", s.Kind == schedule.KindRotate), nil, nil)
	return nil
}

func (m *Model) confirmPause(s api.ScheduleInfo) tea.Cmd {
	if s.Origin == schedule.OriginConfig {
		return common.FlashErr(s.Name + " is defined in keyward.toml: pause it there ([[schedule]]) and restart the daemon")
	}
	c, name, op := m.ctx, s.Name, "pause"
	title, lines := "Pause "+name+"?", []string{"No run starts until it is resumed.", "A run in progress finishes."}
	if s.Paused {
		op, title, lines = "resume", "Resume "+name+"?", []string{"It runs again from its next occurrence; the ones missed while paused are not run."}
	}
	m.confirmed = func() tea.Cmd {
		return func() tea.Msg {
			err := c.Call(func(ctx context.Context) error { return c.Backend.ScheduleAction(ctx, name, op) })
			if err != nil {
				return common.Reply(common.PaneSchedules, doneMsg{err: fmt.Errorf("%s %s: %w", op, name, err)})
			}
			return common.Reply(common.PaneSchedules, doneMsg{text: map[string]string{"pause": "paused ", "resume": "resumed "}[op] + name})
		}
	}
	m.modal.Show(nil, dialog.NewConfirm(title, lines, "", false), nil, nil)
	return nil
}

// describe says what a schedule selects (render.ScheduleSelection), or
// "everything".
func describe(s api.ScheduleInfo) string {
	if d := render.ScheduleSelection(s.Spec); d != "" {
		return table.Clean(d)
	}
	return "everything"
}

// History is the strip of a schedule's latest runs, oldest first, one
// cell each, readable without colour by its height: █ done, ▄ partial,
// ▁ failed, · skipped, … running.
func History(recent []schedule.Run, width int) string {
	var b []rune
	for i := len(recent) - 1; i >= 0; i-- {
		b = append(b, glyph(recent[i].Status))
	}
	if len(b) > width {
		b = b[len(b)-width:]
	}
	return strings.Repeat(" ", width-len(b)) + string(b)
}

func glyph(status string) rune {
	switch status {
	case schedule.RunDone:
		return '█'
	case schedule.RunPartial:
		return '▄'
	case schedule.RunFailed:
		return '▁'
	case schedule.RunRunning:
		return '…'
	}
	return '·'
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding {
	k := m.ctx.Keys
	return []key.Binding{k.Open, k.SchedRun, k.SchedPause, k.SchedDryRun}
}

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	return [][]key.Binding{{k.Up, k.Down, k.Home, k.End, k.Reload}, {k.Open, k.SchedRun, k.SchedPause, k.SchedDryRun}}
}
