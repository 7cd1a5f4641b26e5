package common

import "slices"

// Seek is what a page fetched again to keep its selected row carries
// while it looks for that row on the pages after the one asked for (a
// page made smaller by a shorter terminal, rows added before it): how many
// more pages may be asked for, and the answers passed on the way, which
// are not drawn. M is the pane's answer message.
type Seek[M any] struct {
	Left   int
	Passed []M
}

// Next is the Seek of the request for the page after msg, which does not
// hold the row, and true; false when no page may be asked for (none left,
// or none follows: hasNext false).
func (s Seek[M]) Next(msg M, hasNext bool) (Seek[M], bool) {
	if s.Left <= 0 || !hasNext {
		return s, false
	}
	return Seek[M]{Left: s.Left - 1, Passed: append(slices.Clone(s.Passed), msg)}, true
}

// Fallback is the answer to draw when the row was on no page: the page
// first asked for (msg itself when it is that page).
func (s Seek[M]) Fallback(msg M) M {
	if len(s.Passed) > 0 {
		return s.Passed[0]
	}
	return msg
}
