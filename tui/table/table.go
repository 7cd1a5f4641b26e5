// Package table lays out and draws the TUI's tables: columns that drop by
// priority when the terminal is narrow and grow when it is wide, cells cut
// to width without wrapping. It draws only the rows it is given, so callers
// keep just the visible page in memory.
package table

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/rivo/uniseg"
)

// Column describes one column.
type Column struct {
	Title string
	// Width is the narrowest the column may be; Max (when larger) is how far
	// it grows when there is room.
	Width, Max int
	// Priority orders which columns survive a narrow terminal: 0 is kept
	// first, higher numbers are dropped first.
	Priority int
	// Right aligns the column's cells to the right.
	Right bool
	// Want is how wide the column's content is (Identify sets it for the
	// column that identifies a row). The first column by priority gets up
	// to Want (within Max) before lower-priority columns are placed, so
	// they give way to it, but never the room of the three columns after it
	// in priority.
	Want int
}

// Cell is one cell: its text and the style it is drawn in when its row is not
// selected.
type Cell struct {
	Text  string
	Style lipgloss.Style
	// Styled is false for cells drawn in the row's style.
	Styled bool
}

// Plain is a cell drawn in the row's style.
func Plain(s string) Cell { return Cell{Text: s} }

// Styled is a cell with its own style.
func Styled(s string, st lipgloss.Style) Cell { return Cell{Text: s, Style: st, Styled: true} }

// Gap is the space between two columns; Marker is the width of the selection
// marker at the start of each row.
const (
	Gap    = 1
	Marker = 2
)

