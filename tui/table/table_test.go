package table

import (
	"reflect"
	"strings"
	"testing"
	"time"

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
		checkLayout(t, tc.width, cols, idx, widths, tc.titles, tc.widths)
	}
}

// checkLayout fails t unless a layout in width shows the columns titled
// titles at widths.
func checkLayout(t *testing.T, width int, cols []Column, idx, widths []int, titles []string, want []int) {
	t.Helper()
	var got []string
	for _, i := range idx {
		got = append(got, cols[i].Title)
	}
	if !reflect.DeepEqual(got, titles) || !reflect.DeepEqual(widths, want) {
		t.Errorf("width %d: got %v %v, want %v %v", width, got, widths, titles, want)
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

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"acme.crm.key.0":   "acme.crm.key.0",
		"evil\x1b[2Jname":  "evil\uFFFD[2Jname",
		"a\rb\n\tc":        "a\uFFFDb\uFFFD\uFFFDc",
		"abc\u202Efdp.exe": "abc\uFFFDfdp.exe",
		"00\u0604":         "00\uFFFD", // joins the padding after it
		"clé-ünïcode-名前":   "clé-ünïcode-名前",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	tb := Table{Columns: []Column{{Title: "name", Width: 20}}}
	tb.SetWidth(30)
	if got := tb.RowView([]Cell{Plain("x\x1b]52;c;aGk=\x07")}, false); strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("row passes control characters through: %q", got)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in   string
		w    int
		want []string
	}{
		{"no active generation in kms-prod", 20, []string{"no active generation", "in kms-prod"}},
		{"short", 20, []string{"short"}},
		{"", 5, []string{""}},
		{"abcdefghij xy", 4, []string{"abcd", "efgh", "ij", "xy"}},
		// A double-width character never fits in one cell: it is marked,
		// and Wrap moves on (it used to loop for ever).
		{"名前", 1, []string{"…", "…"}},
		{"a名b", 2, []string{"a", "名", "b"}},
		{"kms 名前x", 3, []string{"kms", "名", "前x"}},
		{"éte", 2, []string{"ét", "e"}},
	}
	for _, tc := range tests {
		done := make(chan []string, 1)
		go func() { done <- Wrap(tc.in, tc.w) }()
		select {
		case got := <-done:
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Wrap(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Wrap(%q, %d) did not return", tc.in, tc.w)
		}
	}
}

// FuzzRow: whatever text the daemon sends, a row is exactly the table's
// width, one line, and carries no control character to the terminal.
func FuzzRow(f *testing.F) {
	f.Add("acme.crm.key.0", "active", 40)
	f.Add("名前\u202Eevil", "x\x1b[31mred", 12)
	f.Add("", "", 0)
	f.Add("a\tb\nc\r", "\x00\x7f\u0085", 3)
	f.Add("名前", "界", 1) // hung Wrap: a double-width character at width 1
	f.Fuzz(func(t *testing.T, a, b string, w int) {
		w = w % 300
		if w < 0 {
			w = -w
		}
		tb := Table{Columns: []Column{{Title: "A", Width: 5, Max: 30}, {Title: "B", Width: 6, Priority: 1, Right: true}}}
		tb.SetWidth(w)
		for _, row := range []string{tb.HeaderView(), tb.RowView([]Cell{Plain(a), Plain(b)}, false), tb.RowView([]Cell{Plain(a), Plain(b)}, true)} {
			if strings.ContainsAny(row, "\n\r\x1b\x00\x07") {
				t.Fatalf("row carries a control character: %q", row)
			}
			if got := ansi.StringWidth(row); got != w {
				t.Fatalf("row is %d wide, want %d: %q", got, w, row)
			}
		}
		for _, l := range Wrap(Clean(a+" "+b), max(1, w)) {
			if ansi.StringWidth(l) > max(1, w) {
				t.Fatalf("wrapped line %q wider than %d", l, w)
			}
		}
	})
}

// Columns sized by their content (the report tables, Max 0) take their
// content's width and never grow; dropped by priority when they do not fit;
// the columns of priority 0 stay, squeezed (widest first) to their Width.
func TestPlaceContentColumns(t *testing.T) {
	cols := Natural([]Column{
		{Title: "DATE", Width: 10},
		{Title: "KEY", Width: 6},
		{Title: "STATE", Width: 5, Priority: 2},
		{Title: "REASON", Width: 6, Priority: 1},
	}, [][]string{{"2026-11-23 (in 3d)", "acme.crm.key.12", "active", "expires in 3 days"}})
	tests := []struct {
		avail  int
		titles []string
		widths []int
	}{
		{100, []string{"DATE", "KEY", "STATE", "REASON"}, []int{18, 15, 6, 17}},
		// 18+1+15+1+17 = 52: STATE (priority 2) goes, REASON stays.
		{52, []string{"DATE", "KEY", "REASON"}, []int{18, 15, 17}},
		// REASON does not fit but STATE does: a column that fits is shown.
		{42, []string{"DATE", "KEY", "STATE"}, []int{18, 15, 6}},
		// Only the columns of priority 0, squeezed widest first.
		{30, []string{"DATE", "KEY"}, []int{14, 15}},
		// Never below Width: the caller cuts the line.
		{10, []string{"DATE", "KEY"}, []int{10, 6}},
	}
	for _, tc := range tests {
		idx, widths := Place(cols, tc.avail)
		checkLayout(t, tc.avail, cols, idx, widths, tc.titles, tc.widths)
	}
}
