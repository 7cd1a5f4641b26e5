package report

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func tp(t time.Time) *time.Time { return &t }

func TestAgingEntries(t *testing.T) {
	th := engine.DefaultThresholds()
	midnight := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	keys := []engine.Key{
		{ID: "kms/today", Source: "kms", Name: "today", State: engine.StateActive, Created: tp(now.Add(-10 * day)), Expires: &midnight},
		{ID: "kms/noexpiry", Source: "kms", Name: "noexpiry", State: engine.StateActive, Created: tp(now.Add(-300 * day))},
		{ID: "kms/noexpiry-young", Source: "kms", Name: "noexpiry-young", State: engine.StateActive, Created: tp(now.Add(-10 * day))},
		// Deleted in the cloud and recovered: the inventory no longer has a deletion date.
		{ID: "az/recovered", Source: "az", Name: "recovered", State: engine.StateActive, Created: tp(now.Add(-20 * day)), Expires: tp(now.Add(200 * day))},
		{ID: "az/gone", Source: "az", Name: "gone", State: engine.StateDeleted, Created: tp(now.Add(-900 * day)), Deleted: tp(now.Add(-5 * day)), PurgeAt: tp(now.Add(85 * day))},
		{ID: "az/retired", Source: "az", Name: "retired", State: engine.StateDeactivated, Created: tp(now.Add(-900 * day)), Deactivated: tp(now.Add(-100 * day))},
	}
	got := Aging(keys, DefaultAgingRange(now), now, th)
	want := []struct {
		key, kind string
		past      bool
		bucket    engine.Bucket
	}{
		{"az/gone", MilestoneDeleted, true, engine.BucketRetired},
		{"kms/today", MilestoneExpires, true, engine.BucketExpired},
		{"kms/noexpiry", MilestoneRotationDue, false, engine.BucketHealthy},
		{"az/gone", MilestonePurge, false, engine.BucketRetired},
	}
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("%s %s %s", g.Date, g.Milestone, g.KeyID)
		}
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.KeyID != w.key || g.Milestone != w.kind || g.Past != w.past || g.Bucket != w.bucket {
			t.Errorf("entry %d: %s %s past=%v %s, want %s %s past=%v %s", i, g.KeyID, g.Milestone, g.Past, g.Bucket, w.key, w.kind, w.past, w.bucket)
		}
	}
}

func TestActivityAcrossTimeZonesAndOutOfOrder(t *testing.T) {
	ny := time.FixedZone("EST", -5*3600)
	events := []engine.Event{
		{Time: time.Date(2026, 11, 22, 23, 30, 0, 0, ny), Operation: engine.OpRotated, Origin: engine.OriginKeyward}, // 04:30 UTC on the 23rd
		{Time: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Operation: engine.OpDeleted, Origin: engine.OriginSource},
		{Time: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Operation: engine.OpCreated, Origin: engine.OriginSource},
	}
	r := Range{From: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)}
	counts := map[time.Time]int{}
	for _, e := range events {
		counts[e.Time.UTC().Truncate(day)]++
	}
	days := Days(counts, r)
	if len(days) != 3 || days[0].Count != 1 || days[1].Count != 0 || days[2].Count != 2 {
		t.Fatalf("days %+v", days)
	}
	f := ActivityFilter{Origin: engine.OriginSource, Range: Range{From: r.From, To: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}}
	if f.Match(events[2]) || !f.Match(events[1]) {
		t.Fatal("filter by origin and range")
	}
}

