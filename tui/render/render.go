// Package render turns keyward's records into table rows — one renderer per
// resource: key, event, aging entry, usage row, ring generation, source —
// and writes them as text or CSV over the one table layout (tui/table), so
// the TUI's panes and the CLI show a record the same way. It draws no
// colour: a cell or a row carries a class that the TUI maps to a style.
//
// It lives beside the TUI, not in engine/ (which computes, and draws
// nothing) nor in daemon/ (which serves the wire format): both front ends
// are clients, and the CLI already builds on tui/.
package render

import (
	"encoding/csv"
	"io"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/table"
)

// Row is one record rendered: display cells indexed like its resource's
// columns, a class per cell for the cells drawn in their own style ("" for
// the row's style; see Class), the raw cells of its CSV record (ISO-8601
// UTC times, plain numbers, full ids), and a class for the whole row (an
// aging bucket, an origin) that a front end may colour by.
type Row struct {
	Cells   []string
	Classes []string
	Raw     []string
	Class   string
}

// Classes of cells; a TUI style per class (tui/styles).
const (
	ClassMuted = "muted"
	ClassWarn  = "warn"
	// ClassEncrypts marks the ring generation that encrypts.
	ClassEncrypts = "encrypts"
)

// StateClass, BucketClass and HealthClass are the classes of a cell that
// shows a key state, an aging bucket or a source's health: drawn in that
// value's style.
func StateClass(s string) string  { return "state:" + s }
func BucketClass(b string) string { return "bucket:" + b }
func HealthClass(h string) string { return "health:" + h }

// Table is a list of records rendered for any front end: its columns (laid
// out by table.Place), its CSV header (snake_case), and its rows.
type Table struct {
	Columns []table.Column
	Header  []string
	Rows    []Row
}

// Build renders recs with row, one Row each.
func Build[T any](cols []table.Column, header []string, recs []T, row func(T) Row) Table {
	t := Table{Columns: cols, Header: header, Rows: make([]Row, 0, len(recs))}
	for _, r := range recs {
		t.Rows = append(t.Rows, row(r))
	}
	return t
}

// Cells are the display cells of every row.
func (t Table) Cells() [][]string {
	out := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		out[i] = r.Cells
	}
	return out
}

// Slice is the table with rows [start, end).
func (t Table) Slice(start, end int) Table {
	t.Rows = t.Rows[start:end]
	return t
}

// Layout lays the table out in avail cells: the indexes of the columns
// shown and their widths (table.Place, each column sized by its cells).
func (t Table) Layout(avail int) (cols, widths []int) {
	return table.Place(table.Natural(t.Columns, t.Cells()), avail)
}

// Line draws cells in the columns of a layout, each cut or padded to its
// width and cleaned (table.Clean), one space between columns.
func (t Table) Line(cells []string, cols, widths []int) string {
	parts := make([]string, len(cols))
	for j, i := range cols {
		s := ""
		if i < len(cells) {
			s = table.Clean(cells[i])
		}
		parts[j] = table.Align(s, widths[j], t.Columns[i].Right)
	}
	return strings.Join(parts, strings.Repeat(" ", table.Gap))
}

// Titles are the columns' titles, as the header line shows them.
func (t Table) Titles() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Title
	}
	return out
}

// Text writes the table as plain aligned text no wider than width (0: as
// wide as it needs), a header line first: the CLI's table format. Text from
// the daemon is cleaned as in the TUI: a key name holding an escape
// sequence does not drive the terminal.
func (t Table) Text(width int) string {
	if width <= 0 {
		width = 1 << 20
	}
	cols, widths := t.Layout(width)
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString(strings.TrimRight(t.Line(cells, cols, widths), " "))
		b.WriteByte('\n')
	}
	line(t.Titles())
	for _, r := range t.Rows {
		line(r.Cells)
	}
	return b.String()
}

// WriteCSV writes the raw cells with the header row; a cell a spreadsheet
// would run as a formula is neutralised (api.CSVSafe).
func (t Table) WriteCSV(w io.Writer) error {
	cw := NewCSV(w)
	if err := cw.Write(t); err != nil {
		return err
	}
	return cw.Flush()
}

// CSV writes tables as one CSV file, page after page: the header row of
// the first, then the raw cells of every row, each neutralised where a
// spreadsheet would run it as a formula (api.CSVSafe): key names and tags
// come from vaults other people write to.
type CSV struct {
	cw     *csv.Writer
	header bool
}

// NewCSV writes CSV to w.
func NewCSV(w io.Writer) *CSV { return &CSV{cw: csv.NewWriter(w)} }

// Write adds t's rows (after its header, the first time).
func (c *CSV) Write(t Table) error {
	if !c.header {
		if err := c.cw.Write(t.Header); err != nil {
			return err
		}
		c.header = true
	}
	for _, r := range t.Rows {
		if err := c.cw.Write(api.CSVSafe(r.Raw)); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes what is buffered and reports any error so far.
func (c *CSV) Flush() error {
	c.cw.Flush()
	return c.cw.Error()
}

// Field is the raw value of column name (a CSV header) in row r, "" if the
// table has no such column.
func (t Table) Field(r int, name string) string {
	if r < 0 || r >= len(t.Rows) {
		return ""
	}
	for i, h := range t.Header {
		if h == name && i < len(t.Rows[r].Raw) {
			return t.Rows[r].Raw[i]
		}
	}
	return ""
}

// Dash stands for an unknown value.
const Dash = "—"

// OrDash is s, or Dash when s is empty.
func OrDash(s string) string { return dash(s) }

func dash(s string) string {
	if s == "" {
		return Dash
	}
	return s
}

func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
