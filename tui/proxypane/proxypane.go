// Package proxypane is the Proxy pane of keyward's TUI: one live panel per
// proxied application, fed by "proxy" notifications on the daemon's event
// stream (no polling): throughput and error sparklines, latency percentiles,
// upstream health and the key ring that encrypts. A "ring" notification (an
// application's key ring changed) makes it list the applications again at
// once. There is no fallback polling: while the stream is down the daemon's
// socket is too, and the hello that ends the outage refetches (RefreshMsg).
package proxypane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// historyLen is how many counter samples are kept when a status carries no
// per-second series of its own.
const historyLen = 60

// sample is one point of an application's history: counters at a time.
type sample struct {
	at       time.Time
	requests int64
	errors   int64
}

type app struct {
	status  api.ProxyStatus
	history []sample
}

type listMsg struct {
	apps []api.ProxyStatus
	err  error
}

// Model is the Proxy pane.
type Model struct {
	ctx           *common.Context
	apps          map[string]*app
	order         []string
	vp            viewport.Model
	width, height int
	lastErr       string
	shown         bool
	// sel is the selected ring generation among gens (every panel's, in
	// order): enter opens its key.
	sel  int
	gens []api.GenerationInfo
}

// New returns the Proxy pane.
func New(ctx *common.Context) *Model {
	return &Model{ctx: ctx, apps: map[string]*app{}, vp: common.NewViewport()}
}

// ID implements common.Pane.
func (m *Model) ID() common.PaneID { return common.PaneProxy }

// Title implements common.Pane.
func (m *Model) Title() string { return "Proxy" }

// Init implements common.Pane: the panels come from the event stream (and
// from one listing when the pane is first shown).
func (m *Model) Init() tea.Cmd { return nil }

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.vp.Width, m.vp.Height = w, h
	m.render()
}

// Capturing implements common.Pane.
func (m *Model) Capturing() bool { return false }

// Typing is always false: the pane has no text input.
func (m *Model) Typing() bool { return false }

// list asks for every application's status; a daemon without the route
// leaves the pane to the event stream alone.
func (m *Model) list() tea.Cmd {
	l, c := m.ctx.Backend, m.ctx
	return func() tea.Msg {
		apps, err := common.Get(c, func(ctx context.Context) ([]api.ProxyStatus, error) { return l.Proxy(ctx) })
		if common.Unserved(err) {
			return nil
		}
		return common.Reply(common.PaneProxy, listMsg{apps: apps, err: err})
	}
}

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case listMsg:
		var apiErr *api.Error
		switch {
		case errors.As(msg.err, &apiErr) && apiErr.Code == api.CodeNotFound:
			// A daemon without the proxy: nothing to list, nothing wrong.
		case msg.err != nil:
			m.lastErr = msg.err.Error()
		default:
			for _, s := range msg.apps {
				if s.App != "" {
					m.add(s)
				}
			}
		}
		m.render()
	case common.ActivatedMsg:
		if !m.shown {
			m.shown = true
			return m.list()
		}
	case common.RefreshMsg:
		if m.shown && !msg.OnlyFailed {
			return m.list()
		}
	case common.NotificationMsg:
		if msg.Type == api.NoteRing {
			// An application's key ring changed: its generations are read
			// again now, not at the next status the proxy publishes.
			if m.shown {
				return m.list()
			}
			return nil
		}
		if msg.Type != api.NoteProxy {
			return nil
		}
		statuses, err := Decode(msg.Data)
		if err != nil {
			m.lastErr = err.Error()
			m.render()
			return nil
		}
		m.lastErr = ""
		for _, s := range statuses {
			if s.Time.IsZero() {
				s.Time = msg.Time
			}
			m.add(s)
		}
		m.render()
	case tea.KeyMsg:
		k := m.ctx.Keys
		n := len(m.gens)
		switch {
		case key.Matches(msg, k.Reload):
			return m.list()
		case key.Matches(msg, k.Open) && m.sel < n:
			g := m.gens[m.sel]
			if g.Name == "" {
				return common.FlashErr("the ring does not name generation " + table.Clean(g.KeyID) + ": open it from the Keys pane")
			}
			return common.FindKey(m.ctx, "", g.Name, g.Fingerprint)
		case n > 0 && key.Matches(msg, k.Down):
			m.sel = min(n-1, m.sel+1)
			m.render()
		case n > 0 && key.Matches(msg, k.Up):
			m.sel = max(0, m.sel-1)
			m.render()
		case n > 0 && key.Matches(msg, k.Home):
			m.sel = 0
			m.vp.SetYOffset(0)
			m.render()
		case n > 0 && key.Matches(msg, k.End):
			m.sel = n - 1
			m.render()
		default:
			k.Scroll(&m.vp, msg)
		}
	}
	return nil
}

