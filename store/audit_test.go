package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
)

// walkLive checks the whole live chain and the head row against it.
func walkLive(t *testing.T, s *Store) (int64, *audit.Break) {
	t.Helper()
	ctx := context.Background()
	w := audit.NewWalk(1, audit.Genesis)
	w.Lookup = func(h audit.Hash) (int64, bool) { return s.SeqOfHash(ctx, h) }
	var brk *audit.Break
	err := s.ChainEntries(ctx, 1, 0, func(r ChainRow) error {
		if brk == nil {
			brk = w.Check(r.Entry)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if brk != nil {
		return 0, brk
	}
	h, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != w.Next()-1 || h.Hash != w.Head() {
		t.Fatalf("head row says seq %d %s, the chain ends at %d %s", h.Seq, h.Hash.Short(), w.Next()-1, w.Head().Short())
	}
	return h.Seq, nil
}

func ev(op string) engine.Event {
	return engine.Event{Operation: op, Actor: "alice", Origin: engine.OriginKeyward, KeyID: "kms/k1", Source: "kms", Details: "d " + op}
}

// TestEveryEventWritePathIsChained: Record, Apply, SetHealth and BulkLoad
// all write through the chain.
func TestEveryEventWritePathIsChained(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	seed(t, s, 2)
	if _, err := s.Record(ctx, ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, Change{Source: "kms", Events: []engine.Event{ev("c")}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetHealth(ctx, "kms", engine.HealthDegraded, "down", func(engine.Health) *engine.Event {
		e := ev(engine.OpOutage)
		return &e
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.BulkLoad(ctx, nil, []engine.Event{ev("d"), ev("e")}); err != nil {
		t.Fatal(err)
	}
	n, brk := walkLive(t, s)
	if brk != nil {
		t.Fatal(brk)
	}
	if n != 6 {
		t.Fatalf("chain has %d events, want 6", n)
	}
}

// TestChainCannotBeBypassed: this program's own SQL cannot insert an
// unchained event, change one, or delete one not archived; and a change
// whose event cannot be recorded is not made (fail closed).
func TestChainCannotBeBypassed(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	seed(t, s, 1)
	if _, err := s.Record(ctx, ev("a")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO events (time, key_id, source, operation, actor, origin, severity, details) VALUES (1,'','','x','y','system','info','')`,
		`UPDATE events SET details = 'rewritten'`,
		`DELETE FROM events`,
	} {
		if _, err := s.db.Exec(q); err == nil || !strings.Contains(err.Error(), "activity event") {
			t.Errorf("%s: err = %v, want the chain's refusal", q, err)
		}
	}
	// Break the head: the next change that records an event fails whole.
	if _, err := s.db.Exec(`UPDATE audit_head SET hash = x'00'`); err != nil {
		t.Fatal(err)
	}
	k := engine.Key{ID: "kms/new", Source: "kms", Name: "new", State: engine.StateActive}
	_, err := s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{k}, Events: []engine.Event{ev(engine.OpCreated)}})
	if err == nil || !strings.Contains(err.Error(), "audit chain") {
		t.Fatalf("apply with an unrecordable event: err = %v", err)
	}
	if _, err := s.Key(ctx, "kms/new"); err == nil {
		t.Fatal("the key was written although its event was not recorded")
	}
}

// TestMigrationChainsExistingEvents: a database from before the chain
// (schema 12) has its events chained once, in the order written, and the
// chain goes on from there; ids are never given twice.
func TestMigrationChainsExistingEvents(t *testing.T) {
	// Batches of 2 over 5 events: the chain must run on across batch ends.
	defer func(n int) { legacyChainBatch = n }(legacyChainBatch)
	legacyChainBatch = 2
	path := filepath.Join(t.TempDir(), "keyward.db")
	old := openAt(t, path, 12)
	for i := 0; i < 5; i++ {
		if _, err := old.db.Exec(`INSERT INTO events (time, operation, actor, origin, details) VALUES (?, ?, 'bob', 'keyward', ?)`,
			now.Add(time.Duration(5-i)*time.Minute).UnixMilli(), fmt.Sprintf("op%d", i), "old"); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s := openFile(t, path)
	defer s.Close()
	s.SetClock(func() time.Time { return now })
	h, err := s.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.ChainedUpto != 5 || h.Seq != 5 {
		t.Fatalf("head %+v: want 5 events chained by the migration", h)
	}
	got, err := s.Record(context.Background(), ev("new"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ID != 6 {
		t.Fatalf("new event id %d, want 6", got[0].ID)
	}
	n, brk := walkLive(t, s)
	if brk != nil || n != 6 {
		t.Fatalf("walk: %d events, %v", n, brk)
	}
	// Event 1 (the first written) is seq 1 although its time is the latest.
	var seq int64
	if err := s.db.QueryRow(`SELECT seq FROM events WHERE details = 'old' ORDER BY id LIMIT 1`).Scan(&seq); err != nil || seq != 1 {
		t.Fatalf("first old event has seq %d (%v), want 1", seq, err)
	}
}
