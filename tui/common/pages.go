package common

// Pages is where a cursor-paged list stands: the page shown, the cursor
// that fetches each page reached so far, and the position of each page's
// first row. The zero value stands before the first page.
type Pages struct {
	No      int      // the page shown
	cursors []string // cursors[p] fetches page p
	starts  []int    // starts[p] is the position of page p's first row
}

// Cursor is the cursor that fetches page p, which was reached before
// ("" for the first page).
func (s *Pages) Cursor(p int) string {
	if p < len(s.cursors) {
		return s.cursors[p]
	}
	return ""
}

// First is the position (from 0) of the shown page's first row.
func (s *Pages) First() int {
	if s.No < len(s.starts) {
		return s.starts[s.No]
	}
	return 0
}

// Land records that page p, fetched with cursor, is shown, holds rows rows,
// and is followed by the page next fetches ("" at the end); the pages after
// p are forgotten. It reports false, changing nothing, for a page not
// reached one at a time.
func (s *Pages) Land(p int, cursor string, rows int, next string) bool {
	if len(s.cursors) == 0 {
		s.cursors, s.starts = []string{""}, []int{0}
	}
	if p >= len(s.cursors) {
		return false
	}
	s.cursors = append(s.cursors[:p], cursor)
	s.starts = s.starts[:p+1]
	s.No = p
	if next != "" {
		s.cursors = append(s.cursors, next)
		s.starts = append(s.starts, s.starts[p]+rows)
	}
	return true
}

// OnPage is the row selected on a page of n rows when sel is asked for:
// sel itself when the page has that row, else its last row (-1 asks for
// it: a move up from the first row of the next page).
func OnPage(sel, n int) int {
	if sel < 0 || sel >= n {
		return max(0, n-1)
	}
	return sel
}

// Half moves a selection half a page of rows (down or up) in a page of n
// rows. It returns the row to select and whether that row is on the next
// (or previous) page, which cross says may be fetched; without it the
// selection stops at the page's end.
func Half(sel, n, rows int, down, cross bool) (to int, onOther bool) {
	half := max(1, rows/2)
	switch {
	case down && sel+half < n:
		return sel + half, false
	case down && cross:
		return min(rows-1, sel+half-n), true
	case down:
		return max(0, n-1), false
	case sel-half >= 0:
		return sel - half, false
	case cross:
		return max(0, rows+sel-half), true
	}
	return 0, false
}
