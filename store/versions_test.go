package store

import (
	"context"
	"slices"
	"testing"

	"github.com/keyward/keyward/engine"
)

// TestKeyVersions: the versions of one key, newest first, are exactly the
// rows of that source and name — not those of a key whose name extends it
// (card-kek-2, card-kek/x), nor the same name in another source — and the
// limit keeps the newest while the total counts them all.
func TestKeyVersions(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for _, src := range []string{"vault", "vault-dr"} {
		if err := s.EnsureSource(ctx, src, "azure", "https://"+src); err != nil {
			t.Fatal(err)
		}
	}
	row := func(src, name, version string, daysAgo int) engine.Key {
		return engine.Key{ID: engine.KeyID(src, name, version), Source: src, Name: name, Version: version, State: engine.StateActive,
			Created: tp(now.AddDate(0, 0, -daysAgo))}
	}
	if _, err := s.Apply(ctx, Change{Source: "vault", Upsert: []engine.Key{
		row("vault", "card-kek", "b1", 30), row("vault", "card-kek", "a2", 10), row("vault", "card-kek", "c3", 1),
		row("vault", "card-kek-2", "z9", 0), row("vault", "card-kek/x", "y8", 0), row("vault", "card", "w7", 0),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, Change{Source: "vault-dr", Upsert: []engine.Key{row("vault-dr", "card-kek", "d4", 0)}}); err != nil {
		t.Fatal(err)
	}
	versions := func(ks []engine.Key) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.Version)
		}
		return out
	}
	got, total, err := s.KeyVersions(ctx, "vault", "card-kek", 10)
	if err != nil || total != 3 || !slices.Equal(versions(got), []string{"c3", "a2", "b1"}) {
		t.Fatalf("versions of vault/card-kek: %v (total %d), %v; want c3 a2 b1", versions(got), total, err)
	}
	got, total, err = s.KeyVersions(ctx, "vault", "card-kek", 2)
	if err != nil || total != 3 || !slices.Equal(versions(got), []string{"c3", "a2"}) {
		t.Fatalf("the 2 newest versions: %v (total %d), %v", versions(got), total, err)
	}
	if got, total, err := s.KeyVersions(ctx, "vault", "missing", 10); err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("a key that is not there: %v %d %v", got, total, err)
	}
}
