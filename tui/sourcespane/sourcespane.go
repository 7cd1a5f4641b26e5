// Package sourcespane is the Sources pane of keyward's TUI: every configured
// source with its health (since when and why it is degraded) and, for KMIP
// sources, the latest poll (the KMS that answered, the KMIP version, what it
// cost and found, the generations a ring could not take) and the
// application rings with their generations.
package sourcespane

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/dialog"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

type sourcesMsg struct {
	seq     int
	sources []api.SourceInfo
	err     error
}

// Model is the Sources pane.
type Model struct {
	ctx *common.Context
	// modal is the confirmation of a KMIP application's rotation (x on a
	// ring's generation).
	modal   dialog.Modal
	vp      viewport.Model
	sources []api.SourceInfo
	loaded  bool
	err     error
	seq     int
	loading bool
	dirty   bool
	// shown turns true when the pane is first opened: until then nothing is
	// fetched, so starting the TUI costs the daemon one page of keys.
	shown  bool
	width  int
	height int

	// role is the caller's role from the daemon's status; cert is the open
	// certificate dialog.
	role    api.Role
	cert    *certFlow
	certSeq int

	// sel is the selected row among items (a source or a ring
	// generation); view is the source opened with enter (or a jump from a
	// key), viewSeq numbers its history requests.
	sel     int
	items   []item
	view    *sourceView
	viewSeq int
}

// New returns the Sources pane.
func New(ctx *common.Context) *Model {
	return &Model{ctx: ctx, vp: common.NewViewport()}
}

// ID implements common.Pane.
func (m *Model) ID() common.PaneID { return common.PaneSources }

// Title implements common.Pane.
func (m *Model) Title() string { return "Sources" }

// Init does nothing: the sources are fetched when the pane is first shown.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.vp.Width, m.vp.Height = w, h
	if m.view != nil {
		m.view.setSize(w, h)
	}
	m.render()
}

// Capturing implements common.Pane.
func (m *Model) Capturing() bool { return m.cert != nil || m.rotating() }

// Typing is true while a certificate form has a field focused.
func (m *Model) Typing() bool { return m.cert != nil && m.cert.Typing() }