func (m *Model) add(s api.ProxyStatus) {
	a := m.apps[s.App]
	if a == nil {
		a = &app{}
		m.apps[s.App] = a
		m.order = append(m.order, s.App)
		sort.Strings(m.order)
	}
	if n := len(a.history); n > 0 && !s.Time.After(a.history[n-1].at) && !s.Time.IsZero() {
		// An older or repeated status (a listing racing the stream): keep the newer.
		if s.Time.Before(a.history[n-1].at) {
			return
		}
		a.history = a.history[:n-1]
	}
	a.status = s
	a.history = append(a.history, sample{at: s.Time, requests: s.Requests, errors: totalErrors(s)})
	if len(a.history) > historyLen+1 {
		a.history = a.history[len(a.history)-historyLen-1:]
	}
}

func totalErrors(s api.ProxyStatus) int64 {
	var n int64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding {
	k := m.ctx.Keys
	if len(m.gens) > 0 {
		return []key.Binding{openKey, k.Up, k.Down}
	}
	return []key.Binding{k.Up, k.Down}
}

// openKey is enter on a ring generation.
var openKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open its key"))

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown, k.Home, k.End, openKey}}
}

// StatusValue implements common.Pane.
func (m *Model) StatusValue() string {
	if len(m.order) == 0 {
		return ""
	}
	down := 0
	for _, n := range m.order {
		if m.apps[n].status.Health.Down() {
			down++
		}
	}
	apps := common.Plural(len(m.order), "application")
	if down > 0 {
		return fmt.Sprintf("%s, %s down", apps, common.Plural(down, "upstream"))
	}
	return apps
}

// View implements common.Pane.
func (m *Model) View() string { return m.vp.View() }

func (m *Model) render() {
	st := m.ctx.Styles
	if len(m.order) == 0 {
		msg := "No proxied application has reported yet.\n\n" +
			"Configure one under [[proxy]] in keyward.toml; its live status\n" +
			"(traffic, latency, upstream health, key ring) appears here."
		if m.lastErr != "" {
			msg += "\n\n" + st.Error.Render("cannot read proxy status: "+table.Clean(m.lastErr))
		}
		m.vp.SetContent(lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, st.Placeholder.Render(msg)))
		return
	}
	perRow := 1
	if m.width >= 150 {
		perRow = 2
	}
	pw := m.width / perRow
	m.follow()
	var rows []string
	m.gens = m.gens[:0]
	top, selLine := 0, -1
	for i := 0; i < len(m.order); i += perRow {
		var panels []string
		for j := i; j < i+perRow && j < len(m.order); j++ {
			a := m.apps[m.order[j]]
			first := len(m.gens)
			m.gens = append(m.gens, generations(a.status.Ring)...)
			p, line := panel(a.status, a.history, pw, m.ctx.Now(), st, m.sel-first)
			if line >= 0 {
				selLine = top + line
			}
			panels = append(panels, p)
		}
		row := lipgloss.JoinHorizontal(lipgloss.Top, panels...)
		top += lipgloss.Height(row)
		rows = append(rows, row)
	}
	if m.sel >= len(m.gens) && len(m.gens) > 0 {
		m.sel = len(m.gens) - 1
		m.render()
		return
	}
	if m.lastErr != "" {
		rows = append(rows, st.Error.Render("last proxy status could not be read: "+table.Clean(m.lastErr)))
	}
	m.vp.SetContent(strings.Join(rows, "\n"))
	// The selected generation stays on screen.
	if selLine >= 0 {
		if selLine < m.vp.YOffset {
			m.vp.SetYOffset(selLine)
		} else if h := max(1, m.vp.Height); selLine >= m.vp.YOffset+h {
			m.vp.SetYOffset(selLine - h + 1)
		}
	}
}

