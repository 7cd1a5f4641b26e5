package store

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// classified counts every key's engine.Classify bucket at at: the brute
// force the kept counts must equal.
func classified(t *testing.T, s *Store, at time.Time, th engine.Thresholds) map[string]map[engine.Bucket]int {
	t.Helper()
	rows, err := s.db.Query(`SELECT ` + keyColumns + ` FROM keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[engine.Bucket]int{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			t.Fatal(err)
		}
		if out[k.Source] == nil {
			out[k.Source] = map[engine.Bucket]int{}
		}
		out[k.Source][engine.Classify(k, at, th).Bucket]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkKept compares the kept counts with the brute force at each instant.
func checkKept(t *testing.T, s *Store, th engine.Thresholds, when string, ats ...time.Time) {
	t.Helper()
	for _, at := range ats {
		got, ok, err := s.AgingCountsKept(context.Background(), at, th)
		if err != nil || !ok {
			t.Fatalf("%s: kept counts at %s: ok %v, %v", when, at.Format(time.RFC3339Nano), ok, err)
		}
		if want := classified(t, s, at, th); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: at %s the kept counts are\n%v\nthe keys classified one by one\n%v", when, at.Format(time.RFC3339Nano), got, want)
		}
	}
}

// randomAgingKey is a key whose dates fall around base, often on a day's
// edge or a millisecond from it, so that instants near base cross them.
func randomAgingKey(rng *rand.Rand, src string, base time.Time) engine.Key {
	date := func() *time.Time {
		if rng.Intn(6) == 0 {
			return nil
		}
		d := base.Truncate(24 * time.Hour).Add(time.Duration(rng.Intn(1600)-800) * 12 * time.Hour)
		switch rng.Intn(4) {
		case 0: // on the edge of a day
		case 1:
			d = d.Add(time.Duration(rng.Intn(3)-1) * time.Millisecond)
		default:
			d = d.Add(time.Duration(rng.Int63n(int64(24 * time.Hour)))).Truncate(time.Millisecond)
		}
		return &d
	}
	states := []engine.State{engine.StateActive, engine.StateActive, engine.StateActive, engine.StatePreActive, engine.StateDisabled,
		engine.StateDeactivated, engine.StateCompromised, engine.StateDestroyed, engine.StateDeleted, engine.StatePurged}
	name := fmt.Sprintf("app%d.key.%d", rng.Intn(4), rng.Intn(60))
	k := engine.Key{ID: engine.KeyID(src, name, ""), Source: src, Name: name, State: states[rng.Intn(len(states))],
		Created: date(), Expires: date()}
	if rng.Intn(3) == 0 {
		k.Rotated = date()
	}
	switch rng.Intn(5) {
	case 0:
		k.RotateAfter = engine.Duration(time.Duration(rng.Intn(400)) * 24 * time.Hour)
	case 1:
		k.RotateAfter = engine.Duration(time.Duration(rng.Int63n(int64(100 * 24 * time.Hour))).Truncate(time.Millisecond))
	}
	return k
}

// instants are the instants a check looks at: base, random ones around it,
// and each key's dates and a millisecond either side (where keys change
// bucket).
func instants(t *testing.T, s *Store, rng *rand.Rand, base time.Time, th engine.Thresholds) []time.Time {
	t.Helper()
	out := []time.Time{base, base.Add(time.Duration(rng.Int63n(int64(400*24*time.Hour))) - 200*24*time.Hour)}
	rows, err := s.db.Query(`SELECT ` + keyColumns + ` FROM keys ORDER BY random() LIMIT 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			t.Fatal(err)
		}
		var edges []time.Time
		if k.Expires != nil {
			edges = append(edges, *k.Expires)
			for _, d := range th.ExpiringDays {
				edges = append(edges, k.Expires.Add(-time.Duration(d)*24*time.Hour))
			}
		}
		if due := engine.RotationDue(k, th); due != nil {
			edges = append(edges, *due)
		}
		for _, e := range edges {
			out = append(out, e.Add(-time.Millisecond), e, e.Add(time.Millisecond/2), e.Add(time.Millisecond))
		}
	}
	return out
}

