// Package placeholder is a TUI pane that says what will live there in a later
// release, for tabs whose data the daemon does not serve yet.
package placeholder

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/tui/common"
)

// Model is a pane with a title and a few lines of explanation.
type Model struct {
	ctx           *common.Context
	id            common.PaneID
	title         string
	lines         []string
	width, height int
}

// New returns a placeholder pane.
func New(ctx *common.Context, id common.PaneID, title string, lines ...string) *Model {
	return &Model{ctx: ctx, id: id, title: title, lines: lines}
}

func (m *Model) ID() common.PaneID         { return m.id }
func (m *Model) Title() string             { return m.title }
func (m *Model) Init() tea.Cmd             { return nil }
func (m *Model) Update(tea.Msg) tea.Cmd    { return nil }
func (m *Model) SetSize(w, h int)          { m.width, m.height = w, h }
func (m *Model) ShortHelp() []key.Binding  { return nil }
func (m *Model) FullHelp() [][]key.Binding { return nil }
func (m *Model) Capturing() bool           { return false }
func (m *Model) StatusValue() string       { return "" }

// View centres the explanation in the pane.
func (m *Model) View() string {
	st := m.ctx.Styles
	body := st.Section.Render(m.title) + "\n\n" + st.Placeholder.Render(strings.Join(m.lines, "\n"))
	return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, body)
}
