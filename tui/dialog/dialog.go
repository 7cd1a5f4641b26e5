// Package dialog is the modal layer of keyward's TUI: an action menu, a
// confirmation (optionally asking for a name to be typed again), a form of
// text fields, and a message box, each drawn as a bordered box over a pane
// and driven only by the shared key map.
package dialog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// Outcome is what a key press did to a dialog.
type Outcome int

// Outcomes.
const (
	None   Outcome = iota // still open
	Cancel                // the user closed it
	Submit                // the user chose, confirmed or submitted
)

// Status is what every dialog shows under its body: a request in flight or
// the reason the last one failed.
type Status struct {
	Busy string
	Err  string
}

// closing is what key press km does to a dialog before its own keys: Cancel
// closes it, and while its request is in flight nothing else works. done is
// false when the dialog's own keys decide.
func (s Status) closing(km tea.KeyMsg, k *common.KeyMap) (out Outcome, done bool) {
	switch {
	case key.Matches(km, k.Cancel):
		return Cancel, true
	case s.Busy != "":
		return None, true
	}
	return None, false
}

// MaxWidth is the widest a dialog box gets (its border included).
const MaxWidth = 76

// boxWidth is the text width inside a box drawn in a pane w cells wide.
func boxWidth(w int) int { return max(20, min(MaxWidth, w-2)-4) }

// frame draws title, body lines and footer as a box placed in the middle of
// a w×h pane. Body lines are wrapped to the box; lines beyond what fits are
// cut (dialogs that can be long scroll themselves).
func frame(st *styles.Styles, w, h int, title string, body []string, s Status, footer string) string {
	inner := boxWidth(w)
	lines := frameLines(st, inner, title, body, s, footer)
	// Room for the border: 2 lines. When short of room, the blank lines go
	// first, then what does not fit.
	room := frameRoom(h)
	if len(lines) > room {
		kept := lines[:0:0]
		extra := len(lines) - room
		for _, l := range lines {
			if l == "" && extra > 0 {
				extra--
				continue
			}
			kept = append(kept, l)
		}
		lines = kept
	}
	if len(lines) > room {
		lines = lines[:room]
	}
	for i, l := range lines {
		lines[i] = table.Fit(l, inner)
	}
	box := st.Panel.Render(strings.Join(lines, "\n"))
	return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
}

// frameRoom is how many lines fit inside a box in a pane h lines high.
func frameRoom(h int) int { return max(3, h-2) }

// frameLines are the lines of a box before they are fitted to its room:
// title, body, status and footer, with blank lines between them.
func frameLines(st *styles.Styles, inner int, title string, body []string, s Status, footer string) []string {
	var lines []string
	for _, l := range table.Wrap(title, inner) {
		lines = append(lines, st.Section.Render(l))
	}
	lines = append(lines, "")
	lines = append(lines, body...)
	if s.Busy != "" {
		lines = append(lines, "", st.Info.Render("⋯ "+s.Busy))
	}
	if s.Err != "" {
		lines = append(lines, "")
		for i, l := range table.Wrap("✖ "+s.Err, inner) {
			if i > 0 {
				l = "  " + l
			}
			lines = append(lines, st.Error.Render(l))
		}
	}
	if footer != "" {
		lines = append(lines, "")
		for _, l := range table.Wrap(footer, inner) {
			lines = append(lines, st.Muted.Render(l))
		}
	}
	return lines
}

// wrapped wraps each paragraph to the box width, keeping styles per line.
func wrapped(w int, style lipgloss.Style, paras ...string) []string {
	var out []string
	for _, p := range paras {
		if p == "" {
			out = append(out, "")
			continue
		}
		for _, l := range table.Wrap(table.Clean(p), boxWidth(w)) {
			out = append(out, style.Render(l))
		}
	}
	return out
}

func helpText(bs ...key.Binding) string {
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		h := b.Help()
		parts = append(parts, h.Key+" "+h.Desc)
	}
	return strings.Join(parts, " · ")
}

