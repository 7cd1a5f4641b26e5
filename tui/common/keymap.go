package common

import "github.com/charmbracelet/bubbles/key"

// KeyMap is the one key map of the TUI: handlers, the help line and the help
// overlay all read these bindings, so they can never disagree.
type KeyMap struct {
	// Global.
	Quit    key.Binding
	Help    key.Binding
	NextTab key.Binding
	PrevTab key.Binding
	GoTab   key.Binding

	// Lists and tables.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Home     key.Binding
	Open     key.Binding
	Back     key.Binding

	// Keys pane.
	Filter       key.Binding
	ClearFilter  key.Binding
	ApplyFilter  key.Binding
	Sort         key.Binding
	Reverse      key.Binding
	StateFilter  key.Binding
	SourceFilter key.Binding
	AgingFilter  key.Binding
	Reload       key.Binding

	// Report panes.
	Earlier    key.Binding
	Later      key.Binding
	Wider      key.Binding
	Narrower   key.Binding
	Comparison key.Binding
	Export     key.Binding
}

// DefaultKeyMap returns keyward's bindings.
func DefaultKeyMap() *KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return &KeyMap{
		Quit:    b([]string{"q", "ctrl+c"}, "q", "quit"),
		Help:    b([]string{"?"}, "?", "help"),
		NextTab: b([]string{"tab"}, "tab", "next pane"),
		PrevTab: b([]string{"shift+tab"}, "shift+tab", "previous pane"),
		GoTab:   b([]string{"1", "2", "3", "4", "5", "6"}, "1-6", "go to pane"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+f", " "}, "pgdn", "page down"),
		Home:     b([]string{"home", "g"}, "g", "first page"),
		Open:     b([]string{"enter"}, "enter", "details"),
		Back:     b([]string{"esc", "backspace"}, "esc", "back"),

		Filter:       b([]string{"/"}, "/", "filter"),
		ClearFilter:  b([]string{"esc"}, "esc", "clear filter"),
		ApplyFilter:  b([]string{"enter"}, "enter", "apply filter"),
		Sort:         b([]string{"s"}, "s", "sort by"),
		Reverse:      b([]string{"S"}, "S", "reverse sort"),
		StateFilter:  b([]string{"f"}, "f", "state filter"),
		SourceFilter: b([]string{"o"}, "o", "source filter"),
		AgingFilter:  b([]string{"a"}, "a", "aging filter"),
		Reload:       b([]string{"r", "ctrl+r"}, "r", "reload"),

		Earlier:    b([]string{"["}, "[", "range earlier"),
		Later:      b([]string{"]"}, "]", "range later"),
		Wider:      b([]string{"+", "="}, "+", "wider range"),
		Narrower:   b([]string{"-"}, "-", "narrower range"),
		Comparison: b([]string{"c"}, "c", "only seen in source"),
		Export:     b([]string{"e"}, "e", "export CSV"),
	}
}

// Global is the group shown first in the help overlay.
func (k *KeyMap) Global() []key.Binding {
	return []key.Binding{k.NextTab, k.PrevTab, k.GoTab, k.Help, k.Quit}
}