func (m *Model) fetch() tea.Cmd {
	if m.loading {
		m.dirty = true
		return nil
	}
	m.loading = true
	m.seq++
	seq, c := m.seq, m.ctx
	return func() tea.Msg {
		srcs, err := common.Get(c, func(ctx context.Context) ([]api.SourceInfo, error) { return c.Backend.Sources(ctx) })
		return common.Reply(common.PaneSources, sourcesMsg{seq: seq, sources: srcs, err: err})
	}
}

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case sourcesMsg:
		if msg.seq != m.seq {
			return nil
		}
		m.loading = false
		m.err = msg.err
		if msg.err == nil {
			m.sources, m.loaded = msg.sources, true
		}
		m.render()
		var cmd tea.Cmd
		if m.cert != nil && m.cert.waiting {
			if msg.err != nil {
				m.cert = nil
				cmd = common.FlashErr("cannot load the sources: " + common.Explain(msg.err))
			} else {
				cmd = m.openCerts()
			}
		}
		if m.dirty {
			m.dirty = false
			return tea.Batch(cmd, m.fetch())
		}
		return cmd
	case certDoneMsg:
		return m.onCertDone(msg)
	case historyMsg:
		if m.view != nil {
			m.view.set(msg)
		}
	case common.OpenSourceMsg:
		// A jump from a key's detail: esc goes back there.
		m.cert = nil
		cmd := m.open(msg.Name, true)
		if !m.shown {
			m.shown = true
			return tea.Batch(cmd, m.fetch())
		}
		return cmd
	case common.StatusMsg:
		if msg.Status != nil {
			m.role = msg.Status.Caller.Role
		}
	case common.ActivatedMsg:
		if !m.shown {
			m.shown = true
			return m.fetch()
		}
	case common.NotificationMsg:
		if msg.Type == api.NoteHello && msg.Status != nil {
			m.role = msg.Status.Caller.Role
		}
		// Health changes, and key changes move the per-source counts and
		// rings; a ring can change without a key's row (a generation the
		// ring refused before joins it): a ring notice says so.
		if m.shown && (msg.Type == api.NoteSources || msg.Type == api.NoteKeys || msg.Type == api.NoteRing) {
			// An open source's health history grows with its health.
			if m.view != nil && msg.Type == api.NoteSources && (msg.Source == "" || msg.Source == m.view.name) {
				return tea.Batch(m.fetch(), m.view.fetch())
			}
			return m.fetch()
		}
	case common.RefreshMsg:
		if m.shown && (!msg.OnlyFailed || m.err != nil || !m.loaded) {
			return m.fetch()
		}
	case rotateDoneMsg:
		return m.onRotateDone(msg)
	case tea.KeyMsg:
		if m.rotating() {
			return m.updateRotate(msg)
		}
		if m.cert != nil {
			return m.updateCert(msg)
		}
		if m.view != nil {
			cmd, closed := m.view.update(msg)
			if closed {
				m.view = nil
			}
			return cmd
		}
		k := m.ctx.Keys
		switch {
		case key.Matches(msg, k.Certs):
			return m.openCerts()
		case key.Matches(msg, k.Open):
			return m.openSelected()
		case key.Matches(msg, k.Reload):
			return m.fetch()
		case key.Matches(msg, k.SyncSource), key.Matches(msg, k.SyncAll):
			return m.syncSelected()
		case key.Matches(msg, k.Actions):
			return m.confirmRotate()
		default:
			m.move(msg)
		}
	default:
		if m.cert != nil {
			return m.updateCert(msg)
		}
	}
	return nil
}

// move moves the selection: j/k a row, g/G the first and last; the page
// keys scroll and select the first row on screen.
func (m *Model) move(msg tea.KeyMsg) {
	k := m.ctx.Keys
	n := len(m.items)
	if n == 0 {
		k.Scroll(&m.vp, msg)
		return
	}
	switch {
	case key.Matches(msg, k.Down):
		m.sel = min(n-1, m.sel+1)
	case key.Matches(msg, k.Up):
		m.sel = max(0, m.sel-1)
	case key.Matches(msg, k.Home):
		m.sel = 0
	case key.Matches(msg, k.End):
		m.sel = n - 1
	default:
		if !k.Scroll(&m.vp, msg) {
			return
		}
		for i, it := range m.items {
			if it.line >= m.vp.YOffset {
				m.sel = i
				break
			}
		}
		if m.sel == 0 {
			// The first row keeps its header on screen.
			m.vp.SetYOffset(0)
		}
	}
	m.render()
}

// openSelected opens the selected source, or the key of the selected ring
// generation.
func (m *Model) openSelected() tea.Cmd {
	if m.sel >= len(m.items) {
		return nil
	}
	it := m.items[m.sel]
	if it.gen != nil {
		return common.FindKey(m.ctx, it.source, it.gen.Name, it.gen.Fingerprint)
	}
	return m.open(it.source, false)
}