func TestUsageListsUnusedKeys(t *testing.T) {
	h := func(hour int, app, key string, e, d int64) UsageHour {
		return UsageHour{Hour: now.Add(time.Duration(-hour) * time.Hour), App: app, KeyID: key, Encrypts: e, Decrypts: d}
	}
	hours := []UsageHour{h(1, "crm", "kms/crm.5", 10, 4), h(2, "crm", "kms/crm.5", 5, 0), h(3, "crm", "kms/crm.4", 0, 7),
		h(30*24, "hr", "kms/hr.2", 99, 99)} // outside the range
	cands := []engine.Key{{ID: "kms/crm.5", State: engine.StateActive}, {ID: "kms/crm.4", State: engine.StateDeactivated},
		{ID: "kms/hr.2", State: engine.StateActive, Application: "hr"}, {ID: "kms/hr.0", State: engine.StateDestroyed}}
	u := BuildUsage(hours, cands, Range{From: now.Add(-7 * day), To: now})
	if len(u.Rows) != 2 || u.Rows[0].KeyID != "kms/crm.5" || u.Rows[0].Encrypts != 15 || u.Rows[0].Decrypts != 4 {
		t.Fatalf("rows %+v", u.Rows)
	}
	if len(u.Unused) != 1 || u.Unused[0].ID != "kms/hr.2" {
		t.Fatalf("unused %+v (a destroyed key is not a retirement candidate)", u.Unused)
	}
	if len(u.Apps) != 1 || u.Apps[0].Encrypts != 15 || u.Apps[0].Decrypts != 11 {
		t.Fatalf("apps %+v", u.Apps)
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"now", "today", "-90d", "+30d", "-1y", "2026-11-23", "2026-11-23T08:00:00Z", "-", "+99999999d", "d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseWhen(s, now)
		if err == nil && got.IsZero() {
			t.Fatalf("%q parsed to the zero time", s)
		}
		if err != nil && !strings.Contains(err.Error(), "is not a time") {
			t.Fatalf("%q: unclear error %v", s, err)
		}
	})
}

// A purge milestone is listed only for a key still waiting for it: a key
// already purged (or recovered) keeps its old date, which is no milestone.
func TestPurgeMilestoneOnlyWhileDeleted(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	purgeAt, deleted := now.AddDate(0, 0, 89), now.Add(-time.Hour)
	keys := []engine.Key{
		{ID: "v/purged/1", Name: "purged", State: engine.StatePurged, Deleted: &deleted, PurgeAt: &purgeAt, Destroyed: &now},
		{ID: "v/waiting/1", Name: "waiting", State: engine.StateDeleted, Deleted: &deleted, PurgeAt: &purgeAt},
	}
	var purges []string
	for _, e := range Aging(keys, DefaultAgingRange(now), now, engine.DefaultThresholds()) {
		if e.Milestone == MilestonePurge {
			purges = append(purges, e.Name)
		}
	}
	if strings.Join(purges, ",") != "waiting" {
		t.Errorf("purge milestones for %v, want only the soft-deleted key", purges)
	}
}

// A key's last use is the latest use recorded, not the start of its hour;
// an hour without it (older data) counts from its start.
func TestUsageLastIsTheLastUse(t *testing.T) {
	h := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	u := BuildUsage([]UsageHour{
		{Hour: h.Add(-time.Hour), App: "crm", KeyID: "k", Encrypts: 1},
		{Hour: h, App: "crm", KeyID: "k", Encrypts: 1, Last: h.Add(59 * time.Minute)},
		{Hour: h.Add(-3 * time.Hour), App: "crm", KeyID: "old", Decrypts: 1},
	}, nil, Range{From: h.Add(-24 * time.Hour), To: h.Add(time.Hour)})
	last := map[string]time.Time{}
	for _, r := range u.Rows {
		last[r.KeyID] = r.Last
	}
	if !last["k"].Equal(h.Add(59*time.Minute)) || !last["old"].Equal(h.Add(-3*time.Hour)) {
		t.Errorf("last uses %v", last)
	}
}

// A range ParseRange accepts is one the daemon can serve: not empty, and a
// report's no longer than MaxRangeDays; a refusal names what is wrong.
func FuzzParseRange(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"-90d", "+90d"}, {"2026-12-01", "2026-11-01"}, {"1990-01-01", "now"}, {"today", ""}, {"x", "y"}} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, from, to string, isReport bool) {
		def := Range{}
		if isReport {
			def = DefaultAgingRange(now)
		}
		rg, err := ParseRange(from, to, now, def)
		if err != nil {
			if m := err.Error(); !strings.Contains(m, "is not a time") && !strings.Contains(m, "date range") {
				t.Fatalf("%q %q: unclear error %v", from, to, err)
			}
			return
		}
		if rg.From.IsZero() && rg.To.IsZero() {
			if isReport || strings.TrimSpace(from) != "" || strings.TrimSpace(to) != "" {
				t.Fatalf("%q %q: no range", from, to)
			}
			return
		}
		if !rg.From.Before(rg.To) || (isReport && rg.To.Sub(rg.From) > MaxRangeDays*24*time.Hour) {
			t.Fatalf("%q %q: accepted %v", from, to, rg)
		}
	})
}
