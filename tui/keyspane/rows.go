package keyspane

import (
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// Column indexes of the inventory table.
const (
	colName = iota
	colSource
	colApplication
	colVersion
	colAlgorithm
	colState
	colAging
	colExpires
	colAge
	colFingerprint
	numCols
)

// Columns are the inventory table's columns; Priority says which survive a
// narrow terminal (name, state and aging first).
func Columns() []table.Column {
	return []table.Column{
		colName:        {Title: "NAME", Width: 16, Max: 40, Priority: 0},
		colSource:      {Title: "SOURCE", Width: 10, Max: 18, Priority: 3},
		colApplication: {Title: "APPLICATION", Width: 11, Max: 20, Priority: 9},
		colVersion:     {Title: "VER", Width: 4, Max: 8, Priority: 4}, // versions of one key share a name
		colAlgorithm:   {Title: "ALGORITHM", Width: 9, Max: 14, Priority: 5},
		colState:       {Title: "STATE", Width: 11, Priority: 1},
		colAging:       {Title: "AGING", Width: 16, Priority: 2}, // rotation-overdue
		colExpires:     {Title: "EXPIRES", Width: 10, Priority: 6},
		colAge:         {Title: "AGE", Width: 7, Priority: 7, Right: true},
		colFingerprint: {Title: "FINGERPRINT", Width: 12, Priority: 8},
	}
}

// Row turns one key into table cells. It is a plain function of the key so it
// can be tested without a UI.
func Row(k engine.Key, now time.Time, st *styles.Styles) []table.Cell {
	cells := make([]table.Cell, numCols)
	cells[colName] = table.Plain(k.Name)
	cells[colSource] = table.Plain(k.Source)
	cells[colApplication] = table.Plain(dash(k.Application))
	if k.Created != nil {
		cells[colAge] = table.Plain(engine.HumanDuration(k.Age(now)))
	} else {
		cells[colAge] = table.Plain("—")
	}
	cells[colVersion] = table.Plain(dash(k.Version))
	cells[colAlgorithm] = table.Plain(Algorithm(k))
	cells[colState] = table.Styled(string(k.State), st.State(k.State))
	if k.Aging != nil {
		cells[colAging] = table.Styled(AgingLabel(k.Aging.Bucket), st.Bucket(k.Aging.Bucket))
	} else {
		cells[colAging] = table.Plain("—")
	}
	cells[colExpires] = table.Plain(Date(k.Expires))
	cells[colFingerprint] = table.Styled(ShortFingerprint(k.Fingerprint), st.Muted)
	return cells
}

// AgingLabel is the name of an aging bucket as every view shows it: the
// bucket's own name, the one the aging report's table, the filters, the CLI
// and the API use, so a bucket is never called two things. It is a word, so
// it reads without colour.
func AgingLabel(b engine.Bucket) string { return string(b) }

// Algorithm joins algorithm and length: AES-256, RSA-2048.
func Algorithm(k engine.Key) string {
	if k.Length > 0 && !strings.Contains(k.Algorithm, "-") {
		return k.Algorithm + "-" + itoa(k.Length)
	}
	return dash(k.Algorithm)
}

// ShortFingerprint drops a "sha256:" style prefix and keeps 12 characters.
func ShortFingerprint(fp string) string {
	if i := strings.IndexByte(fp, ':'); i >= 0 && i < 10 {
		fp = fp[i+1:]
	}
	if len(fp) > 12 {
		fp = fp[:12]
	}
	return dash(fp)
}

// Date renders a date as YYYY-MM-DD in UTC, or a dash.
func Date(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
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

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
