// Package proxypane is the Proxy pane of keyward's TUI: one live panel per
// proxied application, fed by "proxy" notifications on the daemon's event
// stream (no polling): throughput and error sparklines, latency percentiles,
// upstream health and the key ring that encrypts.
package proxypane

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/keyspane"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// historyLen is how many samples the sparklines keep.
const historyLen = 60

// sample is one point of an application's history: counters at a time.
type sample struct {
	at       time.Time
	requests uint64
	errors   uint64
}

type app struct {
	status  AppStatus
	history []sample
	bad     string // why the last status could not be read
}

// Model is the Proxy pane.
type Model struct {
	ctx           *common.Context
	apps          map[string]*app
	order         []string
	vp            viewport.Model
	width, height int
	lastErr       string
}

// New returns the Proxy pane.
func New(ctx *common.Context) *Model {
	m := &Model{ctx: ctx, apps: map[string]*app{}, vp: viewport.New(0, 0)}
	m.vp.KeyMap = viewport.KeyMap{}
	return m
}

// ID implements common.Pane.
func (m *Model) ID() common.PaneID { return common.PaneProxy }

// Title implements common.Pane.
func (m *Model) Title() string { return "Proxy" }

// Init implements common.Pane: the panels come from the event stream.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.vp.Width, m.vp.Height = w, h
	m.render()
}

// Capturing implements common.Pane.
func (m *Model) Capturing() bool { return false }

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.NotificationMsg:
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
			m.add(s, msg.Time)
		}
		m.render()
	case tea.KeyMsg:
		k := m.ctx.Keys
		switch {
		case key.Matches(msg, k.Down):
			m.vp.ScrollDown(1)
		case key.Matches(msg, k.Up):
			m.vp.ScrollUp(1)
		case key.Matches(msg, k.PageDown):
			m.vp.PageDown()
		case key.Matches(msg, k.PageUp):
			m.vp.PageUp()
		case key.Matches(msg, k.Home):
			m.vp.GotoTop()
		}
	}
	return nil
}

func (m *Model) add(s AppStatus, at time.Time) {
	a := m.apps[s.Application]
	if a == nil {
		a = &app{}
		m.apps[s.Application] = a
		m.order = append(m.order, s.Application)
		sort.Strings(m.order)
	}
	if !s.At.IsZero() {
		at = s.At
	}
	a.status = s
	a.history = append(a.history, sample{at: at, requests: s.Requests, errors: s.Errors})
	if len(a.history) > historyLen+1 {
		a.history = a.history[len(a.history)-historyLen-1:]
	}
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding { k := m.ctx.Keys; return []key.Binding{k.Up, k.Down} }

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Home}}
}

// StatusValue implements common.Pane.
func (m *Model) StatusValue() string {
	if len(m.order) == 0 {
		return ""
	}
	down := 0
	for _, n := range m.order {
		if !m.apps[n].status.UpstreamUp {
			down++
		}
	}
	apps := fmt.Sprintf("%d applications", len(m.order))
	if len(m.order) == 1 {
		apps = "1 application"
	}
	if down > 0 {
		return fmt.Sprintf("%s, %d upstream down", apps, down)
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
			msg += "\n\n" + st.Error.Render("cannot read proxy status: "+m.lastErr)
		}
		m.vp.SetContent(lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, st.Placeholder.Render(msg)))
		return
	}
	perRow := 1
	if m.width >= 150 {
		perRow = 2
	}
	pw := m.width/perRow - 1
	var rows []string
	for i := 0; i < len(m.order); i += perRow {
		var panels []string
		for j := i; j < i+perRow && j < len(m.order); j++ {
			panels = append(panels, Panel(m.apps[m.order[j]].status, m.apps[m.order[j]].history, pw, m.ctx.Now(), st))
		}
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, panels...))
	}
	if m.lastErr != "" {
		rows = append(rows, st.Error.Render("last proxy status could not be read: "+m.lastErr))
	}
	m.vp.SetContent(strings.Join(rows, "\n"))
}

