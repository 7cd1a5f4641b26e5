// Package sourcespane is the Sources pane of keyward's TUI: every configured
// source with its health (since when and why it is degraded) and, for KMIP
// sources, the application rings with their generations.
package sourcespane

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/keyspane"
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
	ctx     *common.Context
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
	m.render()
}

// Capturing implements common.Pane.
func (m *Model) Capturing() bool { return m.cert != nil }

func (m *Model) fetch() tea.Cmd {
	if m.loading {
		m.dirty = true
		return nil
	}
	m.loading = true
	m.seq++
	seq, c := m.seq, m.ctx
	return func() tea.Msg {
		var srcs []api.SourceInfo
		err := c.Call(func(ctx context.Context) (err error) {
			srcs, err = c.Backend.Sources(ctx)
			return err
		})
		return common.Reply(common.PaneSources, sourcesMsg{seq: seq, sources: srcs, err: err})
	}
}

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.PaneMsg:
		return m.Update(msg.Msg)
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
		// Health changes, and key changes move the per-source counts and rings.
		if m.shown && (msg.Type == api.NoteSources || msg.Type == api.NoteKeys) {
			return m.fetch()
		}
	case common.RefreshMsg:
		if m.shown && (!msg.OnlyFailed || m.err != nil || !m.loaded) {
			return m.fetch()
		}
	case tea.KeyMsg:
		if m.cert != nil {
			return m.updateCert(msg)
		}
		k := m.ctx.Keys
		switch {
		case key.Matches(msg, k.Certs):
			return m.openCerts()
		case k.Scroll(&m.vp, msg):
		case key.Matches(msg, k.Reload):
			return m.fetch()
		}
	default:
		if m.cert != nil {
			return m.updateCert(msg)
		}
	}
	return nil
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding {
	k := m.ctx.Keys
	if m.cert != nil {
		return m.certHelp()
	}
	if len(m.kmipSources()) > 0 {
		return []key.Binding{k.Up, k.Down, k.Reload, k.Certs}
	}
	return []key.Binding{k.Up, k.Down, k.Reload}
}

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.Reload},
		{k.Certs, k.CertShow, k.CertCSR, k.CertInstall, k.CertImport}}
}

// StatusValue implements common.Pane: how many sources are degraded.
func (m *Model) StatusValue() string {
	if !m.loaded {
		return ""
	}
	bad := 0
	for _, s := range m.sources {
		if s.Health == engine.HealthDegraded {
			bad++
		}
	}
	n := fmt.Sprintf("%d sources", len(m.sources))
	if len(m.sources) == 1 {
		n = "1 source"
	}
	if bad == 0 {
		return n + ", all ok"
	}
	return fmt.Sprintf("%s, %d degraded", n, bad)
}

func (m *Model) render() {
	m.vp.SetContent(Render(m.sources, m.loaded, m.err, m.width, m.ctx.Now(), m.ctx.Styles))
}

// View implements common.Pane.
func (m *Model) View() string {
	if m.cert != nil {
		return m.certView()
	}
	return m.vp.View()
}

// HealthLabel is the colour-independent word for a source's health.
func HealthLabel(h engine.Health) string {
	switch h {
	case engine.HealthOK:
		return "● ok"
	case engine.HealthDegraded:
		return "✖ DEGRADED"
	}
	return "? unknown"
}

// Render draws the sources as text lines of the given width. It is a plain
// function so it can be tested and reused without a UI.
func Render(srcs []api.SourceInfo, loaded bool, err error, width int, now time.Time, st *styles.Styles) string {
	var lines []string
	add := func(s string) { lines = append(lines, table.Fit(s, width)) }
	if err != nil {
		add(st.Error.Render("  cannot load sources: " + err.Error()))
		add(st.Muted.Render("  press r to retry; keyward retries by itself when the daemon is back"))
		if !loaded {
			return strings.Join(lines, "\n")
		}
		add("")
	}
	if !loaded {
		return st.Placeholder.Render("  loading sources…")
	}
	if len(srcs) == 0 {
		return st.Placeholder.Render("  no sources configured (add [[kmip]] or [[azure]] sections to keyward.toml)")
	}
	tbl := table.Table{Columns: []table.Column{
		{Title: "SOURCE", Width: 10, Max: 24, Priority: 0},
		{Title: "KIND", Width: 6, Max: 10, Priority: 3},
		{Title: "HEALTH", Width: 10, Priority: 1},
		{Title: "KEYS", Width: 6, Priority: 2, Right: true},
		{Title: "LAST SYNC", Width: 9, Priority: 4},
		{Title: "ADDRESS", Width: 14, Max: 40, Priority: 5},
	}, Header: st.Header, Row: st.Row, Selected: st.Row}
	tbl.SetWidth(width)
	lines = append(lines, tbl.HeaderView())
	for _, s := range srcs {
		lines = append(lines, tbl.RowView([]table.Cell{
			table.Plain(s.Name),
			table.Plain(s.Kind),
			table.Styled(HealthLabel(s.Health), st.Health(s.Health)),
			table.Plain(fmt.Sprint(s.Keys)),
			table.Plain(ago(s.LastSync, now)),
			table.Styled(s.Address, st.Muted),
		}, false))
		if s.Health == engine.HealthDegraded {
			why := "degraded"
			if s.Since != nil {
				why += " since " + s.Since.UTC().Format("2006-01-02 15:04 UTC") + " (" + ago(s.Since, now) + ")"
			}
			if s.Reason != "" {
				why += ": " + table.Clean(s.Reason)
			}
			// The reason is what the administrator acts on: wrap it, never cut it.
			for _, l := range table.Wrap(why, max(20, width-6)) {
				add(st.Danger.Render("    " + l))
			}
		}
	}
	for _, s := range srcs {
		for _, r := range s.Rings {
			add("")
			head := fmt.Sprintf("  Ring %s · source %s · %d of %d generations", table.Clean(r.Application), table.Clean(s.Name), len(r.Generations), r.Capacity)
			if r.LastChange != nil {
				head += " · changed " + ago(r.LastChange, now)
			}
			add(st.Section.Render(head))
			gt := table.Table{Columns: []table.Column{
				{Title: "", Width: 10, Priority: 0},
				{Title: "GENERATION", Width: 14, Max: 32, Priority: 0},
				{Title: "KEY ID", Width: 8, Max: 10, Priority: 2},
				{Title: "FINGERPRINT", Width: 12, Max: 24, Priority: 1},
				{Title: "STATE", Width: 11, Priority: 1},
				{Title: "AGE", Width: 7, Priority: 3},
			}, Header: st.Header, Row: st.Row, Selected: st.Row}
			gt.SetWidth(width)
			lines = append(lines, gt.HeaderView())
			for _, g := range r.Generations {
				role := table.Styled("decrypts", st.Muted)
				if g.Encrypts {
					role = table.Styled("▶ encrypts", st.OK.Bold(true))
				}
				born := g.Activated
				if born == nil {
					born = g.Created
				}
				age := "—"
				if born != nil {
					age = engine.HumanDuration(now.Sub(*born))
				}
				lines = append(lines, gt.RowView([]table.Cell{
					role,
					table.Plain(g.Name),
					table.Plain(g.KeyID),
					table.Styled(keyspane.ShortFingerprint(g.Fingerprint), st.Muted),
					table.Styled(string(g.State), st.State(g.State)),
					table.Plain(age),
				}, false))
			}
		}
	}
	return strings.Join(lines, "\n")
}

func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	d := now.Sub(*t)
	if d < 0 {
		return "in " + engine.HumanDuration(d)
	}
	return engine.HumanDuration(d) + " ago"
}
