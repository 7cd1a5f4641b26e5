package table

import (
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Ellipsis marks where a shortened text lost its middle.
const Ellipsis = "…"

// Middle shortens s to at most w cells by cutting its middle, keeping the
// head and the tail: "acme-crm-field-encryption-key.12" at 18 cells is
// "acme-crm-f…n-key.12". Names of one application share their head and
// differ at the end (a number, an environment), which a cut end would hide.
func Middle(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	if w < 3 {
		return ansi.Truncate(s, w, Ellipsis)
	}
	tail := (w - 1) / 2
	return head(s, w-1-tail) + Ellipsis + tailCells(s, tail)
}

// Distinct shortens each text to at most w cells so that texts which differ
// still differ once shortened, as far as w allows: a text that fits is kept
// whole; a longer one loses its middle (Middle), unless that would hide
// where it differs from the others, in which case the part that differs is
// kept beside its head ("acme-crm…prod-eu…"). The others are the texts of
// the same screen: what must be told apart is what is visible together.
func Distinct(texts []string, w int) []string {
	clean := make([]string, len(texts))
	for i, s := range texts {
		clean[i] = Clean(s)
	}
	out := make([]string, len(texts))
	for i, s := range clean {
		if ansi.StringWidth(s) <= w {
			out[i] = s
			continue
		}
		out[i] = Middle(s, w)
		if w < 5 {
			continue
		}
		d := differsAt(clean, i)
		if d < 0 {
			continue
		}
		// Cells of s before the first byte that differs from its nearest
		// neighbour; Middle keeps [0,h) and the last t cells.
		dc := ansi.StringWidth(s[:d])
		tail := (w - 1) / 2
		h := w - 1 - tail
		if dc < h || dc >= ansi.StringWidth(s)-tail {
			continue // the difference is already in the head or the tail
		}
		out[i] = around(s, w, d)
	}
	return out
}

// around shortens s to w cells keeping a short head and the text from a
// little before byte d, where s differs from another text on screen.
func around(s string, w, d int) string {
	h := max(1, (w-2)/3)
	// Two cells of context before the difference, but not into the head.
	start := d
	for n := 0; n < 2 && start > 0; n++ {
		_, size := utf8.DecodeLastRuneInString(s[:start])
		start -= size
	}
	if ansi.StringWidth(s[:start]) <= h {
		return Middle(s, w)
	}
	rest := s[start:]
	room := w - 1 - h
	if ansi.StringWidth(rest) <= room {
		// The rest fits: show the tail, which starts at or before start.
		return head(s, h) + Ellipsis + tailCells(s, room)
	}
	return head(s, h) + Ellipsis + head(rest, room-1) + Ellipsis
}

// differsAt is the byte at which texts[i] first differs from the text that
// shares the longest head with it, at a character boundary; -1 when no
// other text differs from it.
func differsAt(texts []string, i int) int {
	s, best := texts[i], -1
	for j, o := range texts {
		if j == i || o == s {
			continue
		}
		n := 0
		for n < len(s) && n < len(o) && s[n] == o[n] {
			n++
		}
		best = max(best, n)
	}
	if best > len(s) {
		best = len(s)
	}
	for best > 0 && best < len(s) && !utf8.RuneStart(s[best]) {
		best--
	}
	return best
}

// head is the first n cells of s (fewer when a wide character straddles n).
func head(s string, n int) string { return ansi.Truncate(s, n, "") }

// tailCells is the last n cells of s (fewer when a wide character straddles).
func tailCells(s string, n int) string {
	w := ansi.StringWidth(s)
	if n >= w {
		return s
	}
	return ansi.TruncateLeft(s, w-n, "")
}
