package render

import (
	"strconv"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/table"
)

// SourceColumns are the Sources pane's columns, indexed like Source's cells.
func SourceColumns() []table.Column {
	return []table.Column{
		{Title: "SOURCE", Width: 10, Max: 24, Priority: 0},
		{Title: "KIND", Width: 6, Max: 10, Priority: 3},
		{Title: "HEALTH", Width: 10, Priority: 1},
		{Title: "KEYS", Width: 6, Priority: 2, Right: true},
		{Title: "LAST SYNC", Width: 9, Priority: 4},
		{Title: "ADDRESS", Width: 14, Max: 40, Priority: 5},
	}
}

// SourceColumnsFor are SourceColumns for these sources: the name and the
// address columns may grow to their longest (a schedule's health row is
// schedule:NAME, a Google project's address holds its endpoint), so a wide
// terminal shows them whole.
func SourceColumnsFor(srcs []api.SourceInfo) []table.Column {
	cols := SourceColumns()
	for _, s := range srcs {
		cols[0].Max = max(cols[0].Max, ansi.StringWidth(table.Clean(s.Name)))
		cols[5].Max = max(cols[5].Max, ansi.StringWidth(table.Clean(s.Address)))
	}
	return cols
}

// Source renders one key source: name, kind, health (in its class), key
// count, last sync, address (muted).
func Source(s api.SourceInfo, now time.Time) Row {
	return Row{
		Cells:   []string{s.Name, s.Kind, HealthLabel(s.Health), strconv.Itoa(s.Keys), Ago(s.LastSync, now), s.Address},
		Classes: []string{"", "", HealthClass(string(s.Health)), "", "", ClassMuted},
	}
}

// HealthLabel is the colour-independent word for a source's health.
func HealthLabel(h engine.Health) string {
	switch h {
	case engine.HealthOK:
		return "● ok"
	case engine.HealthDegraded:
		return "✖ DEGRADED"
	}
	return "? unknown"
}

// Ago says how long ago t was ("3m ago"), or "never".
func Ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	d := now.Sub(*t)
	if d < 0 {
		return "in " + engine.HumanDuration(d)
	}
	return engine.HumanDuration(d) + " ago"
}

// The cells of a ring generation's row (Generation).
const (
	GenRole = iota
	GenName
	GenKeyID
	GenFingerprint
	GenState
	GenAge
)

// GenerationColumns are a ring's columns in the Sources pane, indexed like
// Generation's cells.
func GenerationColumns() []table.Column {
	return []table.Column{
		GenRole:        {Title: "", Width: 10, Priority: 0},
		GenName:        {Title: "GENERATION", Width: 14, Max: 32, Priority: 0},
		GenKeyID:       {Title: "KEY ID", Width: 8, Max: 10, Priority: 2},
		GenFingerprint: {Title: "FINGERPRINT", Width: 12, Max: 24, Priority: 1},
		GenState:       {Title: "STATE", Width: 11, Priority: 1},
		GenAge:         {Title: "AGE", Width: 7, Priority: 3},
	}
}

// Generation renders one generation of an application's key ring: its role
// (the one that encrypts, the one the next rotation pushes out when the ring
// is full, or one that only decrypts), name, short id, fingerprint, state
// and age (since activation, else creation; a dash when neither is known).
func Generation(g api.GenerationInfo, outNext bool, now time.Time) Row {
	role, class := "decrypts", ClassMuted
	switch {
	case g.Encrypts:
		role, class = "▶ encrypts", ClassEncrypts
	case outNext:
		role, class = "◀ out next", ClassWarn
	}
	born := g.Activated
	if born == nil {
		born = g.Created
	}
	age := Dash
	if born != nil {
		age = engine.HumanDuration(now.Sub(*born))
	}
	return Row{
		Cells:   []string{role, g.Name, g.KeyID, ShortFingerprint(g.Fingerprint), string(g.State), age},
		Classes: []string{class, "", "", ClassMuted, StateClass(string(g.State)), ""},
	}
}