// Item is one entry of a Menu.
type Item struct {
	// ID tells the caller which item was chosen.
	ID string
	// Key is the direct key of the item (from the shared key map); its help
	// text is the label.
	Key key.Binding
	// Label replaces the binding's description when set.
	Label string
	// Disabled items are listed with Note but cannot be chosen; choosing one
	// returns Submit with Chosen().Disabled set, so the caller can say why.
	Disabled bool
	Note     string
	// Danger marks destructive items.
	Danger bool
	// Value is the caller's payload (a backup, a source).
	Value any
}

func (it Item) label() string {
	if it.Label != "" {
		return it.Label
	}
	return it.Key.Help().Desc
}

// Menu is a list of actions, chosen with ↑/↓ and enter or with an item's
// key. A list longer than the box scrolls with the selection.
type Menu struct {
	Title  string
	Intro  []string
	Items  []Item
	Empty  string // shown when there are no items
	Status Status
	sel    int
	chosen int
	top    int // first item drawn when the list scrolls
}

// Chosen is the item of the last Submit.
func (m *Menu) Chosen() Item {
	if m.chosen < 0 || m.chosen >= len(m.Items) {
		return Item{}
	}
	return m.Items[m.chosen]
}

// Update handles a key press.
func (m *Menu) Update(msg tea.KeyMsg, k *common.KeyMap) Outcome {
	if out, done := m.Status.closing(msg, k); done {
		return out
	}
	switch {
	case key.Matches(msg, k.Back):
		return Cancel
	case key.Matches(msg, k.Up):
		if m.sel > 0 {
			m.sel--
		}
		return None
	case key.Matches(msg, k.Down):
		if m.sel < len(m.Items)-1 {
			m.sel++
		}
		return None
	case key.Matches(msg, k.Confirm):
		if len(m.Items) == 0 {
			return None
		}
		m.chosen = m.sel
		return Submit
	}
	for i, it := range m.Items {
		if len(it.Key.Keys()) > 0 && key.Matches(msg, it.Key) {
			m.sel, m.chosen = i, i
			return Submit
		}
	}
	return None
}

// View draws the menu in a w×h pane.
func (m *Menu) View(st *styles.Styles, k *common.KeyMap, w, h int) string {
	inner := boxWidth(w)
	body := wrapped(w, st.Row, m.Intro...)
	if len(m.Intro) > 0 {
		body = append(body, "")
	}
	if len(m.Items) == 0 && m.Empty != "" {
		body = append(body, wrapped(w, st.Placeholder, m.Empty)...)
	}
	footer := helpText(k.Up, k.Down, k.Confirm, k.Cancel) + " · or the key in [ ]"
	items := m.itemLines(st, inner)
	// What is left of the box once everything else is drawn without its
	// blank lines (the box drops those first) is the room for the items.
	n := frameRoom(h)
	for _, l := range frameLines(st, inner, m.Title, body, m.Status, footer) {
		if l != "" {
			n--
		}
	}
	body = append(body, m.window(st, items, max(1, n))...)
	return frame(st, w, h, m.Title, body, m.Status, footer)
}

// window is the part of the item lines that fits in n lines, the selected
// one always in it, with a line saying how many more are above and below.
func (m *Menu) window(st *styles.Styles, items []string, n int) []string {
	if len(items) <= n {
		m.top = 0
		return items
	}
	vis, top := n, m.top
	for {
		if m.sel < top {
			top = m.sel
		}
		if m.sel >= top+vis {
			top = m.sel - vis + 1
		}
		top = max(0, min(top, len(items)-vis))
		marks := 0
		if top > 0 {
			marks++
		}
		if top+vis < len(items) {
			marks++
		}
		if vis+marks <= n || vis == 1 {
			break
		}
		vis--
	}
	m.top = top
	var out []string
	if top > 0 {
		out = append(out, st.Muted.Render(fmt.Sprintf("  ↑ %d more", top)))
	}
	out = append(out, items[top:top+vis]...)
	if rest := len(items) - top - vis; rest > 0 {
		out = append(out, st.Muted.Render(fmt.Sprintf("  ↓ %d more", rest)))
	}
	return out
}

