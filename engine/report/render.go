package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/engine"
)

// Column is one column of a rendered report. Columns with a higher Drop
// value are dropped first when the width is short; Drop 0 is never dropped.
type Column struct {
	Title string
	Min   int // narrowest the column may be squeezed to
	Drop  int
	Right bool
}

// Table is a report ready for any front end: display cells for the TUI and
// the CLI's aligned table, raw cells (ISO-8601 UTC times, plain numbers) for
// CSV, and a class per row (an aging bucket, an origin) that a front end may
// colour by.
type Table struct {
	Columns []Column
	Rows    [][]string
	Raw     [][]string
	Header  []string // CSV header, snake_case
	Class   []string
}

// Layout chooses which columns fit in width (with one space between
// columns) and how wide each is: dropping columns by priority first, then
// squeezing the widest to their minimum. It returns column indexes and widths.
func (t Table) Layout(width int) (cols []int, widths []int) {
	natural := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		natural[i] = ansi.StringWidth(c.Title)
		for _, r := range t.Rows {
			if w := ansi.StringWidth(r[i]); w > natural[i] {
				natural[i] = w
			}
		}
	}
	keep := make([]bool, len(t.Columns))
	for i := range keep {
		keep[i] = true
	}
	total := func() (sum, min int) {
		n := 0
		for i, k := range keep {
			if k {
				sum += natural[i]
				min += max(t.Columns[i].Min, 1)
				n++
			}
		}
		if n > 0 {
			sum += n - 1
			min += n - 1
		}
		return
	}
	for {
		// Drop columns while their natural widths do not fit; squeeze only
		// what is left once nothing more may be dropped.
		sum, _ := total()
		if sum <= width {
			break
		}
		// Drop the column with the highest Drop value.
		drop, best := -1, 0
		for i, k := range keep {
			if k && t.Columns[i].Drop > best {
				drop, best = i, t.Columns[i].Drop
			}
		}
		if drop < 0 {
			break
		}
		keep[drop] = false
	}
	w := append([]int(nil), natural...)
	sum, _ := total()
	for sum > width {
		widest := -1
		for i, k := range keep {
			if k && w[i] > max(t.Columns[i].Min, 1) && (widest < 0 || w[i] > w[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
		sum--
	}
	for i, k := range keep {
		if k {
			cols = append(cols, i)
			widths = append(widths, w[i])
		}
	}
	return cols, widths
}

// Cell fits s into width: truncated with an ellipsis, padded to the width.
func Cell(s string, width int, right bool) string {
	if ansi.StringWidth(s) > width {
		s = ansi.Truncate(s, width, "…")
	}
	pad := width - ansi.StringWidth(s)
	if right {
		return strings.Repeat(" ", pad) + s
	}
	return s + strings.Repeat(" ", pad)
}

// Text renders the table as plain aligned text no wider than width (0: as
// wide as it needs), for the CLI.
func (t Table) Text(width int) string {
	if width <= 0 {
		width = 1 << 20
	}
	cols, widths := t.Layout(width)
	var b strings.Builder
	line := func(cells []string, upper bool) {
		parts := make([]string, len(cols))
		for j, i := range cols {
			s := cells[i]
			if upper {
				s = strings.ToUpper(s)
			}
			parts[j] = Cell(s, widths[j], t.Columns[i].Right)
		}
		b.WriteString(strings.TrimRight(strings.Join(parts, " "), " "))
		b.WriteByte('\n')
	}
	titles := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		titles[i] = c.Title
	}
	line(titles, true)
	for _, r := range t.Rows {
		line(r, false)
	}
	return b.String()
}

// WriteCSV writes the raw cells with a header row.
func (t Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	for _, r := range t.Raw {
		if err := cw.Write(CSVSafe(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func isoPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return iso(*t)
}

// When renders a date relative to now: "2026-12-01 (in 8d)", "2026-11-01 (22d ago)".
func When(t, now time.Time) string {
	d := t.Sub(now)
	rel := "now"
	switch {
	case d > time.Minute:
		rel = "in " + engine.HumanDuration(d)
	case d < -time.Minute:
		rel = engine.HumanDuration(-d) + " ago"
	}
	return t.UTC().Format(time.DateOnly) + " (" + rel + ")"
}

// AgingTable renders aging entries.
func AgingTable(entries []AgingEntry, now time.Time) Table {
	t := Table{
		Columns: []Column{{Title: "date", Min: 10}, {Title: "milestone", Min: 8, Drop: 1}, {Title: "key", Min: 12},
			{Title: "source", Min: 6, Drop: 3}, {Title: "state", Min: 6, Drop: 2}, {Title: "aging", Min: 7}, {Title: "reason", Min: 8, Drop: 4}},
		Header: []string{"date", "milestone", "key_id", "source", "name", "state", "bucket", "reason"},
	}
	for _, e := range entries {
		t.Rows = append(t.Rows, []string{When(e.Date, now), e.Milestone, e.Name, e.Source, string(e.State), string(e.Bucket), e.Reason})
		t.Raw = append(t.Raw, []string{iso(e.Date), e.Milestone, e.KeyID, e.Source, e.Name, string(e.State), string(e.Bucket), e.Reason})
		t.Class = append(t.Class, string(e.Bucket))
	}
	return t
}

// SummaryTable renders the aging summary as one row per bucket.
func SummaryTable(s AgingSummary) Table {
	t := Table{Columns: []Column{{Title: "bucket", Min: 8}, {Title: "keys", Min: 4, Right: true}},
		Header: []string{"bucket", "keys"}}
	for _, b := range s.Buckets {
		n := strconv.Itoa(b.Count)
		t.Rows = append(t.Rows, []string{string(b.Bucket), n})
		t.Raw = append(t.Raw, []string{string(b.Bucket), n})
		t.Class = append(t.Class, string(b.Bucket))
	}
	return t
}

// ActivityTable renders events.
func ActivityTable(events []engine.Event) Table {
	t := Table{
		Columns: []Column{{Title: "time", Min: 16}, {Title: "operation", Min: 8}, {Title: "key", Min: 12},
			{Title: "actor", Min: 5, Drop: 3}, {Title: "origin", Min: 6, Drop: 2}, {Title: "details", Min: 8, Drop: 4}},
		Header: []string{"time", "operation", "key_id", "source", "actor", "origin", "severity", "details"},
	}
	for _, e := range events {
		// The key column names a key or nothing: an event about no key (a
		// refused request, a source outage) says so; who acted is in the
		// actor column, where it came from in the details.
		key := "—"
		if e.KeyID != "" {
			key = shortKeyID(e.KeyID)
		}
		t.Rows = append(t.Rows, []string{e.Time.UTC().Format("2006-01-02 15:04"), e.Operation, key, e.Actor, string(e.Origin), e.Details})
		t.Raw = append(t.Raw, []string{iso(e.Time), e.Operation, e.KeyID, e.Source, e.Actor, string(e.Origin), string(e.Severity), e.Details})
		t.Class = append(t.Class, string(e.Origin))
	}
	return t
}

// UsageTable renders usage rows followed by the unused candidates.
func UsageTable(u Usage, now time.Time) Table {
	t := Table{
		Columns: []Column{{Title: "app", Min: 4}, {Title: "key", Min: 12}, {Title: "encrypts", Min: 6, Right: true},
			{Title: "decrypts", Min: 6, Right: true}, {Title: "last use", Min: 10, Drop: 1}},
		Header: []string{"app", "key_id", "encrypts", "decrypts", "first_use", "last_use"},
	}
	for _, r := range u.Rows {
		t.Rows = append(t.Rows, []string{r.App, r.KeyID, fmt.Sprint(r.Encrypts), fmt.Sprint(r.Decrypts), When(r.Last, now)})
		t.Raw = append(t.Raw, []string{r.App, r.KeyID, fmt.Sprint(r.Encrypts), fmt.Sprint(r.Decrypts), iso(r.First), iso(r.Last)})
		t.Class = append(t.Class, "used")
	}
	for _, k := range u.Unused {
		t.Rows = append(t.Rows, []string{k.Application, k.ID, "0", "0", "never in range"})
		t.Raw = append(t.Raw, []string{k.Application, k.ID, "0", "0", "", ""})
		t.Class = append(t.Class, "unused")
	}
	return t
}

// shortKeyID drops the version of a source/name/version id for display: a
// cloud version is a long hex string that would push everything else off
// an 80-column screen. Exports keep the full id.
func shortKeyID(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) == 3 && len(parts[2]) > 8 {
		return parts[0] + "/" + parts[1] + "/" + parts[2][:6] + "…"
	}
	return id
}
