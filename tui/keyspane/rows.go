package keyspane

import (
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// Columns are the inventory table's columns (render.KeyPaneColumns).
func Columns() []table.Column { return render.KeyPaneColumns() }

// Row turns one key into the pane's cells (render.Key), each in its style.
func Row(k engine.Key, now time.Time, st *styles.Styles) []table.Cell {
	return st.Cells(render.Key(k, now))
}

// When renders a time with how far it is from now: "2026-01-02 15:04 (in 3d)".
func When(t *time.Time, now time.Time) string {
	if t == nil {
		return "—"
	}
	s := t.UTC().Format("2006-01-02 15:04 UTC")
	d := t.Sub(now)
	switch {
	case d > 0:
		return s + " (in " + engine.HumanDuration(d) + ")"
	case d < 0:
		return s + " (" + engine.HumanDuration(d) + " ago)"
	}
	return s + " (now)"
}
