package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestAgingMigrationSurvivesKill9: a database from before migration 0019
// with 10,000 keys (100,000 with KEYWARD_MIGRATION_KEYS=100000, as
// BENCHMARKS.md measured) is migrated by a process killed with SIGKILL part way
// (twice, at different instants); the database then opens, the migration
// is done once, in full, and the kept counts equal engine.Classify's key
// by key. The uninterrupted migration's time is logged (BENCHMARKS.md).
func TestAgingMigrationSurvivesKill9(t *testing.T) {
	migrateChild()
	if testing.Short() {
		t.Skip("builds 10,000 keys and kills a process twice")
	}
	blocks := 1
	if os.Getenv("KEYWARD_MIGRATION_KEYS") == "100000" {
		blocks = 10
	}
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, migrationBefore(t, "_aging_days.sql"))
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	for b := 0; b < blocks; b++ {
		keys := make([]engine.Key, 10000)
		for i := range keys {
			n := b*10000 + i
			name := fmt.Sprintf("app%d.key.%d", n%7, n)
			created := base.Add(-time.Duration(n%900) * 24 * time.Hour).Add(time.Duration(n) * time.Second)
			keys[i] = engine.Key{ID: "kms/" + name, Source: "kms", Name: name, State: engine.StateActive, Created: &created}
			if n%5 != 0 {
				exp := base.Add(time.Duration(n%400-100) * 24 * time.Hour).Add(time.Duration(n) * time.Millisecond)
				keys[i].Expires = &exp
			}
			if n%11 == 0 {
				keys[i].State = engine.StateDestroyed
			}
		}
		withLaterKeyColumns(t, s, func() {
			if err := s.BulkLoad(ctx, keys, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	s.Close()
	before := migrationBefore(t, "_aging_days.sql")
	for _, delay := range []time.Duration{30 * time.Millisecond, 400 * time.Millisecond} {
		migrateKilled(t, "TestAgingMigrationSurvivesKill9", path, SchemaVersion(), "", delay)
		v := afterKill(t, path, fmt.Sprintf("after kill -9 %v into the migration", delay))
		t.Logf("killed %v into the migration: schema %d (%v)", delay, v, map[bool]string{true: "cut before it committed", false: "it had committed"}[v == before])
	}
	start := time.Now()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open after the kills: %v", err)
	}
	t.Logf("migration from schema %d at %d keys: %v", before, blocks*10000, time.Since(start))
	defer s2.Close()
	var v int
	if err := s2.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("schema %d (%v), want %d", v, err, SchemaVersion())
	}
	th := engine.DefaultThresholds()
	checkKept(t, s2, th, "after a migration killed part way", base, base.Add(-45*24*time.Hour), base.Add(30*24*time.Hour+time.Millisecond/2), base.AddDate(2, 0, 0))
}
