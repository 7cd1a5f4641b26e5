package store

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// randomInventory makes keys with every kind of milestone, some on the same
// date, so paging has ties to get right.
func randomInventory(t *testing.T, s *Store, n int) []engine.Key {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	ctx := context.Background()
	s.EnsureSource(ctx, "kms", "kmip", "")
	s.EnsureSource(ctx, "az", "azure", "")
	day := 24 * time.Hour
	rdate := func() *time.Time {
		if rng.Intn(4) == 0 {
			return nil
		}
		d := now.Add(time.Duration(rng.Intn(400)-200) * day).Truncate(day)
		return &d
	}
	states := []engine.State{engine.StateActive, engine.StateDisabled, engine.StateDeactivated, engine.StateDeleted, engine.StateDestroyed, engine.StatePreActive}
	var keys []engine.Key
	for i := 0; i < n; i++ {
		src := []string{"kms", "az"}[i%2]
		name := fmt.Sprintf("k%03d", i)
		k := engine.Key{ID: engine.KeyID(src, name, ""), Source: src, Name: name, State: states[rng.Intn(len(states))],
			Created: rdate(), Expires: rdate(), Deactivated: rdate()}
		if k.State == engine.StateDeleted {
			k.Deleted, k.PurgeAt = rdate(), rdate()
		}
		if k.State == engine.StateDestroyed {
			k.Destroyed = rdate()
		}
		if rng.Intn(5) == 0 {
			k.RotateAfter = engine.Duration(time.Duration(30+rng.Intn(100)) * day)
		}
		if i%3 == 0 && k.Created != nil {
			// A cloud key that rotated itself: created long before, aging
			// counts from its last rotation (which may be old too).
			c := k.Created.Add(-300 * day)
			k.Created, k.Rotated = &c, rdate()
		}
		keys = append(keys, k)
	}
	if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: filter(keys, "kms")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, Change{Source: "az", Upsert: filter(keys, "az")}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func filter(keys []engine.Key, src string) []engine.Key {
	var out []engine.Key
	for _, k := range keys {
		if k.Source == src {
			out = append(out, k)
		}
	}
	return out
}

func TestMilestonePagesMatchTheReportFunction(t *testing.T) {
	s := open(t)
	keys := randomInventory(t, s, 300)
	th := engine.DefaultThresholds()
	th.RotationPeriod = 180 * 24 * time.Hour
	r := report.DefaultAgingRange(now)
	want := report.Aging(keys, r, now, th)
	if len(want) < 100 {
		t.Fatalf("fixture too thin: %d entries", len(want))
	}
	var got []Milestone
	cur := ""
	for pages := 0; ; pages++ {
		page, next, err := s.Milestones(context.Background(), MilestoneQuery{From: r.From, To: r.To, Period: th.RotationPeriod, Limit: 17, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		cur = next
	}
	if len(got) != len(want) {
		t.Fatalf("SQL pages hold %d milestones, the report function %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Date.Equal(want[i].Date) || got[i].Kind != want[i].Milestone || got[i].Key.ID != want[i].KeyID {
			t.Fatalf("entry %d: SQL %s %s %s, report %s %s %s", i, got[i].Date, got[i].Kind, got[i].Key.ID, want[i].Date, want[i].Milestone, want[i].KeyID)
		}
	}
	// Source filter.
	page, _, _ := s.Milestones(context.Background(), MilestoneQuery{From: r.From, To: r.To, Period: th.RotationPeriod, Source: "az", Limit: 5000})
	for _, m := range page {
		if m.Key.Source != "az" {
			t.Fatalf("source filter leaked %s", m.Key.ID)
		}
	}
}

func TestAgingCountsMatchTheEngine(t *testing.T) {
	s := open(t)
	keys := randomInventory(t, s, 300)
	th := engine.DefaultThresholds()
	counts, err := s.AgingCounts(context.Background(), now, th)
	if err != nil {
		t.Fatal(err)
	}
	got := report.SummarizeCounts(counts, now, th)
	want := report.SummarizeKeys(keys, now, th)
	if got.Total != 300 {
		t.Fatalf("total %d", got.Total)
	}
	for i := range want.Buckets {
		if got.Buckets[i] != want.Buckets[i] {
			t.Errorf("bucket %s: SQL %d, engine %d", want.Buckets[i].Bucket, got.Buckets[i].Count, want.Buckets[i].Count)
		}
	}
}

func TestEventsPerDayAcrossMidnight(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	mid := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{-time.Millisecond, 0, time.Hour, 25 * time.Hour} {
		s.Record(ctx, engine.Event{Time: mid.Add(d), Operation: engine.OpRotated, Actor: "a", Origin: engine.OriginKeyward})
	}
	days, err := s.EventsPerDay(ctx, EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if days[mid.Add(-24*time.Hour)] != 1 || days[mid] != 2 || days[mid.Add(24*time.Hour)] != 1 {
		t.Fatalf("per day %v", days)
	}
}

// TestEventsPerDayTableAgreesWithRawCounts: the daily table (whole days)
// plus raw counts (partial days) give what counting every event gives.
func TestEventsPerDayTableAgreesWithRawCounts(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(3))
	var events []engine.Event
	for i := 0; i < 3000; i++ {
		events = append(events, engine.Event{Time: now.Add(-time.Duration(rng.Int63n(int64(40 * 24 * time.Hour)))),
			Source: []string{"kms", "az"}[rng.Intn(2)], Origin: []engine.Origin{engine.OriginKeyward, engine.OriginSource}[rng.Intn(2)],
			Operation: []string{engine.OpRotated, engine.OpDeleted}[rng.Intn(2)], Actor: "a"})
	}
	if _, err := s.Record(ctx, events...); err != nil {
		t.Fatal(err)
	}
	for _, q := range []EventQuery{
		{From: now.Add(-30*24*time.Hour - 7*time.Hour), To: now.Add(time.Second)},
		{From: now.Add(-10 * 24 * time.Hour), To: now, Source: "az"},
		{From: now.Add(-20 * 24 * time.Hour), To: now.Add(-3 * time.Hour), Origin: engine.OriginSource, Operation: engine.OpDeleted},
		{From: now.Add(-5 * time.Hour), To: now}, // no whole day
	} {
		got, err := s.EventsPerDay(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := map[time.Time]int{}
		if err := s.rawPerDay(ctx, q, want); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("query %+v:\n daily %v\n raw   %v", q, got, want)
		}
	}
}
