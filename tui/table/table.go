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
	// it grows when there is room. Max 0 sizes the column by its content:
	// it wants Want cells (the widest of its title and cells, which Natural
	// measures) and never grows past them (the report tables).
	Width, Max int
	// Priority orders which columns survive a narrow terminal: 0 is kept
	// always (squeezed to Width, then cut, if need be), higher numbers are
	// dropped first.
	Priority int
	// Right aligns the column's cells to the right.
	Right bool
	// Want is how wide the column's content is (Identify sets it for the
	// column that identifies a row; Natural for columns sized by content).
	// The first column by priority gets up to Want (within Max) before
	// lower-priority columns are placed, so they give way to it, but never
	// the room of the three columns after it in priority.
	Want int
	// TellsApart marks a column that tells apart rows whose identifying
	// text is the same (the Keys pane's VER: the versions of one cloud key
	// share its name). When Identify finds such twins on screen, the first
	// column leaves room for it too, so the twins never read alike.
	TellsApart bool
	// twins is set by Identify on the identifying column when two of the
	// texts on screen are the same.
	twins bool
}

// wants is how wide c would be with room to spare, before it grows.
func (c Column) wants() int {
	if c.Max <= 0 {
		return max(c.Width, c.Want)
	}
	return max(c.Width, min(c.Want, c.Max))
}

// limit is how far c grows into room left over.
func (c Column) limit() int {
	if c.Max <= 0 {
		return c.wants()
	}
	return c.Max
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

// Layout picks the columns that fit in width, after the selection marker at
// the start of each row (Marker), by priority, and their widths. It returns,
// in display order, the indexes of the chosen columns and their widths.
func Layout(cols []Column, width int) (idx []int, widths []int) {
	return Place(cols, width-Marker)
}

// Place is the one table layout of keyward, the TUI's panes and the CLI's
// tables alike: it picks the columns that fit in avail cells (with Gap
// between columns) and their widths, in display order.
//
// Columns are visited by priority (stable on declaration order). The first
// is always kept, at what it wants within avail less the room of the next
// three (reserve); so is every column of priority 0. A later column is kept
// when it fits at what it wants. Should the kept columns still be too wide,
// the widest is squeezed a cell at a time down to its Width, and no column
// is wider than avail. What is left is shared, a cell at a time in display
// order, among the columns that can grow (Max).
func Place(cols []Column, avail int) (idx []int, widths []int) {
	if avail < 1 || len(cols) == 0 {
		return nil, nil
	}
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && cols[order[j]].Priority < cols[order[j-1]].Priority; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	w := make([]int, len(cols))
	for i, c := range cols {
		w[i] = c.wants()
	}
	// The first column by priority identifies a row: it gets the width its
	// content wants before the others are placed, but leaves them room.
	c0 := cols[order[0]]
	w[order[0]] = max(c0.Width, min(c0.wants(), avail-reserve(cols, order)))
	keep := make([]bool, len(cols))
	used := 0
	for n, i := range order {
		need := w[i]
		if used > 0 {
			need += Gap
		}
		if n == 0 || cols[i].Priority == 0 || used+need <= avail {
			keep[i] = true
			used += need
		}
	}
	for used > avail {
		widest := -1
		for i, k := range keep {
			if k && w[i] > cols[i].Width && (widest < 0 || w[i] > w[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
		used--
	}
	for i, k := range keep {
		if k {
			idx = append(idx, i)
			widths = append(widths, min(w[i], avail))
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
			if cols[i].limit() > widths[n] {
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

// Natural sets the Want of every column sized by its content (Max 0) to the
// widest of its title and its cells in rows (indexed like cols), as drawn
// (Clean).
func Natural(cols []Column, rows [][]string) []Column {
	out := append([]Column(nil), cols...)
	for i := range out {
		if out[i].Max > 0 {
			continue
		}
		out[i].Want = ansi.StringWidth(out[i].Title)
		for _, r := range rows {
			if i < len(r) {
				out[i].Want = max(out[i].Want, ansi.StringWidth(Clean(r[i])))
			}
		}
	}
	return out
}

// reserve is the room the first column of order leaves for the three
// after it, with their gaps, however long its content (in the Keys pane:
// state, aging and source); and, when its texts on screen have twins, for
// the columns that tell them apart.
func reserve(cols []Column, order []int) int {
	r := 0
	for n, i := range order[1:] {
		if n < 3 || (cols[i].TellsApart && cols[order[0]].twins) {
			r += cols[i].Width + Gap
		}
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
// width of the longest (the others give way first, see Layout), but leaves
// room for the columns that tell apart texts that are the same (TellsApart),
// and texts still too long are shortened where they differ (Distinct).
func (t *Table) Identify(col int, texts []string) []string {
	want, twins, seen := 0, false, make(map[string]bool, len(texts))
	for _, s := range texts {
		want = max(want, ansi.StringWidth(Clean(s)))
		twins = twins || seen[s]
		seen[s] = true
	}
	if c := &t.Columns[col]; c.Want != want || c.twins != twins {
		c.Want, c.twins = want, twins
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

// Align is Fit aligned to the right when right is set.
func Align(s string, w int, right bool) string { return fit(s, w, right) }

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
