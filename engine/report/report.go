// Package report computes keyward's three reports — Key Aging, Key Activity
// and Service/Usage — as pure functions over rows the store returns. It
// draws nothing: tui/render turns its records into the rows the TUI and the
// CLI (table, CSV) share.
package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/keyward/keyward/engine"
)

// Range is a half-open time range [From, To).
type Range struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// DefaultAgingRange is from 90 days ago to 90 days ahead of now.
func DefaultAgingRange(now time.Time) Range {
	return Range{From: now.AddDate(0, 0, -90), To: now.AddDate(0, 0, 90)}
}

// DefaultActivityRange is the last 30 days up to now.
func DefaultActivityRange(now time.Time) Range {
	return Range{From: now.AddDate(0, 0, -30), To: now.Add(time.Second)}
}

// Contains reports whether t falls in the range.
func (r Range) Contains(t time.Time) bool { return !t.Before(r.From) && t.Before(r.To) }

// MaxRangeDays is the longest range a report covers (ten years), so a
// report's answer and its per-day series stay small whatever is asked.
const MaxRangeDays = 3660

// Validate refuses empty and reversed ranges.
func (r Range) Validate() error {
	if !r.From.Before(r.To) {
		return fmt.Errorf("date range %s to %s is empty: --from must be before --to", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly))
	}
	return nil
}

// ValidateReport is Validate for a report, which also refuses a range
// longer than MaxRangeDays.
func (r Range) ValidateReport() error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.To.Sub(r.From) > MaxRangeDays*24*time.Hour {
		return fmt.Errorf("date range %s to %s is longer than the maximum of %d days (ten years); ask for a shorter range",
			r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), MaxRangeDays)
	}
	return nil
}

// Milestone kinds of the aging report: the dates a key is tracked by.
const (
	MilestoneExpires     = "expires"
	MilestoneRotationDue = "rotation-due"
	MilestoneDeactivated = "deactivated"
	MilestoneDestroyed   = "destroyed"
	MilestoneDeleted     = "deleted"
	MilestonePurge       = "purge"
)

// AgingEntry is one dated milestone of one key that falls in the range.
type AgingEntry struct {
	Date      time.Time     `json:"date"`
	Milestone string        `json:"milestone"`
	Past      bool          `json:"past"`
	KeyID     string        `json:"key_id"`
	Source    string        `json:"source"`
	Name      string        `json:"name"`
	Version   string        `json:"version,omitempty"` // a cloud key's versions share its name; empty: no versions
	State     engine.State  `json:"state"`
	Bucket    engine.Bucket `json:"bucket"`
	Reason    string        `json:"reason"`
}

// Milestones lists every dated milestone of k, whether or not in a range.
// Rotation is due only for keys that can still be used (not retired).
func Milestones(k engine.Key, t engine.Thresholds) []struct {
	Kind string
	Date time.Time
} {
	var out []struct {
		Kind string
		Date time.Time
	}
	add := func(kind string, d *time.Time) {
		if d != nil {
			out = append(out, struct {
				Kind string
				Date time.Time
			}{kind, *d})
		}
	}
	add(MilestoneExpires, k.Expires)
	switch k.State {
	case engine.StateActive, engine.StateDisabled, engine.StatePreActive:
		add(MilestoneRotationDue, engine.RotationDue(k, t))
	}
	add(MilestoneDeactivated, k.Deactivated)
	add(MilestoneDestroyed, k.Destroyed)
	add(MilestoneDeleted, k.Deleted)
	if k.State == engine.StateDeleted { // purged already, or recovered: no purge to come
		add(MilestonePurge, k.PurgeAt)
	}
	return out
}

// Aging lists the milestones of keys that fall in r, oldest first (ties by
// key ID, then milestone), each with the key's aging class at now.
func Aging(keys []engine.Key, r Range, now time.Time, t engine.Thresholds) []AgingEntry {
	var out []AgingEntry
	for _, k := range keys {
		var cls *engine.Aging
		for _, m := range Milestones(k, t) {
			if !r.Contains(m.Date) {
				continue
			}
			if cls == nil {
				c := engine.Classify(k, now, t)
				cls = &c
			}
			out = append(out, AgingEntry{Date: m.Date.UTC(), Milestone: m.Kind, Past: !m.Date.After(now), KeyID: k.ID,
				Source: k.Source, Name: k.Name, Version: k.Version, State: k.State, Bucket: cls.Bucket, Reason: cls.Reason})
		}
	}
	SortAging(out)
	return out
}

// SortAging orders entries by date, key ID, milestone.
func SortAging(e []AgingEntry) {
	sort.SliceStable(e, func(i, j int) bool {
		if !e[i].Date.Equal(e[j].Date) {
			return e[i].Date.Before(e[j].Date)
		}
		if e[i].KeyID != e[j].KeyID {
			return e[i].KeyID < e[j].KeyID
		}
		return e[i].Milestone < e[j].Milestone
	})
}

// BucketCount is one bar of the aging summary.
type BucketCount struct {
	Bucket engine.Bucket `json:"bucket"`
	Count  int           `json:"count"`
}

// AgingSummary is the count of keys per bucket, overall and per source.
type AgingSummary struct {
	At       time.Time                `json:"at"`
	Buckets  []BucketCount            `json:"buckets"`
	BySource map[string][]BucketCount `json:"by_source"`
	Total    int                      `json:"total"`
}

// SummarizeCounts turns raw per-source bucket counts (as the store's GROUP BY
// returns them) into a summary in the thresholds' bucket order, every bucket
// present even when zero.
func SummarizeCounts(counts map[string]map[engine.Bucket]int, now time.Time, t engine.Thresholds) AgingSummary {
	s := AgingSummary{At: now, BySource: map[string][]BucketCount{}}
	total := map[engine.Bucket]int{}
	for src, m := range counts {
		for _, b := range t.Buckets() {
			s.BySource[src] = append(s.BySource[src], BucketCount{b, m[b]})
			total[b] += m[b]
			s.Total += m[b]
		}
	}
	for _, b := range t.Buckets() {
		s.Buckets = append(s.Buckets, BucketCount{b, total[b]})
	}
	return s
}

// SummarizeKeys classifies keys and counts them (the reference the SQL
// summary is tested against).
func SummarizeKeys(keys []engine.Key, now time.Time, t engine.Thresholds) AgingSummary {
	counts := map[string]map[engine.Bucket]int{}
	for _, k := range keys {
		if counts[k.Source] == nil {
			counts[k.Source] = map[engine.Bucket]int{}
		}
		counts[k.Source][engine.Classify(k, now, t).Bucket]++
	}
	return SummarizeCounts(counts, now, t)
}

// Entry builds the aging entry of one milestone of k (what the store's
// milestone pages are turned into).
func Entry(k engine.Key, kind string, date, now time.Time, t engine.Thresholds) AgingEntry {
	c := engine.Classify(k, now, t)
	return AgingEntry{Date: date.UTC(), Milestone: kind, Past: !date.After(now), KeyID: k.ID, Source: k.Source, Name: k.Name,
		Version: k.Version, State: k.State, Bucket: c.Bucket, Reason: c.Reason}
}
