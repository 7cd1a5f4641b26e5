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

// CountDays counts events per UTC day (the reference for the store's query).
func CountDays(events []engine.Event) map[time.Time]int {
	m := map[time.Time]int{}
	for _, e := range events {
		m[e.Time.UTC().Truncate(24*time.Hour)]++
	}
	return m
}

// OutOfBand reports whether an event happened in a KMS or cloud without
// going through keyward: the comparison view lists exactly these.
func OutOfBand(e engine.Event) bool { return e.Origin == engine.OriginSource }

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

// Sparkline draws counts as block characters, one per value.
func Sparkline(values []int) string {
	blocks := []rune(" ▁▂▃▄▅▆▇█")
	max := 0
	for _, v := range values {
		if v > max {
			max = v
		}
	}
	out := make([]rune, len(values))
	for i, v := range values {
		if max == 0 || v == 0 {
			out[i] = blocks[0]
			if v > 0 {
				out[i] = blocks[1]
			}
			continue
		}
		idx := 1 + v*(len(blocks)-2)/max
		out[i] = blocks[idx]
	}
	return string(out)
}

// Resample sums adjacent values so that at most n remain, for a sparkline
// that must fit a width (a year of days in 60 columns).
func Resample(values []int, n int) []int {
	if n <= 0 || len(values) <= n {
		return values
	}
	out := make([]int, n)
	for i, v := range values {
		out[i*n/len(values)] += v
	}
	return out
}
