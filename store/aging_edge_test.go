package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestAgingCountsKeptAtTheEdgesOfTime: keys dated in year 1, before 1970
// (negative milliseconds), in year 9999, with no dates at all or a
// rotation period of centuries; instants as far, between milliseconds,
// and in zones other than UTC. The kept counts equal engine.Classify's,
// key by key, at every one of them.
func TestAgingCountsKeptAtTheEdgesOfTime(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	th := engine.DefaultThresholds()
	year1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	y9999 := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
	epoch := time.Unix(0, 0).UTC()
	dates := []*time.Time{nil, &year1, &y9999, &epoch}
	for _, d := range []time.Time{year1.Add(time.Millisecond), y9999.Add(-24 * time.Hour), epoch.Add(-time.Millisecond),
		epoch.Add(-36 * time.Hour), now.Add(-90 * 24 * time.Hour), now.Add(30 * 24 * time.Hour)} {
		d := d
		dates = append(dates, &d)
	}
	periods := []time.Duration{0, time.Millisecond, 200 * 365 * 24 * time.Hour, 90 * 24 * time.Hour}
	var c Change
	c.Source = "kms"
	n := 0
	for _, e := range dates {
		for _, cr := range dates {
			for _, p := range periods {
				for _, st := range []engine.State{engine.StateActive, engine.StateDestroyed} {
					n++
					name := fmt.Sprintf("edge.key.%d", n)
					c.Upsert = append(c.Upsert, engine.Key{ID: engine.KeyID("kms", name, ""), Source: "kms", Name: name,
						State: st, Expires: e, Created: cr, RotateAfter: engine.Duration(p)})
				}
			}
		}
	}
	if _, err := s.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	paris := time.FixedZone("UTC+1", 3600)
	samoa := time.FixedZone("UTC-11", -11*3600)
	var ats []time.Time
	for _, d := range dates[1:] {
		for _, off := range []time.Duration{-time.Millisecond, -time.Millisecond / 2, 0, time.Millisecond / 2, time.Millisecond,
			-30 * 24 * time.Hour, -7 * 24 * time.Hour, 90 * 24 * time.Hour} {
			at := d.Add(off)
			ats = append(ats, at, at.In(paris), at.In(samoa))
		}
	}
	ats = append(ats, now.In(paris), now.In(samoa), now.Add(-time.Nanosecond), time.Now())
	checkKept(t, s, th, "keys at the edges of time", ats...)
	// Every key leaves aging: destroyed, then removed.
	for i := range c.Upsert {
		c.Upsert[i].State = engine.StatePurged
	}
	if _, err := s.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	checkKept(t, s, th, "every key purged", ats[:12]...)
	for _, k := range c.Upsert {
		c.Remove = append(c.Remove, k.ID)
	}
	c.Upsert = nil
	if _, err := s.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	checkKept(t, s, th, "every key removed", ats[:12]...)
}
