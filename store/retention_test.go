package store

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
)

// TestRollUpUsage: hourly rows of whole days before the cutoff become one
// row per day with the same sums and the latest use; the day of the cutoff
// and later stay hourly; a second run changes nothing; rows before drop go.
func TestRollUpUsage(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	day := now.Truncate(24 * time.Hour)
	var rows []engine.Usage
	for d := -5; d <= 0; d++ {
		for h := 0; h < 24; h += 6 {
			at := day.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			rows = append(rows, engine.Usage{Hour: at, Application: "crm", KeyID: "k1", Encrypts: 2, Decrypts: 1, Last: at.Add(10 * time.Minute)})
		}
	}
	if err := s.AddUsage(ctx, rows); err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) int64 {
		var n int64
		if err := s.db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cutoff := day.AddDate(0, 0, -2).Add(3 * time.Hour) // days -5, -4, -3 fold; -2 (partly after the cutoff) stays
	for run := 0; run < 2; run++ {
		if err := s.RollUpUsage(ctx, cutoff, day.AddDate(0, 0, -5)); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT count(*) FROM usage WHERE hour < ?`, day.AddDate(0, 0, -2).UnixMilli()); n != 3 {
			t.Fatalf("run %d: %d rows before day -2, want 3 (one per day)", run, n)
		}
		if n := count(`SELECT sum(encrypts) FROM usage WHERE hour < ?`, day.AddDate(0, 0, -2).UnixMilli()); n != 24 {
			t.Fatalf("run %d: encrypts %d, want 24", run, n)
		}
		if n := count(`SELECT count(*) FROM usage WHERE hour >= ?`, day.AddDate(0, 0, -2).UnixMilli()); n != 12 {
			t.Fatalf("run %d: %d hourly rows from day -2 on, want 12", run, n)
		}
		if n := count(`SELECT last_use FROM usage WHERE hour = ?`, day.AddDate(0, 0, -4).UnixMilli()); n != day.AddDate(0, 0, -4).Add(18*time.Hour+10*time.Minute).UnixMilli() {
			t.Fatalf("run %d: last use of day -4 is %v", run, time.UnixMilli(n))
		}
	}
	if err := s.RollUpUsage(ctx, cutoff, day.AddDate(0, 0, -3)); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM usage WHERE hour < ?`, day.AddDate(0, 0, -3).UnixMilli()); n != 0 {
		t.Fatalf("%d rows before the drop date", n)
	}
}

// TestReclaimSpace: pages freed by pruning are given back to the file
// system, so the file shrinks.
func TestReclaimSpace(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var evs []engine.Event
	for i := 0; i < 20000; i++ {
		e := ev("rotated")
		e.Details = string(make([]byte, 200))
		e.Time = now.AddDate(0, 0, -100)
		evs = append(evs, e)
	}
	if err := s.BulkLoad(ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	pages := func() int64 {
		var n int64
		s.db.QueryRow(`PRAGMA page_count`).Scan(&n)
		return n
	}
	before := pages()
	h, _ := s.AuditHead(ctx)
	if _, err := s.MarkArchived(ctx, Archived{Name: "x", First: 1, Last: h.Seq, LastHash: h.Hash, KeepAfter: now}); err != nil {
		t.Fatal(err)
	}
	freed, err := s.ReclaimSpace(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	after := pages()
	if freed == 0 || after > before/4 {
		t.Fatalf("pages %d → %d (freed %d): the file did not shrink", before, after, freed)
	}
	// The chain goes on after everything was pruned, ids are not reused.
	got, err := s.Record(ctx, ev("after"))
	if err != nil || got[0].ID != 20001 {
		t.Fatalf("event after pruning all: %+v %v", got, err)
	}
	var seq int64
	var prev []byte
	s.db.QueryRow(`SELECT seq, prev FROM events WHERE id = 20001`).Scan(&seq, &prev)
	if p, _ := audit.HashFrom(prev); seq != 20001 || p != h.Hash {
		t.Fatalf("seq %d prev %x", seq, prev)
	}
}