// Layout picks the columns that fit in width, by priority, and their widths.
// It returns, in display order, the indexes of the chosen columns and their
// widths. The first column by priority is always kept (cut to fit if need be).
func Layout(cols []Column, width int) (idx []int, widths []int) {
	avail := width - Marker
	if avail < 1 || len(cols) == 0 {
		return nil, nil
	}
	keep := make([]bool, len(cols))
	used := 0
	// Visit columns by priority (stable on declaration order).
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && cols[order[j]].Priority < cols[order[j-1]].Priority; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	// The first column by priority identifies a row: it gets the width its
	// content wants (within Max) before the others are placed.
	c0 := cols[order[0]]
	first := max(c0.Width, min(c0.Want, c0.Max, avail-reserve(cols, order[1:])))
	for n, i := range order {
		need := cols[i].Width
		if n == 0 {
			need = first
		}
		if used > 0 {
			need += Gap
		}
		if used+need > avail {
			if n == 0 {
				keep[i] = true
				used = avail
			}
			continue
		}
		keep[i] = true
		used += need
	}
	for i, k := range keep {
		if k {
			idx = append(idx, i)
			w := cols[i].Width
			if i == order[0] {
				w = first
			}
			if w > avail {
				w = avail
			}
			widths = append(widths, w)
		}
	}
	// Share what is left among the columns that can grow, in display order.
	spare := avail - used
	for spare > 0 {
		grew := false
		for n, i := range idx {
			if spare == 0 {
				break
			}
			if cols[i].Max > widths[n] {
				widths[n]++
				spare--
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	return idx, widths
}

// reserve is the room of the first three columns of order, with their
// gaps: what the first column leaves for them however long its content
// (in the Keys pane: state, aging and source).
func reserve(cols []Column, order []int) int {
	r := 0
	for _, i := range order[:min(3, len(order))] {
		r += cols[i].Width + Gap
	}
	return r
}

// Table draws header and rows for one layout.
type Table struct {
	Columns []Column
	Header  lipgloss.Style
	// Row is the style of an unselected row; Selected of the selected one.
	Row, Selected lipgloss.Style
	Width         int

	idx, widths []int
}

// SetWidth lays the columns out for width.
func (t *Table) SetWidth(width int) {
	t.Width = width
	t.idx, t.widths = Layout(t.Columns, width)
}

// Identify fits the texts of column col (the column that identifies a row,
// the first by priority) for the rows on screen: the column asks for the
// width of the longest (the others give way first, see Layout), and texts
// still too long are shortened where they differ (Distinct).
func (t *Table) Identify(col int, texts []string) []string {
	want := 0
	for _, s := range texts {
		want = max(want, ansi.StringWidth(Clean(s)))
	}
	if t.Columns[col].Want != want {
		t.Columns[col].Want = want
		t.SetWidth(t.Width)
	}
	for n, i := range t.idx {
		if i == col {
			return Distinct(texts, t.widths[n])
		}
	}
	return texts
}

// Visible returns the titles of the columns shown at the current width.
func (t *Table) Visible() []string {
	out := make([]string, len(t.idx))
	for n, i := range t.idx {
		out[n] = t.Columns[i].Title
	}
	return out
}

// HeaderView draws the header line.
func (t *Table) HeaderView() string {
	cells := make([]string, len(t.idx))
	for n, i := range t.idx {
		cells[n] = fit(t.Columns[i].Title, t.widths[n], t.Columns[i].Right)
	}
	return t.Header.Render(pad(strings.Repeat(" ", Marker)+strings.Join(cells, strings.Repeat(" ", Gap)), t.Width))
}

// RowView draws one row; cells are indexed like Columns.
func (t *Table) RowView(cells []Cell, selected bool) string {
	var b strings.Builder
	if selected {
		b.WriteString("› ")
	} else {
		b.WriteString("  ")
	}
	for n, i := range t.idx {
		if n > 0 {
			b.WriteString(strings.Repeat(" ", Gap))
		}
		var c Cell
		if i < len(cells) {
			c = cells[i]
		}
		text := fit(Clean(c.Text), t.widths[n], t.Columns[i].Right)
		if c.Styled && !selected {
			text = c.Style.Render(text)
		}
		b.WriteString(text)
	}
	line := pad(b.String(), t.Width)
	if selected {
		return t.Selected.Render(line)
	}
	return line
}

// fit cuts or pads s to exactly w cells.
func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	gap := w - ansi.StringWidth(s)
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// pad pads s to w cells (or cuts it).
func pad(s string, w int) string { return fit(s, w, false) }

// Fit cuts or pads s to exactly w cells; exported for panes that draw lines
// themselves.
func Fit(s string, w int) string { return fit(s, w, false) }

// Clean makes text from the daemon safe to draw: control characters (an ESC
// in a key name would drive the terminal) and bidirectional overrides (which
// could make one name look like another) become U+FFFD, as do bytes that
// are not UTF-8.
func Clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	ok := true
	for _, r := range s {
		if unsafeRune(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || prepend(r)
}

// prepend reports the characters Unicode joins to the character after them
// (Grapheme_Cluster_Break=Prepend, Unicode 15): at the end of a cell one
// would swallow the padding after it and change the row's width.
func prepend(r rune) bool {
	switch {
	case r < 0x600:
		return false
	case r <= 0x605, r == 0x6dd, r == 0x70f, r == 0x890, r == 0x891, r == 0x8e2, r == 0xd4e,
		r == 0x110bd, r == 0x110cd, r == 0x111c2, r == 0x111c3, r == 0x1193f, r == 0x11941,
		r == 0x11a3a, r >= 0x11a84 && r <= 0x11a89, r == 0x11d46, r == 0x11f02:
		return true
	}
	return false
}

// Wrap breaks s into lines of at most w cells at spaces only (names such as
// kms-prod stay whole); a word longer than w is cut across lines.
func Wrap(s string, w int) []string {
	if w <= 0 {
		return []string{s}
	}
	var lines []string
	line, lineW := "", 0
	for _, word := range strings.Fields(s) {
		ww := ansi.StringWidth(word)
		for ww > w { // a word that cannot fit on any line
			if lineW > 0 {
				lines = append(lines, line)
				line, lineW = "", 0
			}
			var head string
			head, word = cutWord(word, w)
			lines = append(lines, head)
			ww = ansi.StringWidth(word)
		}
		switch {
		case ww == 0:
		case lineW == 0:
			line, lineW = word, ww
		case lineW+1+ww <= w:
			line, lineW = line+" "+word, lineW+1+ww
		default:
			lines = append(lines, line)
			line, lineW = word, ww
		}
	}
	if lineW > 0 || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// cutWord splits word after its first w cells, at a character boundary. It
// always takes at least one character, so the caller's loop ends: a character
// wider than w (a double-width one at width 1) is shown as "…", which fits.
func cutWord(word string, w int) (head, rest string) {
	used, end := 0, 0
	g := uniseg.NewGraphemes(word)
	for g.Next() {
		cw := ansi.StringWidth(g.Str()) // the measure the callers use
		if used+cw > w {
			break
		}
		used += cw
		_, end = g.Positions()
	}
	if end == 0 {
		// Not even one character fits: mark it and move past it.
		g = uniseg.NewGraphemes(word)
		g.Next()
		_, end = g.Positions()
		return "…", word[end:]
	}
	return word[:end], word[end:]
}