// generations are the rows of a ring's panel: its generations, or the one
// that encrypts when the ring does not describe itself.
// follow keeps the selection on its generation when the rings changed
// since the last render (a rotation puts a new one above it).
func (m *Model) follow() {
	if m.sel >= len(m.gens) {
		return
	}
	was := m.gens[m.sel]
	i := 0
	for _, name := range m.order {
		for _, g := range generations(m.apps[name].status.Ring) {
			if g.KeyID == was.KeyID && g.Name == was.Name && g.Fingerprint == was.Fingerprint {
				m.sel = i
				return
			}
			i++
		}
	}
}

func generations(r api.ProxyRing) []api.GenerationInfo {
	if len(r.Generations) == 0 && r.KeyID != "" {
		return []api.GenerationInfo{{KeyID: r.KeyID, Fingerprint: r.Fingerprint, Encrypts: true}}
	}
	return r.Generations
}

// series is what the sparklines draw: the status's own per-second series
// when it has one, else the change of its counters between statuses.
func series(s api.ProxyStatus, h []sample) (req, errs []float64) {
	if len(s.Series) > 0 {
		for _, p := range s.Series {
			req = append(req, float64(p.Requests))
			errs = append(errs, float64(p.Errors))
		}
		return req, errs
	}
	for i := 1; i < len(h); i++ {
		req = append(req, float64(delta(h[i-1].requests, h[i].requests)))
		errs = append(errs, float64(delta(h[i-1].errors, h[i].errors)))
	}
	return req, errs
}

// delta is b−a for counters (one that went down, after a daemon restart,
// counts from zero).
func delta(a, b int64) int64 {
	if b < a {
		return b
	}
	return b - a
}

// Sparkline draws values as one line of block characters, newest on the right,
// scaled to the largest value; it is exactly width cells.
func Sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	ticks := []rune("▁▂▃▄▅▆▇█")
	hi := 0.0
	for _, v := range values {
		hi = max(hi, v)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(values)))
	for _, v := range values {
		i := 0
		if hi > 0 && v > 0 {
			i = min(len(ticks)-1, int(v/hi*float64(len(ticks)-1)))
		}
		b.WriteRune(ticks[i])
	}
	return b.String()
}

// Panel draws one application's panel, width cells wide. It is a plain
// function of the status so it can be tested without a UI.
func Panel(s api.ProxyStatus, h []sample, width int, now time.Time, st *styles.Styles) string {
	p, _ := panel(s, h, width, now, st, -1)
	return p
}