// syncSelected answers y and Y on a schedule's health row: a schedule does
// not sync, it runs; its row leads to it in the Schedules pane, where R
// runs it after asking. On a source's row the keys pane syncs (y there).
func (m *Model) syncSelected() tea.Cmd {
	if m.sel >= len(m.items) || m.items[m.sel].gen != nil {
		return nil
	}
	s := m.source(m.items[m.sel].source)
	if s == nil {
		return nil
	}
	name, ok := common.ScheduleOfRow(s.Source)
	if !ok {
		return common.Flash("sync " + table.Clean(s.Name) + " from the Keys pane (y), or keyward sync --source " + table.Clean(s.Name))
	}
	return tea.Batch(common.OpenSchedule(name),
		common.Flash("schedule "+table.Clean(name)+" does not sync: R runs it now (after asking), or keyward schedule run "+table.Clean(name)))
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding {
	k := m.ctx.Keys
	if m.cert != nil {
		return m.cert.Help(k)
	}
	if m.rotating() {
		return []key.Binding{k.Confirm, k.Cancel}
	}
	if m.view != nil {
		return []key.Binding{k.Back, k.GoKeys, k.Up, k.Down, k.Reload}
	}
	open := k.Open
	if m.sel < len(m.items) && m.items[m.sel].gen != nil {
		open = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open its key"))
		if !m.ctx.ReadOnly && m.role != api.RoleUser {
			// The key map's Actions key, which on a ring's generation
			// rotates its application.
			rotate := key.NewBinding(key.WithKeys(k.Actions.Keys()...), key.WithHelp(k.Actions.Help().Key, "rotate the application"))
			return []key.Binding{open, rotate, k.Up, k.Down, k.Reload}
		}
	}
	if len(m.kmipSources()) > 0 {
		return []key.Binding{open, k.Up, k.Down, k.Reload, k.Certs}
	}
	return []key.Binding{open, k.Up, k.Down, k.Reload}
}

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown, k.Home, k.End, k.Open, k.Back, k.GoKeys, k.Reload},
		{k.Certs, k.CertShow, k.CertCSR, k.CertInstall, k.CertImport}}
}

// StatusValue implements common.Pane: how many sources (and schedules,
// whose health rows the list shows too) and how many are degraded.
func (m *Model) StatusValue() string {
	if !m.loaded {
		return ""
	}
	bad, schedules := 0, 0
	for _, s := range m.sources {
		if s.Health == engine.HealthDegraded {
			bad++
		}
		if s.Kind == api.ScheduleSourceKind {
			schedules++
		}
	}
	n := common.Plural(len(m.sources)-schedules, "source")
	if schedules > 0 {
		n += ", " + common.Plural(schedules, "schedule")
	}
	if bad == 0 {
		return n + ", all ok"
	}
	return fmt.Sprintf("%s, %d degraded", n, bad)
}

func (m *Model) render() {
	// The selection stays on its source or generation when the rows
	// move (a rotation puts a new generation above it).
	if m.sel < len(m.items) {
		was := m.items[m.sel].id()
		_, items := build(m.sources, m.loaded, m.err, m.width, m.ctx.Now(), m.ctx.Styles, -1)
		for i, it := range items {
			if it.id() == was {
				m.sel = i
				break
			}
		}
	}
	content, items := build(m.sources, m.loaded, m.err, m.width, m.ctx.Now(), m.ctx.Styles, m.sel)
	m.items = items
	if m.sel >= len(items) && len(items) > 0 {
		m.sel = len(items) - 1
		content, _ = build(m.sources, m.loaded, m.err, m.width, m.ctx.Now(), m.ctx.Styles, m.sel)
	}
	m.vp.SetContent(content)
	// The selected row stays on screen.
	if m.sel < len(items) {
		l := items[m.sel].line
		if l < m.vp.YOffset {
			m.vp.SetYOffset(l)
		} else if h := max(1, m.vp.Height); l >= m.vp.YOffset+h {
			m.vp.SetYOffset(l - h + 1)
		}
	}
	if m.view != nil {
		m.view.setSource(m.source(m.view.name))
	}
}

// source is the source named name, nil when there is none.
func (m *Model) source(name string) *api.SourceInfo {
	for i := range m.sources {
		if m.sources[i].Name == name {
			return &m.sources[i]
		}
	}
	return nil
}

// View implements common.Pane.
func (m *Model) View() string {
	if m.rotating() {
		return m.modal.View(m.ctx.Styles, m.ctx.Keys, m.width, m.height)
	}
	if m.cert != nil {
		return m.certView()
	}
	if m.view != nil {
		return m.view.viewString()
	}
	return m.vp.View()
}