// itemLines draws every item, the selected one marked.
func (m *Menu) itemLines(st *styles.Styles, inner int) []string {
	out := make([]string, 0, len(m.Items))
	for i, it := range m.Items {
		mark := "  "
		if i == m.sel {
			mark = "› "
		}
		line := mark + it.label()
		if keys := it.Key.Help().Key; keys != "" {
			line = mark + "[" + keys + "] " + it.label()
		}
		if it.Danger {
			line += " ⚠" // readable without colour
		}
		if it.Note != "" {
			line += " — " + it.Note
		}
		line = table.Fit(line, inner)
		switch {
		case i == m.sel:
			line = st.RowSelected.Render(line)
		case it.Disabled:
			line = st.Muted.Render(line)
		case it.Danger:
			line = st.Danger.Render(line)
		}
		out = append(out, line)
	}
	return out
}

// Confirm asks before an action. With Require set, the user must type it
// (the key's name) before enter confirms; anything else sends nothing.
type Confirm struct {
	Title   string
	Lines   []string
	Danger  bool
	Require string
	Status  Status
	input   textinput.Model
	// Mismatch is set when enter was pressed with a different name typed.
	Mismatch bool
}

// NewConfirm returns a confirmation; require is the text to type again
// ("" for a plain yes/no).
func NewConfirm(title string, lines []string, require string, danger bool) *Confirm {
	c := &Confirm{Title: title, Lines: lines, Require: require, Danger: danger}
	if require != "" {
		c.input = textinput.New()
		c.input.Prompt = "› "
		c.input.Placeholder = "type the key's name"
		c.input.CharLimit = 256
		c.input.Focus()
	}
	return c
}

// Typed is what was typed so far.
func (c *Confirm) Typed() string { return c.input.Value() }

// Update handles a message (key presses, and cursor blinks for the input).
func (c *Confirm) Update(msg tea.Msg, k *common.KeyMap) (Outcome, tea.Cmd) {
	km, isKey := msg.(tea.KeyMsg)
	if !isKey {
		if c.Require != "" {
			var cmd tea.Cmd
			c.input, cmd = c.input.Update(msg)
			return None, cmd
		}
		return None, nil
	}
	if out, done := c.Status.closing(km, k); done {
		return out, nil
	}
	switch {
	case key.Matches(km, k.Confirm):
		if c.Require != "" && c.input.Value() != c.Require {
			c.Mismatch = true
			return None, nil
		}
		return Submit, nil
	}
	if c.Require == "" {
		return None, nil
	}
	var cmd tea.Cmd
	before := c.input.Value()
	c.input, cmd = c.input.Update(km)
	if c.input.Value() != before {
		c.Mismatch = false
	}
	return None, cmd
}

// View draws the confirmation in a w×h pane.
func (c *Confirm) View(st *styles.Styles, k *common.KeyMap, w, h int) string {
	style := st.Row
	if c.Danger {
		style = st.Danger
	}
	body := wrapped(w, style, c.Lines...)
	footer := helpText(k.Confirm, k.Cancel)
	title := c.Title
	if c.Danger {
		title = "⚠ " + title // readable without colour
	}
	if c.Require != "" {
		var typed []string
		typed = append(typed, "")
		typed = append(typed, wrapped(w, st.Bold, "Type "+table.Clean(c.Require)+" to confirm:")...)
		styleInput(&c.input, st, true)
		c.input.Width = max(10, boxWidth(w)-4)
		typed = append(typed, c.input.View())
		if c.Mismatch {
			typed = append(typed, st.Error.Render("the name does not match: nothing was sent"))
		}
		footer = "enter confirm (only with the name typed exactly) · esc cancel"
		// In a short terminal the description gives way (its last line
		// an ellipsis), never the name to type and what is typed: a
		// confirmation typed blind could delete the wrong key.
		room, inner := frameRoom(h), boxWidth(w)
		for len(body) > 0 && !fits(frameLines(st, inner, title, append(slices.Clone(body), typed...), c.Status, footer), room) {
			body = body[:len(body)-1]
			if len(body) > 0 {
				body[len(body)-1] = st.Muted.Render("…")
			}
		}
		body = append(body, typed...)
	}
	return frame(st, w, h, title, body, c.Status, footer)
}

