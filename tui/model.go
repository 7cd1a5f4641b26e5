package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/keyspane"
	"github.com/keyward/keyward/tui/proxypane"
	"github.com/keyward/keyward/tui/reportpane"
	"github.com/keyward/keyward/tui/schedulepane"
	"github.com/keyward/keyward/tui/sourcespane"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// chrome is the number of lines around a pane: tab bar, rule, help, status.
const chrome = 4

// Model is the root bubbletea model: tabs, help, status line and the daemon
// connection. Panes do their own I/O through tea.Cmds.
type Model struct {
	c      *common.Context
	cancel context.CancelFunc
	opts   Options

	panes  []common.Pane
	active int
	help   help.Model

	conn   connection
	status *api.Status
	// panesStarted is set once the panes made their first requests;
	// activatedEarly, that a tab was chosen before.
	panesStarted, activatedEarly bool

	// flash is the last action's result, shown in the status line; log
	// keeps the recent ones for the message log (L).
	flash    common.FlashMsg
	flashSeq int
	log      []logEntry
	// overlay is the help or the message log when open.
	overlay *overlay
	// cmd is the command line (:), open while cmdOpen; back is the stack
	// of panes jumps came from (esc returns).
	cmd     *cmdline
	cmdOpen bool
	// finding: a :key lookup is under way; the keys typed meanwhile are
	// for the key it opens, and wait for it (held).
	finding bool
	held    common.Held
	back    []int
	// busy are the long operations under way (a sync), newest last.
	busy []busyOp
	spin int
}

// flashClear ends a flash unless a newer one replaced it.
type flashClear struct{ seq int }

// How long a flash stays: errors longer, they are what to act on.
const (
	flashFor    = 10 * time.Second
	flashErrFor = 30 * time.Second
)

// New builds the root model. Close (or quitting) cancels its requests and
// the event stream.
func New(ctx context.Context, backend Backend, opts Options) *Model {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	c := &common.Context{
		Ctx:      ctx,
		Backend:  backend,
		Styles:   styles.Default(),
		Keys:     common.DefaultKeyMap(),
		Now:      opts.Now,
		Timeout:  opts.RequestTimeout,
		Debounce: opts.FilterDebounce,
		Title:    opts.Title,
		Socket:   opts.Socket,

		ExportDir:  opts.ExportDir,
		ExportPage: opts.ExportPage,
		Clipboard:  opts.Clipboard,
	}
	c.Keys.SetReadOnly(opts.ReadOnly)
	c.ReadOnly = opts.ReadOnly
	if opts.NoColor {
		c.Styles = styles.NoColor()
	}
	m := &Model{c: c, cancel: cancel, opts: opts, help: help.New()}
	m.help.Styles.ShortKey = c.Styles.HelpKey
	m.help.Styles.ShortDesc = c.Styles.HelpDesc
	m.help.Styles.ShortSeparator = c.Styles.HelpSep
	m.help.Styles.FullKey = c.Styles.HelpKey
	m.help.Styles.FullDesc = c.Styles.HelpDesc
	m.help.Styles.FullSeparator = c.Styles.HelpSep
	m.help.Styles.Ellipsis = c.Styles.HelpSep
	m.panes = []common.Pane{
		keyspane.New(c),
		reportpane.New(c, reportpane.Aging()),
		reportpane.New(c, reportpane.Activity()),
		proxypane.New(c),
		sourcespane.New(c),
		reportpane.New(c, reportpane.Usage()),
		schedulepane.New(c),
	}
	return m
}

// Close ends what the panes have under way (an export's partial file is
// removed) and cancels everything the model started.
func (m *Model) Close() {
	for _, p := range m.panes {
		if c, ok := p.(interface{ Close() }); ok {
			c.Close()
		}
	}
	m.cancel()
}

// Context is the shared context (for tests and embedding).
func (m *Model) Context() *common.Context { return m.c }

// Active is the visible pane.
func (m *Model) Active() common.Pane { return m.panes[m.active] }