// panel is Panel with the ring's generation sel selected (-1 or out of
// range: none), and the line of the panel it is on (-1: none).
func panel(s api.ProxyStatus, h []sample, width int, now time.Time, st *styles.Styles, sel int) (string, int) {
	selLine := -1
	inner := max(20, width-4)
	c := table.Clean
	var lines []string
	add := func(l string) { lines = append(lines, table.Fit(l, inner)) }
	health := st.OK.Render("● upstream ok")
	switch {
	case s.Health.Down():
		health = st.Danger.Bold(true).Render("✖ UPSTREAM DOWN")
	case !s.Health.OK:
		health = st.Muted.Render("○ upstream not tried yet")
	}
	scheme := "http"
	if s.TLS {
		scheme = "https"
	}
	add(st.Section.Render(c(s.App)) + "  " + health + st.Muted.Render("  "+scheme+"://"+c(s.Listen)+" → "+c(s.Upstream)))
	req, errs := series(s, h)
	spark := max(10, inner-24)
	total := totalErrors(s)
	add(fmt.Sprintf("%-9s %s %s", "requests", st.Info.Render(Sparkline(req, spark)), st.Muted.Render(fmt.Sprintf("%d total", s.Requests))))
	add(fmt.Sprintf("%-9s %s %s", "errors", st.Danger.Render(Sparkline(errs, spark)), st.Muted.Render(fmt.Sprintf("%d total", total))))
	add(fmt.Sprintf("latency   proxy p50 %s p95 %s p99 %s · upstream p50 %s p95 %s p99 %s",
		ms(s.ProxyLatency.P50), ms(s.ProxyLatency.P95), ms(s.ProxyLatency.P99),
		ms(s.UpstreamLatency.P50), ms(s.UpstreamLatency.P95), ms(s.UpstreamLatency.P99)))
	add(fmt.Sprintf("fields    %d encrypted · %d decrypted · in %s · out %s",
		s.FieldsEncrypt, s.FieldsDecrypt, bytes(s.BytesIn), bytes(s.BytesOut)))
	if len(s.Errors) > 0 {
		kinds := slices.Sorted(maps.Keys(s.Errors))
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", c(k), s.Errors[k])
		}
		add(st.Warn.Render("by kind   " + strings.Join(parts, " · ")))
	}
	up := "last ok " + render.Ago(s.Health.LastSuccess, now)
	if s.Health.LastFailure != nil {
		up += " · last failure " + render.Ago(s.Health.LastFailure, now)
		if s.Health.Reason != "" {
			up += ": " + c(s.Health.Reason)
		}
	}
	// Why the upstream fails is what the administrator acts on: wrap, never cut.
	for i, l := range table.Wrap(up, inner-10) {
		label := "          "
		if i == 0 {
			label = "upstream  "
		}
		add(label + l)
	}
	r := s.Ring
	ring := fmt.Sprintf("ring      %d", r.Size)
	if r.Capacity > 0 {
		ring += fmt.Sprintf(" of %d", r.Capacity)
	}
	ring += " generations"
	if r.LastChange != nil {
		ring += " · key changed " + render.Ago(r.LastChange, now)
	}
	add(ring)
	if r.KeyID == "" {
		why := "nothing encrypts: requests with protected fields are refused"
		if r.Reason != "" {
			why += " (" + c(r.Reason) + ")"
		}
		for _, l := range table.Wrap("✖ "+why, inner-2) {
			add(st.Danger.Bold(true).Render("  " + l))
		}
	}
	for i, g := range generations(r) {
		row := render.Generation(g, r.LeavesNext != "" && g.KeyID == r.LeavesNext, now)
		mark := table.Align(row.Cells[render.GenRole], 10, true) + " "
		style, _ := st.Class(row.Classes[render.GenRole])
		age := "age unknown"
		if a := row.Cells[render.GenAge]; a != render.Dash {
			age = a + " old"
		}
		if i == sel {
			// The border is the panel's first line.
			selLine = len(lines) + 1
			add(st.RowSelected.Render(table.Fit(fmt.Sprintf("› %s %-8s %s %s %s", mark, c(g.KeyID), render.ShortFingerprint(g.Fingerprint), age, c(g.Name)), inner)))
			continue
		}
		add(fmt.Sprintf("  %s %-8s %s %s %s", style.Render(mark), c(g.KeyID), st.Muted.Render(render.ShortFingerprint(g.Fingerprint)), age, st.Muted.Render(c(g.Name))))
	}
	return st.Panel.Width(inner + 2).Render(strings.Join(lines, "\n")), selLine
}

func ms(v float64) string {
	switch {
	case v <= 0:
		return "—"
	case v < 1:
		return fmt.Sprintf("%dµs", int(v*1000))
	}
	return fmt.Sprintf("%.1fms", v)
}

func bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