// item is a selectable row: a source, or a generation of its ring.
type item struct {
	source string
	gen    *api.GenerationInfo
	app    string // the ring's application (generation rows)
	line   int
}

// id names the row's source or generation whatever its place.
func (it item) id() string {
	if it.gen == nil {
		return it.source
	}
	return it.source + "\x00" + it.app + "\x00" + it.gen.Name + "\x00" + it.gen.KeyID
}

// Render draws the sources as text lines of the given width. It is a plain
// function so it can be tested and reused without a UI.
func Render(srcs []api.SourceInfo, loaded bool, err error, width int, now time.Time, st *styles.Styles) string {
	s, _ := build(srcs, loaded, err, width, now, st, -1)
	return s
}

// build is Render with the row sel selected (-1: none), and the rows that
// can be selected.
func build(srcs []api.SourceInfo, loaded bool, err error, width int, now time.Time, st *styles.Styles, sel int) (string, []item) {
	var lines []string
	var items []item
	selectable := func(it item) bool {
		it.line = len(lines)
		items = append(items, it)
		return sel == len(items)-1
	}
	add := func(s string) { lines = append(lines, table.Fit(s, width)) }
	if err != nil {
		add(st.Error.Render("  cannot load sources: " + err.Error()))
		add(st.Muted.Render("  press r to retry; keyward retries by itself when the daemon is back"))
		if !loaded {
			return strings.Join(lines, "\n"), nil
		}
		add("")
	}
	if !loaded {
		return st.Placeholder.Render("  loading sources…"), nil
	}
	if len(srcs) == 0 {
		return st.Placeholder.Render("  no sources: add [[kmip]], [[azure]], [[aws]] or [[gcp]] to keyward.toml"), nil
	}
	tbl := table.Table{Columns: render.SourceColumnsFor(srcs), Header: st.Header, Row: st.Row, Selected: st.RowSelected}
	tbl.SetWidth(width)
	lines = append(lines, tbl.HeaderView())
	for _, s := range srcs {
		on := selectable(item{source: s.Name})
		lines = append(lines, tbl.RowView(st.Cells(render.Source(s, now)), on))
		if s.Health == engine.HealthDegraded {
			why := "degraded"
			if s.Since != nil {
				why += " since " + s.Since.UTC().Format("2006-01-02 15:04 UTC") + " (" + render.Ago(s.Since, now) + ")"
			}
			if s.Reason != "" {
				why += ": " + table.Clean(s.Reason)
			}
			// The reason is what the administrator acts on: wrap it, never cut it.
			for _, l := range table.Wrap(why, max(20, width-6)) {
				add(st.Danger.Render("    " + l))
			}
		}
		if s.Poll != nil {
			reason := ""
			if s.Health == engine.HealthDegraded {
				reason = s.Reason
			}
			pollLines(s.Poll, reason, max(20, width-6), st, func(l string) { add("    " + l) })
		}
		// The identity presented to the KMS, a key waiting for its
		// certificate, weaker cipher suites: wrapped, never cut.
		for i, l := range s.Client.Lines() {
			style := st.Muted
			if strings.HasPrefix(l, "warning: ") || i == 0 && s.Client.Identity != nil && s.Client.Identity.Error != "" {
				style = st.Warn
			}
			for _, w := range table.Wrap(table.Clean(l), max(20, width-6)) {
				add(style.Render("    " + w))
			}
		}
	}
	for _, s := range srcs {
		for _, r := range s.Rings {
			add("")
			head := fmt.Sprintf("  Ring %s · source %s · %d of %s", table.Clean(r.Application), table.Clean(s.Name), len(r.Generations), common.Plural(r.Capacity, "generation"))
			if r.LastChange != nil {
				head += " · changed " + render.Ago(r.LastChange, now)
			}
			add(st.Section.Render(head))
			gt := table.Table{Columns: render.GenerationColumns(), Header: st.Header, Row: st.Row, Selected: st.RowSelected}
			gt.SetWidth(width)
			lines = append(lines, gt.HeaderView())
			for _, g := range r.Generations {
				on := selectable(item{source: s.Name, gen: &g, app: r.Application})
				outNext := r.NextOut != nil && g.Name == r.NextOut.Name
				lines = append(lines, gt.RowView(st.Cells(render.Generation(g, outNext, now)), on))
			}
			if r.NextOut != nil {
				style := st.Muted
				if r.NextOut.Decrypts > 0 {
					style = st.Warn
				}
				for _, l := range table.Wrap(r.NextOut.Summary(r.Application), max(20, width-4)) {
					add(style.Render("  " + table.Clean(l)))
				}
			}
		}
	}
	return strings.Join(lines, "\n"), items
}

