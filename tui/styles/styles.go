// Package styles holds every colour and style of keyward's TUI, built from one
// theme of adaptive (light/dark) colours, so components only use named styles.
package styles

import (
	"strings"

	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

// Theme is the palette. Every colour adapts to light and dark terminals.
type Theme struct {
	Text      lipgloss.AdaptiveColor
	Muted     lipgloss.AdaptiveColor
	Primary   lipgloss.AdaptiveColor
	Border    lipgloss.AdaptiveColor
	Selection lipgloss.AdaptiveColor
	OK        lipgloss.AdaptiveColor
	Info      lipgloss.AdaptiveColor
	Warn      lipgloss.AdaptiveColor
	Danger    lipgloss.AdaptiveColor
	Retired   lipgloss.AdaptiveColor
}

// DefaultTheme is keyward's palette.
func DefaultTheme() Theme {
	return Theme{
		Text:      lipgloss.AdaptiveColor{Light: "#1F2328", Dark: "#E6EDF3"},
		Muted:     lipgloss.AdaptiveColor{Light: "#6E7781", Dark: "#8B949E"},
		Primary:   lipgloss.AdaptiveColor{Light: "#0969DA", Dark: "#58A6FF"},
		Border:    lipgloss.AdaptiveColor{Light: "#D0D7DE", Dark: "#30363D"},
		Selection: lipgloss.AdaptiveColor{Light: "#DDF4FF", Dark: "#1F3A5F"},
		OK:        lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"},
		Info:      lipgloss.AdaptiveColor{Light: "#0550AE", Dark: "#79C0FF"},
		Warn:      lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#D29922"},
		Danger:    lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#F85149"},
		Retired:   lipgloss.AdaptiveColor{Light: "#8C959F", Dark: "#6E7681"},
	}
}

// Styles are the named styles components draw with.
type Styles struct {
	Theme Theme

	Title       lipgloss.Style // application title in the tab bar
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	TabRule     lipgloss.Style // the line under the tabs
	TabRuleOn   lipgloss.Style // the part of that line under the active tab

	Header      lipgloss.Style // table header
	Row         lipgloss.Style
	RowSelected lipgloss.Style
	Muted       lipgloss.Style
	Bold        lipgloss.Style
	Label       lipgloss.Style // "name:" in detail views
	Section     lipgloss.Style // section headings in a pane
	Error       lipgloss.Style
	Placeholder lipgloss.Style
	Panel       lipgloss.Style // bordered box (proxy panels, help overlay)
	FilterBar   lipgloss.Style

	StatusBar  lipgloss.Style
	StatusOK   lipgloss.Style
	StatusWarn lipgloss.Style
	StatusErr  lipgloss.Style

	HelpKey  lipgloss.Style
	HelpDesc lipgloss.Style
	HelpSep  lipgloss.Style

	OK     lipgloss.Style
	Warn   lipgloss.Style
	Danger lipgloss.Style
	Info   lipgloss.Style
}

// New builds the styles from a theme.
func New(t Theme) *Styles {
	s := &Styles{Theme: t}
	base := lipgloss.NewStyle().Foreground(t.Text)
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(t.Primary)
	s.TabActive = lipgloss.NewStyle().Bold(true).Foreground(t.Primary)
	s.TabInactive = lipgloss.NewStyle().Foreground(t.Muted)
	s.TabRule = lipgloss.NewStyle().Foreground(t.Border)
	s.TabRuleOn = lipgloss.NewStyle().Foreground(t.Primary)
	s.Header = lipgloss.NewStyle().Bold(true).Foreground(t.Muted)
	s.Row = base
	s.RowSelected = lipgloss.NewStyle().Bold(true).Foreground(t.Text).Background(t.Selection)
	s.Muted = lipgloss.NewStyle().Foreground(t.Muted)
	s.Bold = base.Bold(true)
	s.Label = lipgloss.NewStyle().Foreground(t.Muted)
	s.Section = lipgloss.NewStyle().Bold(true).Foreground(t.Primary)
	s.Error = lipgloss.NewStyle().Foreground(t.Danger)
	s.Placeholder = lipgloss.NewStyle().Foreground(t.Muted).Italic(true)
	s.Panel = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(t.Border).Padding(0, 1)
	s.FilterBar = lipgloss.NewStyle().Foreground(t.Muted)
	s.StatusBar = lipgloss.NewStyle().Foreground(t.Muted)
	s.StatusOK = lipgloss.NewStyle().Foreground(t.OK)
	s.StatusWarn = lipgloss.NewStyle().Foreground(t.Warn).Bold(true)
	s.StatusErr = lipgloss.NewStyle().Foreground(t.Danger).Bold(true)
	s.HelpKey = lipgloss.NewStyle().Foreground(t.Primary)
	s.HelpDesc = lipgloss.NewStyle().Foreground(t.Muted)
	s.HelpSep = lipgloss.NewStyle().Foreground(t.Border)
	s.OK = lipgloss.NewStyle().Foreground(t.OK)
	s.Warn = lipgloss.NewStyle().Foreground(t.Warn)
	s.Danger = lipgloss.NewStyle().Foreground(t.Danger)
	s.Info = lipgloss.NewStyle().Foreground(t.Info)
	return s
}

// Default is New(DefaultTheme()).
func Default() *Styles { return New(DefaultTheme()) }

// NoColor is the style set for NO_COLOR: no colour at all, and what colour
// would have shown is carried by attributes (bold, underline, reverse,
// italic) instead: the selected row and the text cursor are reversed, the
// active tab and section titles underlined. Panes also draw markers (›, ▸)
// so focus and selection read even where no attribute shows.
func NoColor() *Styles {
	s := New(Theme{})
	plain := lipgloss.NewStyle()
	s.Title = plain.Bold(true)
	s.TabActive = plain.Bold(true).Underline(true)
	s.TabInactive = plain
	s.TabRule, s.TabRuleOn = plain, plain.Bold(true)
	s.Header = plain.Bold(true)
	s.Row = plain
	s.RowSelected = plain.Reverse(true)
	s.Muted = plain.Faint(true)
	s.Bold = plain.Bold(true)
	s.Label = plain
	s.Section = plain.Bold(true).Underline(true)
	s.Error = plain.Bold(true)
	s.Placeholder = plain.Italic(true).Faint(true)
	s.Panel = plain.Border(lipgloss.RoundedBorder()).Padding(0, 1)
	s.FilterBar, s.StatusBar = plain, plain
	s.StatusOK, s.StatusWarn, s.StatusErr = plain, plain.Bold(true), plain.Bold(true).Reverse(true)
	s.HelpKey, s.HelpDesc, s.HelpSep = plain.Bold(true), plain, plain.Faint(true)
	s.OK, s.Warn, s.Info = plain, plain, plain
	s.Danger = plain.Bold(true)
	return s
}

// Bucket is the style of an aging bucket. The bucket's name is always printed
// too, so the aging stays readable with NO_COLOR.
func (s *Styles) Bucket(b engine.Bucket) lipgloss.Style {
	switch {
	case b == engine.BucketExpired:
		return s.Danger.Bold(true)
	case strings.HasPrefix(string(b), "expiring-"):
		if b == engine.ExpiringBucket(7) {
			return s.Danger
		}
		return s.Warn
	case b == engine.BucketOverdue:
		return s.Warn
	case b == engine.BucketHealthy:
		return s.OK
	case b == engine.BucketRetired:
		return lipgloss.NewStyle().Foreground(s.Theme.Retired)
	}
	return s.Row
}

// State is the style of a key state.
func (s *Styles) State(st engine.State) lipgloss.Style {
	switch st {
	case engine.StateActive:
		return s.OK
	case engine.StatePreActive:
		return s.Info
	case engine.StateDisabled, engine.StateDeactivated, engine.StateDeleted:
		return s.Warn
	case engine.StateCompromised:
		return s.Danger.Bold(true)
	case engine.StateDestroyed, engine.StatePurged:
		return lipgloss.NewStyle().Foreground(s.Theme.Retired)
	}
	return s.Row
}

// Health is the style of a source's health.
func (s *Styles) Health(h engine.Health) lipgloss.Style {
	switch h {
	case engine.HealthOK:
		return s.OK
	case engine.HealthDegraded:
		return s.Danger.Bold(true)
	}
	return s.Muted
}

// Class is the style of a render class (a cell's or a row's, see
// tui/render); ok is false for a class drawn in the row's style.
func (s *Styles) Class(c string) (st lipgloss.Style, ok bool) {
	kind, v, _ := strings.Cut(c, ":")
	switch kind {
	case "state":
		return s.State(engine.State(v)), true
	case "bucket":
		return s.Bucket(engine.Bucket(v)), true
	case "health":
		return s.Health(engine.Health(v)), true
	case render.ClassMuted:
		return s.Muted, true
	case render.ClassWarn:
		return s.Warn, true
	case render.ClassEncrypts:
		return s.OK.Bold(true), true
	}
	return lipgloss.Style{}, false
}

// Cells are r's cells for a table.Table, each drawn in its class's style.
func (s *Styles) Cells(r render.Row) []table.Cell {
	out := make([]table.Cell, len(r.Cells))
	for i, text := range r.Cells {
		out[i] = table.Plain(text)
		if i < len(r.Classes) {
			if st, ok := s.Class(r.Classes[i]); ok {
				out[i] = table.Styled(text, st)
			}
		}
	}
	return out
}