// fits reports that lines fit in room once their blank lines, which go
// first, are dropped.
func fits(lines []string, room int) bool {
	n := 0
	for _, l := range lines {
		if l != "" {
			n++
		}
	}
	return n <= room
}

// Field is one input of a Form.
type Field struct {
	Label string
	Hint  string
	Input textinput.Model
	// Secret fields are masked, and Form.Clear empties them.
	Secret bool
}

// NewField returns a field with an initial value.
func NewField(label, hint, value string) Field {
	in := textinput.New()
	in.Prompt = "› "
	in.CharLimit = 4096
	in.SetValue(value)
	return Field{Label: label, Hint: hint, Input: in}
}

// SecretField returns a masked field: what is typed is never drawn.
func SecretField(label, hint string) Field {
	f := NewField(label, hint, "")
	f.Secret = true
	f.Input.EchoMode = textinput.EchoPassword
	f.Input.EchoCharacter = '•'
	return f
}

// Form is a column of fields; enter moves to the next field and submits
// from the last one. The caller validates the values on Submit and puts the
// reason in Status.Err.
type Form struct {
	Title  string
	Intro  []string
	Fields []Field
	Status Status
	focus  int
}

// NewForm returns a form focused on its first field.
func NewForm(title string, intro []string, fields ...Field) *Form {
	f := &Form{Title: title, Intro: intro, Fields: fields}
	f.setFocus(0)
	return f
}

func (f *Form) setFocus(i int) tea.Cmd {
	f.focus = i
	var cmd tea.Cmd
	for n := range f.Fields {
		if n == i {
			cmd = f.Fields[n].Input.Focus()
		} else {
			f.Fields[n].Input.Blur()
		}
	}
	return cmd
}

// Value is the trimmed value of field i.
func (f *Form) Value(i int) string { return strings.TrimSpace(f.Fields[i].Input.Value()) }

// Raw is the value of field i as typed (passwords keep their spaces).
func (f *Form) Raw(i int) string { return f.Fields[i].Input.Value() }

// Focus moves the cursor to field i (after a validation error, say).
func (f *Form) Focus(i int) tea.Cmd { return f.setFocus(i) }

// Clear empties the secret fields (after a submit, so no password stays in
// the model).
func (f *Form) Clear() {
	for i := range f.Fields {
		if f.Fields[i].Secret {
			f.Fields[i].Input.SetValue("")
			f.Fields[i].Input.Reset()
		}
	}
}

// Update handles a message.
func (f *Form) Update(msg tea.Msg, k *common.KeyMap) (Outcome, tea.Cmd) {
	km, isKey := msg.(tea.KeyMsg)
	if !isKey {
		if len(f.Fields) == 0 {
			return None, nil
		}
		var cmd tea.Cmd
		f.Fields[f.focus].Input, cmd = f.Fields[f.focus].Input.Update(msg)
		return None, cmd
	}
	if out, done := f.Status.closing(km, k); done {
		return out, nil
	}
	switch {
	case key.Matches(km, k.Confirm):
		if f.focus < len(f.Fields)-1 {
			return None, f.setFocus(f.focus + 1)
		}
		return Submit, nil
	case key.Matches(km, k.NextField):
		return None, f.setFocus((f.focus + 1) % max(1, len(f.Fields)))
	case key.Matches(km, k.PrevField):
		return None, f.setFocus((f.focus + len(f.Fields) - 1) % max(1, len(f.Fields)))
	}
	if len(f.Fields) == 0 {
		return None, nil
	}
	var cmd tea.Cmd
	before := f.Fields[f.focus].Input.Value()
	f.Fields[f.focus].Input, cmd = f.Fields[f.focus].Input.Update(km)
	if f.Fields[f.focus].Input.Value() != before {
		f.Status.Err = ""
	}
	return None, cmd
}

