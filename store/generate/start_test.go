package generate

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// TestStartOfACurrentStoreWritesNothing: opening a store already at the
// current schema, and preparing its aging counts for the thresholds they
// are kept for, commits nothing — the daemon's path to a served socket.
// What made a start take 9–22 s at a million keys was a write over the
// whole inventory (migration 0019 building aging_days; the same build when
// the thresholds change); any such rebuild or backfill, run again on a
// store that needs none, is a commit another connection sees
// (PRAGMA data_version), whatever the machine's load.
func TestStartOfACurrentStoreWritesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyward.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(ctx, s, Options{Keys: 3000, Events: 6000, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Seed: 18}); err != nil {
		t.Fatal(err)
	}
	th := engine.DefaultThresholds()
	if _, err := s.PrepareAging(ctx, th); err != nil {
		t.Fatal(err)
	}
	s.Close()

	watch, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	conn, err := watch.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version := func() int64 {
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	s, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rebuilt, err := s.PrepareAging(ctx, th); err != nil || rebuilt {
		t.Fatalf("aging counts kept for these thresholds: rebuilt %v, %v", rebuilt, err)
	}
	if after := version(); after != before {
		t.Errorf("opening a current store committed a write (data_version %d → %d): a migration, rebuild or backfill runs at every start", before, after)
	}
}
