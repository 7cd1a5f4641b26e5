package render

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/tui/table"
)

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

// Report columns are sized by their content (Max 0); Width is the narrowest
// one may be squeezed to, and a higher Priority is dropped first.
var (
	agingColumns = []table.Column{{Title: "DATE", Width: 10}, {Title: "MILESTONE", Width: 8, Priority: 1}, {Title: "KEY", Width: 12},
		{Title: "VER", Width: 3}, {Title: "SOURCE", Width: 6, Priority: 3}, {Title: "STATE", Width: 6, Priority: 2}, {Title: "AGING", Width: 7}, {Title: "REASON", Width: 8, Priority: 4}}
	agingHeader     = api.AgingCSVHeader
	activityColumns = []table.Column{{Title: "TIME", Width: 16}, {Title: "OPERATION", Width: 8}, {Title: "KEY", Width: 12},
		{Title: "ACTOR", Width: 5, Priority: 3}, {Title: "ORIGIN", Width: 6, Priority: 2}, {Title: "DETAILS", Width: 8, Priority: 4}}
	activityHeader = api.ActivityCSVHeader
	usageColumns   = []table.Column{{Title: "APP", Width: 4}, {Title: "KEY", Width: 12}, {Title: "ENCRYPTS", Width: 6, Right: true},
		{Title: "DECRYPTS", Width: 6, Right: true}, {Title: "LAST USE", Width: 10, Priority: 1}}
	usageHeader = api.UsageCSVHeader
)

// AgingEntry renders one milestone of the aging report; the row's class is
// the key's aging bucket. The version, short as the Keys pane shows it,
// tells apart the versions of one cloud key.
func AgingEntry(e report.AgingEntry, now time.Time) Row {
	return Row{
		Cells: []string{When(e.Date, now), e.Milestone, e.Name, ShortVersion(e.Version), e.Source, string(e.State), string(e.Bucket), e.Reason},
		Raw:   api.AgingCSVRecord(e),
		Class: string(e.Bucket),
	}
}

// agingVersion is the index of the aging table's version column.
const agingVersion = 3

// Aging renders the aging report's entries. The version column is kept at any width (it is what tells two versions of one key apart; the name gives way first) and shows only
// when an entry has a version (a cloud key's): an inventory of keys
// without versions keeps its room for the source.
func Aging(entries []report.AgingEntry, now time.Time) Table {
	t := Build(agingColumns, agingHeader, entries, func(e report.AgingEntry) Row { return AgingEntry(e, now) })
	if slices.ContainsFunc(entries, func(e report.AgingEntry) bool { return e.Version != "" }) {
		return t
	}
	t.Columns = slices.Delete(slices.Clone(t.Columns), agingVersion, agingVersion+1)
	for i := range t.Rows {
		t.Rows[i].Cells = slices.Delete(t.Rows[i].Cells, agingVersion, agingVersion+1)
	}
	return t
}

// Event renders one event of the activity log; the row's class is its
// origin.
func Event(e engine.Event) Row {
	// The key column names a key or nothing: an event about no key (a
	// refused request, a source outage) says so; who acted is in the
	// actor column, where it came from in the details.
	key := Dash
	if e.KeyID != "" {
		key = shortKeyID(e.KeyID)
	}
	return Row{
		Cells: []string{e.Time.UTC().Format("2006-01-02 15:04"), e.Operation, key, e.Actor, string(e.Origin), e.Details},
		Raw:   api.ActivityCSVRecord(e),
		Class: string(e.Origin),
	}
}

// Activity renders events.
func Activity(events []engine.Event) Table {
	return Build(activityColumns, activityHeader, events, Event)
}

// Usage rows' classes.
const (
	ClassUsed   = "used"
	ClassUnused = "unused"
)

// UsageRow renders one application's use of one key generation.
func UsageRow(r report.UsageRow, now time.Time) Row {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return Row{
		Cells: []string{r.App, r.KeyID, n(r.Encrypts), n(r.Decrypts), When(r.Last, now)},
		Raw:   api.UsageCSVRecord(r),
		Class: ClassUsed,
	}
}

// UnusedKey renders a key nobody used in the range: a retirement candidate.
func UnusedKey(k engine.Key) Row {
	return Row{
		Cells: []string{k.Application, k.ID, "0", "0", "never in range"},
		Raw:   api.UnusedCSVRecord(k),
		Class: ClassUnused,
	}
}

// Usage renders the usage report: its rows, then the unused keys.
func Usage(u report.Usage, now time.Time) Table {
	t := Build(usageColumns, usageHeader, u.Rows, func(r report.UsageRow) Row { return UsageRow(r, now) })
	for _, k := range u.Unused {
		t.Rows = append(t.Rows, UnusedKey(k))
	}
	return t
}

// shortKeyID shortens the version of a source/name/version id for
// display: an Azure version is a long hex string that would push
// everything else off an 80-column screen. The version is the last part
// (a Google key's name holds slashes: location/ring/key), and only a long
// hex one is cut, so a name is never. Exports keep the full id.
func shortKeyID(id string) string {
	i := strings.LastIndexByte(id, '/')
	if i < 0 || strings.Count(id, "/") < 2 {
		return id
	}
	v := id[i+1:]
	if len(v) <= 8 || strings.Trim(v, "0123456789abcdefABCDEF") != "" {
		return id
	}
	return id[:i+1] + v[:6] + "…"
}