// TestAgingCountsKeptAreExact: random inserts, changes of every date, the
// state and the source, unchanged upserts, removals and a dropped source,
// under two sets of thresholds; after each round the kept counts equal
// engine.Classify's key by key at many instants, including the instants
// keys cross from one bucket into the next.
func TestAgingCountsKeptAreExact(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	srcs := []string{"kms", "vault", "aws"}
	for _, src := range srcs {
		if err := s.EnsureSource(ctx, src, "kmip", ""); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(18))
	live := map[string]engine.Key{}
	th := engine.DefaultThresholds()
	if rebuilt, err := s.PrepareAging(ctx, th); err != nil || rebuilt {
		t.Fatalf("a new database is kept for the default thresholds: rebuilt %v, %v", rebuilt, err)
	}
	for round := 0; round < 60; round++ {
		if round == 30 {
			// Other thresholds: the table is rebuilt, then kept for them.
			th = engine.Thresholds{ExpiringDays: []int{14, 1, 60}, RotationPeriod: 45*24*time.Hour + 90*time.Minute}
			if rebuilt, err := s.PrepareAging(ctx, th); err != nil || !rebuilt {
				t.Fatalf("new thresholds: rebuilt %v, %v", rebuilt, err)
			}
			if _, ok, _ := s.AgingCountsKept(ctx, now, engine.DefaultThresholds()); ok {
				t.Fatal("counts kept for other thresholds were used")
			}
		}
		src := srcs[rng.Intn(len(srcs))]
		c := Change{Source: src}
		for i := 0; i < 25; i++ {
			k := randomAgingKey(rng, src, now)
			old, exists := live[k.ID]
			switch op := rng.Intn(6); {
			case op == 0 && exists:
				c.Remove = append(c.Remove, k.ID)
				delete(live, k.ID)
				continue
			case op == 1 && exists:
				c.Upsert = append(c.Upsert, old) // unchanged
				continue
			case op == 2 && exists:
				// One column at a time, as a sync sees a key change.
				k = old
				switch rng.Intn(5) {
				case 0:
					k.Expires = randomAgingKey(rng, src, now).Expires
				case 1:
					k.Created = randomAgingKey(rng, src, now).Created
				case 2:
					k.Rotated = randomAgingKey(rng, src, now).Created
				case 3:
					k.RotateAfter = engine.Duration(time.Duration(rng.Intn(30)) * 24 * time.Hour)
				default:
					k.State = randomAgingKey(rng, src, now).State
				}
			}
			c.Upsert = append(c.Upsert, k)
			live[k.ID] = k
		}
		// Apply refuses a key twice in a change only through its order:
		// the last write wins, as in live.
		if _, err := s.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
		if round%7 == 3 {
			// A key moved to another source by hand (no connector does,
			// but the trigger must follow any write).
			to := srcs[rng.Intn(len(srcs))]
			if _, err := s.db.Exec(`UPDATE keys SET source = ? WHERE id = (SELECT id FROM keys ORDER BY random() LIMIT 1)`, to); err != nil {
				t.Fatal(err)
			}
		}
		checkKept(t, s, th, fmt.Sprintf("round %d", round), instants(t, s, rng, now, th)...)
	}
	if err := s.DropSource(ctx, "vault", "kmip"); err != nil {
		t.Fatal(err)
	}
	checkKept(t, s, th, "after dropping a source", now, now.AddDate(0, 3, 0))
	var zeroless int
	if err := s.db.QueryRow(`SELECT count(*) FROM aging_days WHERE source = 'vault' AND n != 0`).Scan(&zeroless); err != nil || zeroless != 0 {
		t.Fatalf("a dropped source keeps %d counted days (%v)", zeroless, err)
	}
}

// TestAgingDaysMigrationCountsExistingKeys: migration 0019 builds the
// table from the keys already there.
func TestAgingDaysMigrationCountsExistingKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, migrationBefore(t, "_aging_days.sql"))
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	for _, src := range []string{"kms", "vault"} {
		if err := s.EnsureSource(ctx, src, "kmip", ""); err != nil {
			t.Fatal(err)
		}
		c := Change{Source: src}
		for i := 0; i < 300; i++ {
			c.Upsert = append(c.Upsert, randomAgingKey(rng, src, now))
		}
		withLaterKeyColumns(t, s, func() {
			if _, err := s.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
		})
	}
	s.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkKept(t, s, engine.DefaultThresholds(), "after the migration", instants(t, s, rng, now, engine.DefaultThresholds())...)
}

// TestBucketPageFollowsItsSize: with the bucket's size known, a page of a
// small expiry bucket is read through the expiry index and sorted, and a
// page of a large one walks the name order and stops after the page
// (read through the expiry index, it sorted the whole bucket: 58 ms for
// expiring-90d at a million keys); either way the page is the bucket's
// first keys by name, as engine.Classify puts them.
func TestBucketPageFollowsItsSize(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	var keys []engine.Key
	for i := 0; i < 2000; i++ {
		name := fmt.Sprintf("k.%04d", (i*7919)%2000)
		exp := now.AddDate(0, 0, 60)
		if i%100 == 0 {
			exp = now.AddDate(0, 0, 3)
		}
		keys = append(keys, engine.Key{ID: "kms/" + name, Source: "kms", Name: name, State: engine.StateActive, Expires: tp(exp)})
	}
	if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: keys}); err != nil {
		t.Fatal(err)
	}
	var plan string
	pageQueryHook = func(query string, args []any) { plan = queryPlan(t, s, query, args...) }
	defer func() { pageQueryHook = nil }()
	th := engine.DefaultThresholds()
	counts, ok, err := s.AgingCountsKept(ctx, now, th)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, tc := range []struct {
		b     engine.Bucket
		total int
		index string
	}{{engine.ExpiringBucket(7), 20, "keys_by_expires"}, {engine.ExpiringBucket(90), 1980, "keys_by_name"}} {
		held := counts["kms"][tc.b]
		page, err := s.Keys(ctx, KeyQuery{Aging: tc.b, Now: now, Thresholds: th, Limit: 5, AgingHeld: &held})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		all, _ := s.SourceKeys(ctx, "kms") // in name order
		for _, k := range all {
			if engine.Classify(k, now, th).Bucket == tc.b && len(want) < 5 {
				want = append(want, k.ID)
			}
		}
		var got []string
		for _, k := range page.Keys {
			got = append(got, k.ID)
		}
		if page.Total != tc.total || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: page %v of %d, want %v of %d", tc.b, got, page.Total, want, tc.total)
		}
		if !strings.Contains(plan, tc.index) {
			t.Fatalf("%s: plan %q, want it to use %s", tc.b, plan, tc.index)
		}
	}
}
