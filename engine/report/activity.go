package report

import (
	"time"

	"github.com/keyward/keyward/engine"
)

// DayCount is the number of events on one UTC day.
type DayCount struct {
	Day   time.Time `json:"day"`
	Count int       `json:"count"`
}

// Days fills in every UTC day of r with its count from counts (keyed by the
// day's midnight UTC), zero where absent, for the activity sparkline.
func Days(counts map[time.Time]int, r Range) []DayCount {
	var out []DayCount
	start := r.From.UTC().Truncate(24 * time.Hour)
	for d := start; d.Before(r.To); d = d.Add(24 * time.Hour) {
		out = append(out, DayCount{Day: d, Count: counts[d]})
	}
	return out
}

// ActivityFilter selects activity; empty fields match all.
type ActivityFilter struct {
	KeyID     string        `json:"key_id,omitempty"`
	Source    string        `json:"source,omitempty"`
	Operation string        `json:"operation,omitempty"`
	Actor     string        `json:"actor,omitempty"`
	Origin    engine.Origin `json:"origin,omitempty"`
	Range     Range         `json:"range"`
}

// Match applies the filter to one event (used to check the store's query and
// to filter events arriving live on the stream).
func (f ActivityFilter) Match(e engine.Event) bool {
	return (f.KeyID == "" || e.KeyID == f.KeyID) && (f.Source == "" || e.Source == f.Source) &&
		(f.Operation == "" || e.Operation == f.Operation) && (f.Actor == "" || e.Actor == f.Actor) &&
		(f.Origin == "" || e.Origin == f.Origin) && (f.Range.From.IsZero() || f.Range.Contains(e.Time))
}