// Init starts the event stream. The panes make their first requests once
// its hello has come (see onHello): what they fetch then includes every
// change up to the hello, and every later change comes as a notification,
// so none falls in between. If the stream cannot open they start anyway
// and show why.
func (m *Model) Init() tea.Cmd {
	// The daemon's status comes with the event stream's hello.
	return m.startWatch()
}

// startPanes runs every pane's Init once: their first requests.
func (m *Model) startPanes() tea.Cmd {
	if m.panesStarted {
		return nil
	}
	m.panesStarted = true
	cmds := make([]tea.Cmd, 0, len(m.panes)+1)
	for _, p := range m.panes {
		cmds = append(cmds, p.Init())
	}
	if m.c.Width > 0 {
		// The size came before: the panes size their first page now.
		cmds = append(cmds, m.broadcast(common.ResizedMsg{}))
	}
	if m.activatedEarly {
		// A tab chosen before the hello.
		cmds = append(cmds, m.Active().Update(common.ActivatedMsg{}))
	}
	return tea.Batch(cmds...)
}

type statusMsg struct {
	status *api.Status
	err    error
}

func (m *Model) fetchStatus() tea.Cmd {
	c := m.c
	return func() tea.Msg {
		s, err := common.Get(c, func(ctx context.Context) (*api.Status, error) { return c.Backend.Status(ctx) })
		return statusMsg{status: s, err: err}
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
		m.help.Width = msg.Width
		for _, p := range m.panes {
			p.SetSize(msg.Width, max(1, msg.Height-chrome))
		}
		// A taller pane holds more rows: panes may ask for a page of the
		// new size (once started: their first page waits for the hello).
		if !m.panesStarted {
			return m, nil
		}
		return m, m.broadcast(common.ResizedMsg{})
	case tea.KeyMsg:
		return m, m.onKeys(msg)
	case common.PaneMsg:
		for _, p := range m.panes {
			if p.ID() == msg.Pane {
				return m, p.Update(msg.Msg)
			}
		}
		return m, nil
	case foundMsg:
		m.finding = false
		if f, ok := msg.msg.(common.FlashMsg); ok && f.Err {
			// No key opened: what was typed for it is not run on
			// whatever is on screen.
			if n := m.held.Forget(); n > 0 {
				f.Text += "; " + common.Plural(n, "key") + " typed after it not run"
			}
			_, cmd := m.Update(f)
			return m, cmd
		}
		_, cmd := m.Update(msg.msg)
		return m, tea.Batch(cmd, m.held.Replay(m.onKey, func() bool { return m.finding }))
	case common.OpenKeyMsg:
		// A key opened from elsewhere (a report, the command line): esc
		// on its detail comes back here.
		m.pushBack()
		cmd := m.activate(0)
		return m, tea.Batch(cmd, m.panes[0].Update(msg))
	case common.OpenSourceMsg, common.SourceKeysMsg, common.OpenScheduleMsg:
		// A jump between related things: esc there comes back here.
		to := common.PaneSources
		switch msg.(type) {
		case common.SourceKeysMsg:
			to = common.PaneKeys
		case common.OpenScheduleMsg:
			to = common.PaneSchedules
		}
		for i, p := range m.panes {
			if p.ID() == to {
				m.pushBack()
				return m, tea.Batch(m.activate(i), p.Update(msg))
			}
		}
		return m, nil
	case common.DetailClosedMsg:
		return m, m.goBack()
	case common.FlashMsg:
		m.flash = msg
		m.record(msg)
		m.flashSeq++
		seq, d := m.flashSeq, flashFor
		if msg.Err {
			d = flashErrFor
		}
		return m, tea.Tick(d, func(time.Time) tea.Msg { return flashClear{seq: seq} })
	case common.BusyMsg:
		return m, m.onBusy(msg)
	case busyTick:
		return m, m.onBusyTick()
	case flashClear:
		if msg.seq == m.flashSeq {
			m.flash = common.FlashMsg{}
		}
		return m, nil
	case statusMsg:
		if msg.err == nil && msg.status != nil {
			m.setStatus(msg.status)
			return m, m.broadcast(common.StatusMsg{Status: msg.status})
		}
		return m, nil
	case watchNoteMsg, watchEndedMsg, reconnectMsg:
		return m, m.onWatch(msg)
	}
	// Anything else (cursor blinks, ...) goes to the visible pane.
	return m, m.Active().Update(msg)
}

