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

// counted is the per-source, per-state count of the keys table itself.
func counted(t *testing.T, s *Store) map[string]map[engine.State]int {
	t.Helper()
	out, err := countsBy[engine.State](context.Background(), s, `SELECT source, state, count(*) FROM keys GROUP BY source, state`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// queryPlan is SQLite's plan for query: the detail of each step, joined
// by "; ".
func queryPlan(t testing.TB, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// TestKeyCountsFollowTheInventory: after inserts, state changes, unchanged
// upserts and removals in random order, the kept counts equal a count of
// the keys, and the totals of source/state filters equal count(*).
func TestKeyCountsFollowTheInventory(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	live := applyRandomAppKeys(t, s, 40, func(round int) {
		got, err := s.KeyCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := counted(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: kept counts %v, the keys count %v", round, got, want)
		}
	})
	for _, q := range []KeyQuery{{}, {Source: "kms"}, {State: engine.StateActive}, {Source: "vault", State: engine.StateDestroyed}, {Source: "nowhere"}} {
		page, err := s.Keys(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, k := range live {
			if (q.Source == "" || k.Source == q.Source) && (q.State == "" || k.State == q.State) {
				want++
			}
		}
		if page.Total != want {
			t.Fatalf("%+v: total %d, want %d", q, page.Total, want)
		}
	}
}

// TestKeyCountsMigrationCountsExistingKeys: a database with keys from
// before the counts (schema 10) gets them counted by the migration.
func TestKeyCountsMigrationCountsExistingKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, 11)
	withLaterKeyColumns(t, s, func() { seed(t, s, 7) })
	for _, q := range []string{`DROP TABLE key_counts`, `DROP TRIGGER key_counts_insert`, `DROP TRIGGER key_counts_delete`,
		`DROP TRIGGER key_counts_update`, `PRAGMA user_version = 10`} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s = openFile(t, path)
	defer s.Close()
	got, err := s.KeyCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got["kms"][engine.StateActive] != 7 || len(got) != 1 {
		t.Fatalf("counts after the migration: %v, want kms active 7", got)
	}
}

// TestUnchangedKeyLeavesTheSearchIndex: writing a key again as it is (what
// every sync does for every key) does not rewrite its trigram index
// entry; a rename still does.
func TestUnchangedKeyLeavesTheSearchIndex(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	seed(t, s, 3)
	segments := func() int {
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM keys_search_data`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	k, err := s.Key(ctx, "kms/acme.crm.key.1")
	if err != nil {
		t.Fatal(err)
	}
	before := segments()
	for i := 0; i < 20; i++ {
		if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{k}}); err != nil {
			t.Fatal(err)
		}
	}
	if after := segments(); after != before {
		t.Fatalf("20 unchanged writes of one key changed the search index from %d to %d rows", before, after)
	}
	k.Name = "acme.crm.renamed.1"
	if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{k}}); err != nil {
		t.Fatal(err)
	}
	page, err := s.Keys(ctx, KeyQuery{Text: "renamed"})
	if err != nil || page.Total != 1 {
		t.Fatalf("search after a rename: %d keys, %v", page.Total, err)
	}
}

// TestRareStateIsReadThroughItsIndex: a first page of a state with few
// keys is read through the state index (SQLite's own plan says so), one
// with none runs no page query at all, and a common state still walks
// the name order; none of them walks the whole inventory for a few rows.
func TestRareStateIsReadThroughItsIndex(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	seed(t, s, 2000)
	var retired []engine.Key
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("old.key.%d", i)
		retired = append(retired, engine.Key{ID: "kms/" + name, Source: "kms", Name: name, Algorithm: "AES", State: engine.StateDeactivated})
	}
	if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: retired}); err != nil {
		t.Fatal(err)
	}
	var plan string
	ran := false
	pageQueryHook = func(query string, args []any) {
		ran = true
		plan = queryPlan(t, s, query, args...)
	}
	defer func() { pageQueryHook = nil }()
	for _, tc := range []struct {
		q     KeyQuery
		total int
		index string // the index the plan must name, "" for no page query
	}{
		{KeyQuery{State: engine.StatePurged}, 0, ""},
		{KeyQuery{State: engine.StatePurged, Source: "kms"}, 0, ""},
		{KeyQuery{State: engine.StateDeactivated, Limit: 5}, 10, "keys_by_state"},
		{KeyQuery{State: engine.StateDeactivated, Source: "kms", Limit: 5}, 10, "keys_by_state"},
		{KeyQuery{State: engine.StateActive, Limit: 5}, 2000, "keys_by_name"},
	} {
		ran, plan = false, ""
		page, err := s.Keys(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != tc.total || len(page.Keys) != min(tc.total, 5) {
			t.Fatalf("%+v: %d keys of %d, want %d of %d", tc.q, len(page.Keys), page.Total, min(tc.total, 5), tc.total)
		}
		if ran != (tc.index != "") || !strings.Contains(plan, tc.index) {
			t.Fatalf("%+v: page query ran %v with plan %q; want it to use %q", tc.q, ran, plan, tc.index)
		}
	}
	if _, err := s.Keys(ctx, KeyQuery{State: engine.StatePurged, Cursor: "nonsense"}); err != ErrBadCursor {
		t.Fatalf("a bad cursor on an empty state: %v, want ErrBadCursor", err)
	}
}

// checkAppKeyCounts compares AppKeyCount with count(*) of the keys for
// every application, every source set and every state set.
func checkAppKeyCounts(t *testing.T, s *Store, when string) {
	t.Helper()
	ctx := context.Background()
	states := [][]engine.State{{engine.StateActive}, {engine.StateActive, engine.StateDisabled, engine.StateDeactivated}, {engine.StateDestroyed}, nil}
	for _, app := range []string{"", "crm", "hr", "none"} {
		for _, srcs := range [][]string{{"kms"}, {"kms", "vault"}, nil} {
			for _, sts := range states {
				got, err := s.AppKeyCount(ctx, app, srcs, sts)
				if err != nil {
					t.Fatal(err)
				}
				where, args := appKeyFilter(app, srcs, sts)
				var want int
				if err := s.db.QueryRow(`SELECT count(*) FROM keys WHERE `+where, args...).Scan(&want); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("%s: app %q sources %v states %v: kept count %d, the keys count %d", when, app, srcs, sts, got, want)
				}
				keys, err := s.AppKeysByID(ctx, app, srcs, sts, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) != want {
					t.Fatalf("%s: app %q sources %v states %v: %d keys listed, the keys count %d", when, app, srcs, sts, len(keys), want)
				}
			}
		}
	}
}

// migrationBefore is the schema version just before the migration whose
// file name ends with suffix (so the tests follow a renumbering).
func migrationBefore(t *testing.T, suffix string) int {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if strings.HasSuffix(m.name, suffix) {
			if i == 0 {
				return 0
			}
			return ms[i-1].version
		}
	}
	t.Fatalf("no migration named *%s", suffix)
	return 0
}

// applyRandomAppKeys writes rounds of random changes to keys of
// applications: inserts, moves between applications, sources and states,
// unchanged upserts and removals; check runs after each round. It returns
// the keys left.
func applyRandomAppKeys(t *testing.T, s *Store, rounds int, check func(round int)) map[string]engine.Key {
	t.Helper()
	ctx := context.Background()
	srcs := []string{"kms", "vault"}
	for _, src := range srcs {
		if err := s.EnsureSource(ctx, src, "kmip", ""); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(2))
	states := []engine.State{engine.StateActive, engine.StateDeactivated, engine.StateDisabled, engine.StateDestroyed}
	apps := []string{"", "crm", "hr"}
	live := map[string]engine.Key{}
	for round := 0; round < rounds; round++ {
		src := srcs[rng.Intn(len(srcs))]
		c := Change{Source: src}
		seen := map[string]bool{}
		for i := 0; i < 30; i++ {
			name := fmt.Sprintf("key.%d", rng.Intn(40))
			id := engine.KeyID(src, name, "")
			if seen[id] {
				continue
			}
			seen[id] = true
			if _, ok := live[id]; ok && rng.Intn(4) == 0 {
				c.Remove = append(c.Remove, id)
				delete(live, id)
				continue
			}
			k := engine.Key{ID: id, Source: src, Name: name, Algorithm: "AES", State: states[rng.Intn(len(states))], Application: apps[rng.Intn(len(apps))]}
			if old, ok := live[id]; ok && rng.Intn(2) == 0 {
				k = old // written unchanged
			}
			c.Upsert = append(c.Upsert, k)
			live[id] = k
		}
		if _, err := s.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
		check(round)
	}
	return live
}

// TestAppKeyCountsFollowTheInventory: keys of applications counted per
// application, source and state by triggers stay equal to a count of the
// keys through every kind of change.
func TestAppKeyCountsFollowTheInventory(t *testing.T) {
	s := open(t)
	applyRandomAppKeys(t, s, 30, func(round int) { checkAppKeyCounts(t, s, fmt.Sprintf("round %d", round)) })
}

// TestAppKeyCountsMigrationCountsExistingKeys: keys written before the
// counts existed are counted by the migration.
func TestAppKeyCountsMigrationCountsExistingKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	old := openAt(t, path, migrationBefore(t, "_app_key_counts.sql"))
	withLaterKeyColumns(t, old, func() { applyRandomAppKeys(t, old, 10, func(int) {}) })
	old.Close()
	s := openFile(t, path)
	defer s.Close()
	checkAppKeyCounts(t, s, "after the migration")
}

// TestUnchangedKeyIsNotRewritten: a key written again as it is (every
// full sync does that for every key) leaves its row alone: no change
// (no UPDATE runs), and updated stays the time of its last change (the
// README's "last change"); a change to any column, NULLs included, is
// written with the new time.
func TestUnchangedKeyIsNotRewritten(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	seed(t, s, 2)
	k, err := s.Key(ctx, "kms/acme.crm.key.1")
	if err != nil {
		t.Fatal(err)
	}
	// One connection, so its temporary trigger sees every write of a key.
	s.db.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TEMP TABLE writes (id TEXT)`,
		`CREATE TEMP TRIGGER key_written AFTER UPDATE ON main.keys BEGIN INSERT INTO writes VALUES (new.id); END`} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	at := k.Updated
	changes := func() int {
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM writes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, edit := range []func(*engine.Key){
		func(*engine.Key) {}, // unchanged
		func(k *engine.Key) { k.Tags = map[string]string{"team": "crm"} },
		func(*engine.Key) {}, // unchanged again, tags and all
		func(k *engine.Key) { e := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC); k.Expires = &e },
		func(k *engine.Key) { k.Expires = nil }, // back to NULL
		func(k *engine.Key) { k.State = engine.StateDisabled },
	} {
		edit(&k)
		at = at.Add(time.Minute)
		s.SetClock(func() time.Time { return at })
		before := changes()
		if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{k}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Key(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		changed := i != 0 && i != 2
		wrote := changes() - before
		if changed && (!got.Updated.Equal(at) || wrote == 0) {
			t.Fatalf("edit %d: updated %s (want %s), %d rows written", i, got.Updated, at, wrote)
		}
		if !changed && (!got.Updated.Equal(k.Updated) || wrote != 0) {
			t.Fatalf("edit %d, unchanged: updated %s (want %s, the last change), %d rows written", i, got.Updated, k.Updated, wrote)
		}
		k = got
	}
}

// TestUnusedKeysAreReadInIDOrder: the usage report's page of unused keys
// walks an index in id order and stops (SQLite's own plan says so); it
// never reads every key in the usable states and sorts them.
func TestUnusedKeysAreReadInIDOrder(t *testing.T) {
	s := open(t)
	for _, app := range []string{"", "crm"} {
		q, args := appKeysByIDQuery(app, []string{"kms", "vault"}, []engine.State{engine.StateActive, engine.StateDisabled}, 200)
		p := queryPlan(t, s, q, args...)
		want := map[string]string{"": "keys_app_by_id", "crm": "keys_by_application"}[app]
		if !strings.Contains(p, want) || strings.Contains(p, "TEMP B-TREE") || strings.Contains(p, "keys_by_state_source") {
			t.Fatalf("app %q: plan %q, want a walk of %s in id order", app, p, want)
		}
	}
}

// TestMilestonesWalkTheirDateIndexes: each kind of date in the aging
// report's first page is read through its own index in date order (SQLite's
// plan says so), never through the (state, source) index with a sort of
// every usable key.
func TestMilestonesWalkTheirDateIndexes(t *testing.T) {
	s := open(t)
	seed(t, s, 3)
	q := MilestoneQuery{From: now.AddDate(0, 0, -90), To: now.AddDate(0, 0, 90), Period: 90 * 24 * time.Hour, Limit: 50}
	query, args := milestonesQuery(q, msCursor{D: q.From.UnixMilli() - 1})
	p := queryPlan(t, s, query, args...)
	for _, want := range []string{"keys_by_expires", "keys_by_aged_from", "keys_by_rotation_override"} {
		if !strings.Contains(p, want) {
			t.Errorf("plan does not walk %s: %s", want, p)
		}
	}
	if strings.Contains(p, "keys_by_state_source") || strings.Contains(p, "keys_by_state ") {
		t.Errorf("plan reads keys by state: %s", p)
	}
}
