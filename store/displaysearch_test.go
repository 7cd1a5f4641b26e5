package store

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/engine"
)

// textMatches is the display names of every key the "/" filter finds for
// q (pages of 2, so a key found twice would show), and the total.
func textMatches(t *testing.T, s *Store, q string) ([]string, int) {
	t.Helper()
	var names []string
	total, cursor := -1, ""
	for range 100 {
		p, err := s.Keys(context.Background(), KeyQuery{Text: q, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if cursor == "" {
			total = p.Total
		}
		for _, k := range p.Keys {
			names = append(names, k.DisplayName())
		}
		if cursor = p.NextCursor; cursor == "" {
			return names, total
		}
	}
	t.Fatalf("%q: the pages did not end", q)
	return nil, 0
}

func checkMatches(t *testing.T, s *Store, when string, cases map[string][]string) {
	t.Helper()
	for q, want := range cases {
		got, total := textMatches(t, s, q)
		if !slices.Equal(got, want) || total != len(want) {
			t.Errorf("%s: %q finds %q (total %d), want %q", when, q, got, total, want)
		}
	}
}

// TestTextSearchFindsTheDisplayName: the "/" filter finds an AWS key by a
// substring of any of its aliases (the first, it is shown by, and the
// others), with the rules names
// have (any case; three characters or more through a trigram index,
// shorter by a scan), still by its key ID; a key whose name and alias both
// match is found once. Keys shown by their name (KMIP, Azure, Google) are
// found as before and add nothing to the alias index. The index follows
// an alias renamed or dropped and a key removed.
func TestTextSearchFindsTheDisplayName(t *testing.T) {
	s := open(t)
	keys := append(aliasedKeys(), engine.Key{ID: engine.KeyID("aws", "ledger-0001", "current"), Source: "aws",
		Name: "ledger-0001", Version: "current", State: engine.StateActive,
		Tags: map[string]string{engine.TagAliases: "alias/ledger-signing"}})
	writeKeys(t, s, keys)
	checkMatches(t, s, "aliases written", map[string][]string{
		"zeta":      {"alias/zeta"},
		"ZeTa":      {"alias/zeta"},                  // case
		"alias/mid": {"alias/mid-2", "alias/mid-10"}, // name order
		"alias/":    {"alias/alpha", "alias/ledger-signing", "alias/mid-2", "alias/mid-10", "alias/zeta"},
		"ledger":    {"alias/ledger-signing"}, // name and alias: once
		"le":        {"alias/ledger-signing"}, // short: scan, name and alias, once
		"ET":        {"alias/zeta"},           // short, any case
		"omega":     {"alias/alpha"},          // a second alias: found, shown by the first
		"OMEGA":     {"alias/alpha"},          // any case
		"om":        {"alias/alpha"},          // short: the scan reads every alias too
		"s/omega":   {"alias/alpha"},
		"ha\nalias": nil,                                      // never across two aliases
		"0f1e2d3c":  {"alias/zeta"},                           // its key ID still
		"aabbcc05":  {"00aa11bb-2233-4455-6677-8899aabbcc05"}, // no alias: by its key ID
		"crm.key":   {"acme.crm.key.1"},                       // KMIP keys as before
		`"alias/z`:  nil,                                      // quoted, not FTS syntax
	})
	var indexed int
	if err := s.db.QueryRow(`SELECT count(*) FROM keys WHERE display_name != ''`).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	if indexed != 5 {
		t.Errorf("%d keys have a display name of their own, want the 5 with an alias", indexed)
	}

	keys[0].Tags = map[string]string{engine.TagAliases: "alias/beta"} // was alias/zeta
	keys[1].Tags = nil                                                // alias/alpha dropped
	writeKeys(t, s, keys[:2])
	if _, err := s.Apply(context.Background(), Change{Source: "aws", Remove: []string{keys[2].ID}}); err != nil { // alias/mid-10
		t.Fatal(err)
	}
	checkMatches(t, s, "after the changes", map[string][]string{
		"zeta":      nil,
		"beta":      {"alias/beta"},
		"alpha":     nil,
		"alias/mid": {"alias/mid-2"},
	})
	if err := s.db.QueryRow(`SELECT count(*) FROM keys_display_search WHERE keys_display_search MATCH '"alias"'`).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	if indexed != 3 {
		t.Errorf("the alias index holds %d keys, want 3 (beta, mid-2, ledger-signing)", indexed)
	}
	if _, err := s.db.Exec(`INSERT INTO keys_display_search(keys_display_search) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("the alias index disagrees with the keys: %v", err)
	}
}

// scansKeys is a step of a plan that reads the keys table whole.
var scansKeys = regexp.MustCompile(`SCAN keys($|[ ;])`)

// TestTextSearchByAliasUsesTheIndexes: a search of three characters or
// more reads the keys it finds through the trigram indexes, never a scan
// of the keys, for the count and the page alike.
func TestTextSearchByAliasUsesTheIndexes(t *testing.T) {
	s := open(t)
	seed(t, s, 300)
	writeKeys(t, s, aliasedKeys())
	var plans []string
	pageQueryHook = func(query string, args []any) { plans = append(plans, queryPlan(t, s, query, args...)) }
	defer func() { pageQueryHook = nil }()
	if got, _ := textMatches(t, s, "zeta"); !slices.Equal(got, []string{"alias/zeta"}) {
		t.Fatalf("zeta finds %q", got)
	}
	cond, args := textFilter("zeta")
	plans = append(plans, queryPlan(t, s, `SELECT count(*) FROM keys WHERE `+cond, args...))
	for _, plan := range plans {
		if scansKeys.MatchString(plan) || !strings.Contains(plan, "SEARCH keys USING INTEGER PRIMARY KEY") ||
			!strings.Contains(plan, "keys_display_search VIRTUAL TABLE") {
			t.Errorf("plan %q: want the alias index and no scan of keys", plan)
		}
	}
}

// TestAllAliasesMigrationFindsLaterAliases: a database whose display_name
// holds only the first alias (as keyward wrote it from migration 21 until
// 23) finds a key by its other aliases once migration 23 has run.
func TestAllAliasesMigrationFindsLaterAliases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, allAliasesVersion-1)
	writeKeys(t, s, aliasedKeys())
	// What keyward wrote before: the first alias only.
	if _, err := s.db.Exec(`UPDATE keys SET display_name = 'alias/alpha' WHERE display_name LIKE 'alias/alpha%'`); err != nil {
		t.Fatal(err)
	}
	checkMatches(t, s, "before the migration", map[string][]string{"omega": nil, "alpha": {"alias/alpha"}})
	s.Close()
	s = openFile(t, path)
	defer s.Close()
	checkMatches(t, s, "after the migration", map[string][]string{
		"omega": {"alias/alpha"},
		"alpha": {"alias/alpha"},
		"zeta":  {"alias/zeta"},
	})
	if _, err := s.db.Exec(`INSERT INTO keys_display_search(keys_display_search) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("the alias index disagrees with the keys: %v", err)
	}
}

// TestDisplaySearchMigrationFindsExistingAliases: AWS keys an older
// keyward wrote (no display_name) are found by alias once migration 21
// has run; the others are found as before.
func TestDisplaySearchMigrationFindsExistingAliases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, displaySearchVersion-1)
	withLaterKeyColumns(t, s, func() { writeKeys(t, s, aliasedKeys()) })
	s.Close()
	s = openFile(t, path)
	defer s.Close()
	checkMatches(t, s, "after the migration", map[string][]string{
		"zeta":      {"alias/zeta"},
		"alias/mid": {"alias/mid-2", "alias/mid-10"},
		"crm.key":   {"acme.crm.key.1"},
	})
}
