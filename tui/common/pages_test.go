package common

import "testing"

// TestPages: pages are reached one at a time; landing on an earlier page
// forgets the later ones; a page never reached is refused.
func TestPages(t *testing.T) {
	var s Pages
	if s.Cursor(0) != "" || s.First() != 0 {
		t.Fatalf("before the first page: cursor %q, first row %d", s.Cursor(0), s.First())
	}
	if s.Land(1, "c1", 10, "") {
		t.Fatal("page 1 landed before page 0")
	}
	if !s.Land(0, "", 10, "c1") || !s.Land(1, "c1", 10, "c2") || !s.Land(2, "c2", 4, "") {
		t.Fatal("pages 0, 1, 2 in turn were refused")
	}
	if s.No != 2 || s.First() != 20 || s.Cursor(1) != "c1" {
		t.Errorf("on page 2: No %d, first row %d, cursor of page 1 %q", s.No, s.First(), s.Cursor(1))
	}
	if s.Land(3, "c3", 1, "") {
		t.Error("page 3 landed though page 2 is the last")
	}
	if !s.Land(0, "", 10, "c1b") || s.No != 0 || s.First() != 0 || s.Cursor(1) != "c1b" || s.Land(2, "c2", 4, "") {
		t.Errorf("back on page 0 the later pages are not forgotten: %+v", s)
	}
}

func TestHalf(t *testing.T) {
	for _, tc := range []struct {
		sel, n, rows int
		down, cross  bool
		to           int
		other        bool
	}{
		{0, 18, 18, true, true, 9, false},
		{9, 18, 18, true, true, 0, true},  // 9+9 = 18: the next page's first row
		{12, 18, 18, true, true, 3, true}, // 12+9-18
		{12, 18, 18, true, false, 17, false},
		{3, 18, 18, false, true, 12, true}, // 18+3-9
		{3, 18, 18, false, false, 0, false},
		{9, 18, 18, false, true, 0, false},
		{0, 1, 1, true, false, 0, false},
	} {
		to, other := Half(tc.sel, tc.n, tc.rows, tc.down, tc.cross)
		if to != tc.to || other != tc.other {
			t.Errorf("Half(%d, %d, %d, %v, %v) = %d, %v; want %d, %v", tc.sel, tc.n, tc.rows, tc.down, tc.cross, to, other, tc.to, tc.other)
		}
	}
}

// A selection the page has stays; one off the page (past its end, or -1
// for "the last row") lands on the page's last row; an empty page selects
// row 0.
func TestOnPage(t *testing.T) {
	for _, c := range []struct{ sel, n, want int }{
		{0, 5, 0}, {4, 5, 4}, {5, 5, 4}, {9, 5, 4}, {-1, 5, 4}, {-1, 0, 0}, {0, 0, 0}, {3, 0, 0},
	} {
		if got := OnPage(c.sel, c.n); got != c.want {
			t.Errorf("OnPage(%d, %d) = %d, want %d", c.sel, c.n, got, c.want)
		}
	}
}