// View draws the form in a w×h pane.
func (f *Form) View(st *styles.Styles, k *common.KeyMap, w, h int) string {
	inner := boxWidth(w)
	body := wrapped(w, st.Row, f.Intro...)
	if len(f.Intro) > 0 {
		body = append(body, "")
	}
	for i := range f.Fields {
		fl := &f.Fields[i]
		label := fl.Label
		if fl.Hint != "" {
			label += st.Muted.Render(" (" + fl.Hint + ")")
		}
		// The focused field is marked in its text (▸ before the label, ›
		// before the input), not only by a style: it shows without colour.
		if i == f.focus {
			body = append(body, table.Fit("▸ "+st.Bold.Render(label), inner))
		} else {
			body = append(body, table.Fit("  "+st.Label.Render(label), inner))
		}
		styleInput(&fl.Input, st, i == f.focus)
		fl.Input.Width = max(10, inner-6)
		body = append(body, table.Fit("  "+fl.Input.View(), inner))
	}
	return frame(st, w, h, f.Title, body, f.Status,
		"enter next field, submit on the last · "+helpText(k.NextField, k.Cancel))
}

// styleInput draws an input in the pane's styles (a bubbles input's own
// defaults carry colours, which NO_COLOR forbids) with the focus marker in
// its prompt: "› " focused, blank otherwise.
func styleInput(in *textinput.Model, st *styles.Styles, focused bool) {
	in.Prompt = "  "
	in.PromptStyle = st.Row
	if focused {
		in.Prompt = "› "
		in.PromptStyle = st.Bold
	}
	in.TextStyle = st.Row
	in.PlaceholderStyle = st.Placeholder
	in.CompletionStyle = st.Muted
}

// Message shows a result (or a refusal) until closed; long text scrolls.
type Message struct {
	Title  string
	Lines  []string
	Status Status
	top    int
	page   int // lines shown at the last View (page up and down)
}

// Update handles a key press.
func (m *Message) Update(msg tea.KeyMsg, k *common.KeyMap) Outcome {
	switch {
	case key.Matches(msg, k.Cancel), key.Matches(msg, k.Confirm), key.Matches(msg, k.Back):
		return Cancel
	case key.Matches(msg, k.Down):
		if m.top < len(m.Lines)-1 {
			m.top++
		}
	case key.Matches(msg, k.Up):
		if m.top > 0 {
			m.top--
		}
	case key.Matches(msg, k.PageDown):
		m.top = min(max(0, len(m.Lines)-1), m.top+max(1, m.page-1))
	case key.Matches(msg, k.PageUp):
		m.top = max(0, m.top-max(1, m.page-1))
	case key.Matches(msg, k.Home):
		m.top = 0
	case key.Matches(msg, k.End):
		m.top = max(0, len(m.Lines)-max(1, m.page-1))
	}
	return None
}

// View draws the message in a w×h pane.
func (m *Message) View(st *styles.Styles, k *common.KeyMap, w, h int) string {
	inner := boxWidth(w)
	var body []string
	for _, l := range m.Lines[min(m.top, len(m.Lines)):] {
		if len(body) > h {
			break // a long message (a dry run of 10,000 keys): only what fits is drawn
		}
		// PEM and paths are shown whole, line by line: cut, never re-wrapped
		// across words, so they can be copied.
		if len(l) > inner {
			for _, p := range table.Wrap(table.Clean(l), inner) {
				body = append(body, p)
			}
			continue
		}
		body = append(body, table.Clean(l))
	}
	// Keep the footer: cut the body to what fits (title, blank, footer,
	// border and status lines).
	room := h - 2 - 2 - 2
	if m.Status.Err != "" {
		room -= 2 + len(table.Wrap(m.Status.Err, inner))
	}
	footer := "enter/esc close"
	m.page = max(1, room-1)
	if len(body) > room && room > 0 {
		body = body[:room-1]
		body = append(body, st.Muted.Render(fmt.Sprintf("… ↓/j for more (line %d of %d)", m.top+1, len(m.Lines))))
		footer += " · ↑/↓ pgup/pgdn g/G scroll"
	} else if m.top > 0 {
		footer += " · ↑/↓ pgup/pgdn g/G scroll"
	}
	return frame(st, w, h, m.Title, body, m.Status, footer)
}