func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.panes))
	for _, p := range m.panes {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

// onKeys takes one key message, which may carry several runes: keys typed
// in one burst (a fast typist, a key held over SSH, tmux send-keys) or a
// paste arrive together. Where a text input has the focus they are text
// and go to it whole; elsewhere each rune is one key press, handled in
// order, so "jjj" moves three rows and "/acme" opens the filter and types
// "acme" into it.
//
// A paste (bracketed by the terminal) where no text field has the focus is
// ignored, with a word in the status line: pasted text is never run as
// commands.
func (m *Model) onKeys(msg tea.KeyMsg) tea.Cmd {
	if msg.Paste && !m.cmdOpen && m.overlay == nil && !m.Active().Typing() {
		return common.Flash("pasted text ignored: no text field has the focus")
	}
	if msg.Type != tea.KeyRunes || len(msg.Runes) < 2 {
		return m.onKey(msg)
	}
	var cmds []tea.Cmd
	for i, r := range msg.Runes {
		if m.cmdOpen || (m.overlay == nil && m.Active().Typing()) {
			rest := msg
			rest.Runes = msg.Runes[i:]
			cmds = append(cmds, m.onKey(rest))
			break
		}
		one := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt && i == 0}
		if r == ' ' {
			one.Type = tea.KeySpace
		}
		cmds = append(cmds, m.onKey(one))
	}
	return tea.Batch(cmds...)
}

func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if msg.Type == tea.KeyCtrlC {
		m.cancel()
		return tea.Quit
	}
	if m.cmdOpen {
		return m.onCmdKey(msg)
	}
	if m.finding {
		m.held.Hold(msg)
		return nil
	}
	if m.overlay != nil {
		if key.Matches(msg, k.Quit) {
			m.cancel()
			return tea.Quit
		}
		if m.overlay.update(msg, k, max(1, m.c.Height-chrome)) {
			m.overlay = nil
		}
		return nil
	}
	if m.Active().Capturing() {
		return m.Active().Update(msg)
	}
	switch {
	case key.Matches(msg, k.Quit):
		m.cancel()
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.overlay = m.openHelp()
		return nil
	case key.Matches(msg, k.Log):
		m.overlay = m.openLog(m.c.Width)
		return nil
	case key.Matches(msg, k.Command):
		return m.openCmdline()
	case key.Matches(msg, k.NextTab):
		return m.activate((m.active + 1) % len(m.panes))
	case key.Matches(msg, k.PrevTab):
		return m.activate((m.active + len(m.panes) - 1) % len(m.panes))
	case key.Matches(msg, k.GoTab):
		if n := int(msg.String()[0] - '1'); n >= 0 && n < len(m.panes) {
			return m.activate(n)
		}
		return nil
	}
	return m.Active().Update(msg)
}

func (m *Model) activate(i int) tea.Cmd {
	m.active = i
	if !m.panesStarted {
		// Its first request waits for the hello too (startPanes).
		m.activatedEarly = true
		return nil
	}
	return m.Active().Update(common.ActivatedMsg{})
}

// View implements tea.Model.
func (m *Model) View() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	bodyH := max(1, h-chrome)
	var body string
	switch {
	case m.overlay != nil:
		body = m.overlay.view(m.c.Styles, w, bodyH)
	default:
		body = m.Active().View()
	}
	out := []string{m.tabBar(w), m.tabRule(w)}
	out = append(out, fitLines(body, w, bodyH)...)
	// A long status message takes the help line and the pane's last rows.
	bottom := m.statusLines(w)
	if m.cmdOpen {
		bottom = []string{m.cmdlineView(w), m.statusLine(w)}
	}
	if len(bottom) > 2 && h-len(bottom) >= 2 {
		out = out[:h-len(bottom)]
	} else if len(bottom) > 2 {
		bottom = bottom[len(bottom)-2:]
	}
	out = append(out, bottom...)
	return strings.Join(out, "\n")
}

