package store

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/engine"
)

// aliasedKeys are AWS keys, named by key ID, most with an alias (one with
// two: the first is shown), beside KMIP keys named by themselves.
func aliasedKeys() []engine.Key {
	aws := func(id, aliases string) engine.Key {
		k := engine.Key{ID: engine.KeyID("aws", id, "current"), Source: "aws", Name: id, Version: "current", Algorithm: "AES",
			Length: 256, State: engine.StateActive, Created: tp(now)}
		if aliases != "" {
			k.Tags = map[string]string{engine.TagAliases: aliases}
		}
		return k
	}
	kmip := func(name string) engine.Key {
		return engine.Key{ID: engine.KeyID("kms", name, ""), Source: "kms", Name: name, Algorithm: "AES", Length: 256,
			State: engine.StateActive, Created: tp(now)}
	}
	return []engine.Key{
		aws("0f1e2d3c-4b5a-4697-8877-66554433aa01", "alias/zeta"),
		aws("1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c02", "alias/alpha,alias/omega"),
		aws("2b3c4d5e-6f70-4b1c-8d2e-3f4a5b6c7d03", "alias/mid-10"),
		aws("3c4d5e6f-7081-4c2d-9e3f-4a5b6c7d8e04", "alias/mid-2"),
		aws("00aa11bb-2233-4455-6677-8899aabbcc05", ""), // no alias: shown by its key ID
		kmip("acme.crm.key.1"),
		kmip("zz.last"),
	}
}

func writeKeys(t *testing.T, s *Store, keys []engine.Key) {
	t.Helper()
	ctx := context.Background()
	for _, src := range []string{"aws", "kms"} {
		if err := s.EnsureSource(ctx, src, map[string]string{"aws": "aws", "kms": "kmip"}[src], ""); err != nil {
			t.Fatal(err)
		}
		var mine []engine.Key
		for _, k := range keys {
			if k.Source == src {
				mine = append(mine, k)
			}
		}
		if _, err := s.Apply(ctx, Change{Source: src, Upsert: mine}); err != nil {
			t.Fatal(err)
		}
	}
}

// namesByPages reads every page of limit keys of the name sort (desc: "-")
// and returns the display names in order.
func namesByPages(t *testing.T, s *Store, sort string, limit int) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 100 {
		p, err := s.Keys(context.Background(), KeyQuery{Sort: sort, Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range p.Keys {
			out = append(out, k.DisplayName())
		}
		if cursor = p.NextCursor; cursor == "" {
			return out
		}
	}
	t.Fatal("the pages did not end")
	return nil
}

// wantByName is engine.SortKeys' order of keys by name, the display names.
func wantByName(keys []engine.Key, desc bool) []string {
	keys = slices.Clone(keys)
	engine.SortKeys(keys, engine.SortName, desc)
	var out []string
	for _, k := range keys {
		out = append(out, k.DisplayName())
	}
	return out
}

// TestNameSortReadsTheDisplayName: sorted by name, an AWS key takes the
// place of its alias (the name it is shown by), not of its key ID, in
// the store's pages as in engine.SortKeys, however the pages are cut and
// in both directions; a key whose alias changes moves.
func TestNameSortReadsTheDisplayName(t *testing.T) {
	s := open(t)
	keys := aliasedKeys()
	writeKeys(t, s, keys)
	want := []string{"00aa11bb-2233-4455-6677-8899aabbcc05", "acme.crm.key.1", "alias/alpha", "alias/mid-2", "alias/mid-10", "alias/zeta", "zz.last"}
	if got := wantByName(keys, false); !slices.Equal(got, want) {
		t.Fatalf("engine.SortKeys by name: %q, want %q", got, want)
	}
	for _, limit := range []int{1, 2, 3, 100} {
		if got := namesByPages(t, s, "name", limit); !slices.Equal(got, want) {
			t.Errorf("pages of %d by name: %q, want %q", limit, got, want)
		}
		if got, rev := namesByPages(t, s, "-name", limit), wantByName(keys, true); !slices.Equal(got, rev) {
			t.Errorf("pages of %d by -name: %q, want %q", limit, got, rev)
		}
	}
	// alias/zeta becomes alias/beta: the key moves to its new place.
	keys[0].Tags = map[string]string{engine.TagAliases: "alias/beta"}
	writeKeys(t, s, keys[:1])
	if got, want := namesByPages(t, s, "name", 2), wantByName(keys, false); !slices.Equal(got, want) || got[3] != "alias/beta" {
		t.Errorf("after the alias moved: %q, want %q", got, want)
	}
}

// TestSortNameMigrationSortsExistingAliases: keys an older keyward wrote
// (sort_name from the key ID) take their alias's place once migration 20
// has run, and the others keep theirs.
func TestSortNameMigrationSortsExistingAliases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, sortDisplayVersion-1)
	keys := aliasedKeys()
	withLaterKeyColumns(t, s, func() { writeKeys(t, s, keys) })
	// What keyward before migration 20 wrote: the name's sort value (the
	// key IDs: alias/zeta's 0f1e… first of the aliased keys).
	if _, err := s.db.Exec(`UPDATE keys SET sort_name = name WHERE source = 'aws'`); err != nil {
		t.Fatal(err)
	}
	if got := namesByPages(t, s, "name", 3); slices.Equal(got, wantByName(keys, false)) || !strings.HasPrefix(got[0], "00aa") || got[1] != "alias/zeta" {
		t.Fatalf("the older database already sorts by alias: %q", got)
	}
	s.Close()
	s = openFile(t, path)
	defer s.Close()
	if got, want := namesByPages(t, s, "name", 3), wantByName(keys, false); !slices.Equal(got, want) {
		t.Errorf("after the migration: %q, want %q", got, want)
	}
}