// rates turns counter samples into per-interval deltas (counters that go
// down, after a daemon restart, count from zero).
func rates(h []sample) (req, errs []float64) {
	for i := 1; i < len(h); i++ {
		dr, de := delta(h[i-1].requests, h[i].requests), delta(h[i-1].errors, h[i].errors)
		req = append(req, float64(dr))
		errs = append(errs, float64(de))
	}
	return req, errs
}

func delta(a, b uint64) uint64 {
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
		if hi > 0 {
			i = int(v / hi * float64(len(ticks)-1))
		}
		b.WriteRune(ticks[i])
	}
	return b.String()
}

// Panel draws one application's panel, width cells wide.
func Panel(s AppStatus, h []sample, width int, now time.Time, st *styles.Styles) string {
	inner := max(20, width-4)
	var lines []string
	add := func(l string) { lines = append(lines, table.Fit(l, inner)) }
	health := st.OK.Render("● upstream ok")
	if !s.UpstreamUp {
		health = st.Danger.Bold(true).Render("✖ UPSTREAM DOWN")
	}
	add(st.Section.Render(table.Clean(s.Application)) + "  " + health + st.Muted.Render("  "+table.Clean(s.Listen)+" → "+table.Clean(s.Upstream)))
	req, errs := rates(h)
	spark := max(10, inner-22)
	add(fmt.Sprintf("%-9s %s %s", "requests", st.Info.Render(Sparkline(req, spark)), st.Muted.Render(fmt.Sprintf("%d total", s.Requests))))
	add(fmt.Sprintf("%-9s %s %s", "errors", st.Danger.Render(Sparkline(errs, spark)), st.Muted.Render(fmt.Sprintf("%d total", s.Errors))))
	add(fmt.Sprintf("latency   proxy p50 %s p95 %s p99 %s · upstream p50 %s p95 %s p99 %s",
		ms(s.ProxyLatency.P50), ms(s.ProxyLatency.P95), ms(s.ProxyLatency.P99),
		ms(s.UpstreamLatency.P50), ms(s.UpstreamLatency.P95), ms(s.UpstreamLatency.P99)))
	add(fmt.Sprintf("fields    %d encrypted · %d decrypted · in %s · out %s",
		s.Encrypted, s.Decrypted, bytes(s.BytesIn), bytes(s.BytesOut)))
	if len(s.ErrorsByKind) > 0 {
		kinds := make([]string, 0, len(s.ErrorsByKind))
		for k := range s.ErrorsByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", table.Clean(k), s.ErrorsByKind[k])
		}
		add(st.Warn.Render("errors    " + strings.Join(parts, " · ")))
	}
	up := "upstream  last ok " + agoPtr(s.LastSuccess, now)
	if s.LastFailure != nil {
		up += " · last failure " + agoPtr(s.LastFailure, now)
		if s.FailureReason != "" {
			up += ": " + table.Clean(s.FailureReason)
		}
	}
	add(up)
	ring := fmt.Sprintf("ring      %d of %d generations", len(s.Ring), s.RingCapacity)
	if s.LastKeyChange != nil {
		ring += " · key changed " + agoPtr(s.LastKeyChange, now)
	}
	add(ring)
	for _, g := range s.Ring {
		mark := st.Muted.Render("  decrypts ")
		if g.Encrypts {
			mark = st.OK.Bold(true).Render("▶ encrypts ")
		}
		age := "activation unknown"
		if g.Activated != nil {
			age = engine.HumanDuration(now.Sub(*g.Activated)) + " old"
		}
		add(fmt.Sprintf("  %s %-8s %s %s", mark, table.Clean(g.KeyID), st.Muted.Render(keyspane.ShortFingerprint(g.Fingerprint)), age))
	}
	return st.Panel.Width(inner + 2).Render(strings.Join(lines, "\n"))
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func bytes(n uint64) string {
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

func agoPtr(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return engine.HumanDuration(now.Sub(*t)) + " ago"
}