// fitLines cuts or pads s to exactly h lines of exactly w cells.
func fitLines(s string, w, h int) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = table.Fit(l, w)
	}
	return lines
}

type tabSpan struct{ start, width int }

func (m *Model) tabs(w int) (string, []tabSpan) {
	st := m.c.Styles
	// Two spaces between tabs, one when that would not fit in w.
	sep := "  "
	total := ansi.StringWidth(m.c.Title)
	for i, p := range m.panes {
		total += 2 + ansi.StringWidth(fmt.Sprintf("%d %s", i+1, p.Title()))
	}
	if total > w {
		sep = " "
	}
	var b strings.Builder
	b.WriteString(st.Title.Render(m.c.Title))
	pos := ansi.StringWidth(m.c.Title)
	spans := make([]tabSpan, len(m.panes))
	for i, p := range m.panes {
		label := fmt.Sprintf("%d %s", i+1, p.Title())
		b.WriteString(sep)
		pos += len(sep)
		spans[i] = tabSpan{pos, ansi.StringWidth(label)}
		if i == m.active {
			b.WriteString(st.TabActive.Render(label))
		} else {
			b.WriteString(st.TabInactive.Render(label))
		}
		pos += spans[i].width
	}
	return b.String(), spans
}

func (m *Model) tabBar(w int) string {
	s, _ := m.tabs(w)
	return table.Fit(s, w)
}

// tabRule underlines the active tab with a heavy line, so it shows without colour too.
func (m *Model) tabRule(w int) string {
	st := m.c.Styles
	_, spans := m.tabs(w)
	sp := spans[m.active]
	if sp.start >= w {
		return st.TabRule.Render(strings.Repeat("─", w))
	}
	end := min(w, sp.start+sp.width)
	return st.TabRule.Render(strings.Repeat("─", sp.start)) +
		st.TabRuleOn.Render(strings.Repeat("━", end-sp.start)) +
		st.TabRule.Render(strings.Repeat("─", w-end))
}

func (m *Model) helpLine(w int) string {
	k := m.c.Keys
	bindings := append([]key.Binding{}, m.Active().ShortHelp()...)
	if !m.Active().Capturing() {
		bindings = append(bindings, k.NextTab, k.Help, k.Quit)
	}
	if m.overlay != nil {
		bindings = []key.Binding{key.NewBinding(key.WithKeys("esc"), key.WithHelp(m.overlay.close.Help().Key+"/esc", "close")),
			key.NewBinding(key.WithKeys("j"), key.WithHelp("↑/↓ pgup/pgdn g/G", "scroll")), k.Quit}
	}
	m.help.Width = w
	return table.Fit(" "+m.help.ShortHelpView(bindings), w)
}

func (m *Model) statusLine(w int) string {
	st := m.c.Styles
	left := m.conn.describe(m.c, m.status)
	if m.showBusy() && m.conn.state == connConnected {
		left = st.StatusWarn.Render(m.busyText())
	} else if m.flash.Text != "" && m.conn.state == connConnected {
		if m.flash.Err {
			left = st.StatusErr.Render(flashMark(m.flash) + table.Clean(m.flash.Text))
		} else {
			left = st.StatusOK.Render(flashMark(m.flash) + table.Clean(m.flash.Text))
		}
	}
	right := m.statusRight(w)
	return table.Fit(" "+left, w-ansi.StringWidth(right)) + right
}

// statusRight is the pane's summary at the right of the status line, when
// it leaves at least 10 cells for the left.
func (m *Model) statusRight(w int) string {
	right := m.Active().StatusValue()
	if right == "" {
		return ""
	}
	right = " " + m.c.Styles.StatusBar.Render(right) + " "
	if w-ansi.StringWidth(right) < 10 {
		return ""
	}
	return right
}

// setStatus keeps the daemon's status; a caller with the user role gets
// the read-only TUI.
func (m *Model) setStatus(s *api.Status) {
	m.status = s
	ro := m.opts.ReadOnly || s.Caller.Role == api.RoleUser
	m.c.ReadOnly = ro
	m.c.Keys.SetReadOnly(ro)
}

// elapsed is a small helper for the status line.
func elapsed(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}
