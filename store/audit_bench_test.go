package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/keyward/keyward/engine"
)

// BenchmarkEventWrite is the cost of recording one event in its own
// transaction (what every audited request does): today's unchained insert
// with synchronous=NORMAL, the chained insert with NORMAL, and the chained
// insert with FULL (what Record does). Run on a real disk, under
// flock /tmp/keyward-bench.lock (BENCHMARKS.md).
func BenchmarkEventWrite(b *testing.B) {
	ctx := context.Background()
	e := benchEvent
	b.Run("unchained-normal", func(b *testing.B) {
		s := openAt(b, filepath.Join(b.TempDir(), "keyward.db"), 12)
		s.db.Exec(`PRAGMA synchronous = NORMAL`)
		s.db.SetMaxOpenConns(1)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			err := s.tx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO events (time, key_id, source, operation, actor, origin, severity, details)
					VALUES (?,?,?,?,?,?,?,?)`, now.UnixMilli(), e.KeyID, e.Source, e.Operation, e.Actor, string(e.Origin), string(e.Severity), e.Details)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chained-normal", func(b *testing.B) {
		s := open(b)
		s.durable = s.db // the NORMAL pool
		benchRecord(b, s)
	})
	b.Run("chained-full", func(b *testing.B) { benchRecord(b, open(b)) })
}

// benchEvent is what the audit benchmarks record: a rotation through
// keyward.
var benchEvent = engine.Event{Operation: "rotated", Actor: "alice", Origin: engine.OriginKeyward, KeyID: "kms/acme.crm.key.5",
	Source: "kms", Details: "rotated through keyward", Severity: engine.SeverityInfo}

// benchRecord records benchEvent b.N times through s.Record, each in its
// own transaction.
func benchRecord(b *testing.B, s *Store) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Record(context.Background(), benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestAudit is what the store does for one state-changing
// socket request: before the in-flight note, its event alone (Record);
// with it, the note written before the handler (NoteInFlight) and the
// event written with the note's removal (RecordDone). Two durable commits
// instead of one. Run under flock /tmp/keyward-bench.lock (BENCHMARKS.md).
func BenchmarkRequestAudit(b *testing.B) {
	ctx := context.Background()
	e := benchEvent
	b.Run("event-only", func(b *testing.B) { benchRecord(b, open(b)) })
	b.Run("noted-in-flight", func(b *testing.B) {
		s := open(b)
		r := InFlight{Time: now, Caller: "alice", UID: 1000, Role: "admin", Method: "POST",
			Pattern: "/v1/cloud/{source}/keys/{name}/{op}", Path: "/v1/cloud/vault/keys/card-kek/rotate"}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.ID = strconv.Itoa(i)
			if err := s.NoteInFlight(ctx, r); err != nil {
				b.Fatal(err)
			}
			if _, err := s.RecordDone(ctx, r.ID, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
