package table

import (
	"reflect"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestLayoutDropsByPriority(t *testing.T) {
	cols := []Column{
		{Title: "name", Width: 10, Max: 30, Priority: 0},
		{Title: "source", Width: 8, Priority: 3},
		{Title: "state", Width: 6, Priority: 1},
		{Title: "fp", Width: 12, Priority: 9},
	}
	tests := []struct {
		width  int
		titles []string
		widths []int
	}{
		// Marker 2 + 10 + 1 + 6 = 19: name and state only.
		{19, []string{"name", "state"}, []int{10, 6}},
		{28, []string{"name", "source", "state"}, []int{10, 8, 6}},
		// Everything fits (39 of 44) and the 5 to spare go to the column that grows.
		{46, []string{"name", "source", "state", "fp"}, []int{15, 8, 6, 12}},
		// Too narrow for the first column: it is cut, never dropped.
		{7, []string{"name"}, []int{5}},
	}
	for _, tc := range tests {
		idx, widths := Layout(cols, tc.width)
		var titles []string
		for _, i := range idx {
			titles = append(titles, cols[i].Title)
		}
		if !reflect.DeepEqual(titles, tc.titles) || !reflect.DeepEqual(widths, tc.widths) {
			t.Errorf("width %d: got %v %v, want %v %v", tc.width, titles, widths, tc.titles, tc.widths)
		}
	}
}

func TestRowsNeverWrap(t *testing.T) {
	tb := Table{Columns: []Column{{Title: "name", Width: 5, Max: 8}, {Title: "state", Width: 6, Priority: 1}}}
	for _, w := range []int{4, 10, 16, 40} {
		tb.SetWidth(w)
		rows := []string{
			tb.HeaderView(),
			tb.RowView([]Cell{Plain("a-very-long-key-name"), Plain("deactivated")}, false),
			tb.RowView([]Cell{Plain("k"), Plain("active")}, true),
		}
		for _, r := range rows {
			if strings.Contains(r, "\n") || ansi.StringWidth(r) != w {
				t.Errorf("width %d: row %q is %d wide", w, r, ansi.StringWidth(r))
			}
		}
	}
	tb.SetWidth(16)
	if got := tb.RowView([]Cell{Plain("a-very-long-key-name"), Plain("x")}, false); !strings.Contains(got, "a-very…") {
		t.Errorf("long name not cut with an ellipsis: %q", got)
	}
}
