package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// overlay is a box over the pane that scrolls: the help, the message log.
type overlay struct {
	title string
	lines []string
	top   int
	// close is the key that opened it and closes it again (besides esc).
	close key.Binding
}

// window is how many lines of the overlay's text fit in a body of height h:
// the box's border, its title and the blank line under it, and the line
// that says where the window is.
func window(h int) int { return max(1, h-5) }

// update scrolls the overlay; it reports whether the overlay is closed.
func (o *overlay) update(msg tea.KeyMsg, k *common.KeyMap, h int) (closed bool) {
	win := window(h)
	last := max(0, len(o.lines)-win)
	switch {
	case key.Matches(msg, o.close), msg.Type == tea.KeyEsc:
		return true
	case key.Matches(msg, k.Down):
		o.top++
	case key.Matches(msg, k.Up):
		o.top--
	case key.Matches(msg, k.PageDown), key.Matches(msg, k.HalfDown):
		o.top += win
	case key.Matches(msg, k.PageUp), key.Matches(msg, k.HalfUp):
		o.top -= win
	case key.Matches(msg, k.Home):
		o.top = 0
	case key.Matches(msg, k.End):
		o.top = last
	}
	o.top = max(0, min(o.top, last))
	return false
}

// view draws the overlay in a box of w×h.
func (o *overlay) view(st *styles.Styles, w, h int) string {
	inner := max(1, w-4) // border and padding
	win := window(h)
	o.top = max(0, min(o.top, len(o.lines)-win))
	end := min(len(o.lines), o.top+win)
	body := []string{table.Fit(st.Section.Render(o.title), inner), ""}
	for _, l := range o.lines[o.top:end] {
		body = append(body, table.Fit(l, inner))
	}
	for len(body) < win+2 {
		body = append(body, strings.Repeat(" ", inner))
	}
	where := "all shown"
	if len(o.lines) > win {
		where = fmt.Sprintf("lines %d–%d of %d · ↑/↓ pgup/pgdn g/G scroll", o.top+1, end, len(o.lines))
	}
	body = append(body, table.Fit(st.Muted.Render(where+" · esc closes"), inner))
	return st.Panel.Render(strings.Join(body, "\n"))
}

// openHelp lists every binding of the visible pane first, then the keys
// that work everywhere, one per line so that none is cut at 80 columns;
// the overlay scrolls.
func (m *Model) openHelp() *overlay {
	st := m.c.Styles
	o := &overlay{title: "Help — " + m.Active().Title() + " pane", close: m.c.Keys.Help}
	var pane []key.Binding
	for _, g := range m.Active().FullHelp() {
		pane = append(pane, g...)
	}
	section := func(title string, bs []key.Binding) {
		keyW := 0
		for _, b := range bs {
			keyW = max(keyW, ansi.StringWidth(b.Help().Key))
		}
		o.lines = append(o.lines, st.Bold.Render(title))
		for _, b := range bs {
			if !b.Enabled() {
				continue
			}
			h := b.Help()
			o.lines = append(o.lines, "  "+st.HelpKey.Render(table.Fit(h.Key, keyW))+"  "+st.HelpDesc.Render(h.Desc))
		}
	}
	section(m.Active().Title()+" pane", pane)
	o.lines = append(o.lines, "")
	section("Everywhere", m.c.Keys.Global())
	return o
}
