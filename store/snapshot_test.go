package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestKeySnapshotExportsEachKeyOnce: a sync changes keys' sort values and
// removes and adds keys between the pages of an export read from one
// KeySnapshot, for every sort. Each key that existed when the export began
// is exported exactly once, as it was then; none is added or seen twice.
// Read page by page without the snapshot, a key whose state moves past the
// cursor is exported twice and one that moves before it is skipped.
func TestKeySnapshotExportsEachKeyOnce(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	key := func(i int, st engine.State, exp int) engine.Key {
		name := fmt.Sprintf("app.key.%02d", i)
		at := now.Add(time.Duration(exp) * 24 * time.Hour)
		return engine.Key{ID: "kms/" + name, Source: "kms", Name: name, State: st, Expires: &at, Created: &at}
	}
	var start []engine.Key
	for i := 0; i < 30; i++ {
		st := engine.StateActive
		if i%2 == 1 {
			st = engine.StateDeactivated
		}
		start = append(start, key(i, st, i))
	}
	for _, sort := range []string{"", "-name", "state", "-state", "expires", "created", "source"} {
		t.Run("sort="+sort, func(t *testing.T) {
			if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: start}); err != nil {
				t.Fatal(err)
			}
			snap, err := s.KeySnapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			seen := map[string]int{}
			q := KeyQuery{Sort: sort, Limit: 4, Now: now, Thresholds: engine.DefaultThresholds()}
			for page := 0; ; page++ {
				next, err := snap.EachKey(ctx, q, func(k *engine.Key) error {
					seen[k.ID]++
					var i int
					if _, err := fmt.Sscanf(k.Name, "app.key.%d", &i); err != nil || i >= len(start) {
						t.Errorf("%s exported: it was added after the export began", k.ID)
						return nil
					}
					if want := start[i]; k.State != want.State || !k.Expires.Equal(*want.Expires) {
						t.Errorf("%s exported as %s expiring %s, not as it was when the export began", k.ID, k.State, k.Expires)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				// A sync between pages: every key's state flips and its
				// dates move, one key goes, one comes.
				c := Change{Source: "kms", Remove: []string{fmt.Sprintf("kms/app.key.%02d", page%30)},
					Upsert: []engine.Key{key(40+page, engine.StateActive, -page)}}
				for i, k := range start {
					if i == page%30 {
						continue
					}
					st := engine.StateDeactivated
					if (k.State == engine.StateDeactivated) != (page%2 == 1) {
						st = engine.StateActive
					}
					c.Upsert = append(c.Upsert, key(i, st, 60-i-page))
				}
				if _, err := s.Apply(ctx, c); err != nil {
					t.Fatal(err)
				}
				if next == "" {
					break
				}
				q.Cursor = next
			}
			for _, k := range start {
				if seen[k.ID] != 1 {
					t.Errorf("%s exported %d times", k.ID, seen[k.ID])
				}
			}
			if len(seen) != len(start) {
				t.Errorf("%d keys exported, %d existed when the export began", len(seen), len(start))
			}
			// Put back the keys the syncs removed and drop the ones they added.
			var added []string
			for i := 40; i < 60; i++ {
				added = append(added, fmt.Sprintf("kms/app.key.%02d", i))
			}
			if _, err := s.Apply(ctx, Change{Source: "kms", Remove: added}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