// maxLeftOut is how many of a poll's left-out generations are listed; the
// rest are counted (the health reason names them all).
const maxLeftOut = 5

// pollLines describes a KMIP source's latest poll in lines of at most width
// cells: the KMS that answered and the KMIP version, what the poll cost and
// found, and where names are matched, packed into as few lines as fit (two
// at 80 columns); then why it failed, unless the health reason shown above
// already says it; then the generations a ring could not take, which are
// why the source is degraded.
func pollLines(p *api.KMIPPoll, reason string, width int, st *styles.Styles, add func(string)) {
	where := "not connected"
	if p.Protocol != "" {
		where = "KMIP " + table.Clean(p.Protocol)
		if p.Address != "" {
			where += " at " + table.Clean(p.Address)
		}
	}
	parts := []string{
		where,
		fmt.Sprintf("last poll %s: %s, %s", p.Duration.Round(time.Millisecond), common.Plural(p.Requests, "request"), common.Plural(p.Gets, "Get")),
		fmt.Sprintf("%s matched, %d new, %d dropped", common.Plural(p.Matched, "key"), p.Added, p.Dropped),
	}
	if r := p.RelocatesNote(); r != "" {
		parts = append(parts, r)
	}
	if m := p.WildcardMode(); m != "" {
		parts = append(parts, m)
	}
	for _, l := range pack(parts, " · ", width) {
		add(st.Muted.Render(l))
	}
	// A failover is told, not hidden by the address that answered.
	for _, f := range p.FailedAddresses {
		for _, l := range table.Wrap("failed first: "+table.Clean(f), width) {
			add(st.Warn.Render(l))
		}
	}
	if p.Err != "" && p.Err != reason {
		for _, l := range table.Wrap("last poll failed: "+table.Clean(p.Err), width) {
			add(st.Danger.Render(l))
		}
	}
	if len(p.LeftOut) == 0 {
		return
	}
	add(st.Warn.Render(fmt.Sprintf("%s a ring could not take:", common.Plural(len(p.LeftOut), "generation"))))
	for i, lo := range p.LeftOut {
		if i == maxLeftOut {
			add(st.Warn.Render(fmt.Sprintf("  … and %d more", len(p.LeftOut)-maxLeftOut)))
			break
		}
		for j, l := range table.Wrap(table.Clean(lo), max(10, width-4)) {
			lead := "  · "
			if j > 0 {
				lead = "    "
			}
			add(st.Warn.Render(lead + l))
		}
	}
}

// pack joins parts with sep into lines of at most width cells, starting a
// new line between parts when the next does not fit; a part wider than a
// line is wrapped at spaces.
func pack(parts []string, sep string, width int) []string {
	var lines []string
	line := ""
	for _, p := range parts {
		switch {
		case line == "":
			line = p
		case ansi.StringWidth(line+sep+p) <= width:
			line += sep + p
		default:
			lines = append(lines, line)
			line = p
		}
		if ansi.StringWidth(line) > width {
			w := table.Wrap(line, width)
			lines = append(lines, w[:len(w)-1]...)
			line = w[len(w)-1]
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
