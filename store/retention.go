package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/engine/audit"
)

// ArchiveRange is the next run of events to archive: from the first event
// not yet archived up to the last one before the first event recorded at or
// after cutoff (events are archived in chain order, so one late-reported
// recent event holds back the ones after it), at most limit events. to <
// from: nothing to archive.
func (s *Store) ArchiveRange(ctx context.Context, cutoff time.Time, limit int64) (from, to int64, err error) {
	h, err := s.AuditHead(ctx)
	if err != nil {
		return 0, 0, err
	}
	from, to = h.ArchivedSeq+1, h.Seq
	var young sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(seq) FROM events WHERE seq >= ? AND time >= ?`, from, cutoff.UnixMilli()).Scan(&young); err != nil {
		return 0, 0, err
	}
	if young.Valid {
		to = young.Int64 - 1
	}
	if limit > 0 && to-from+1 > limit {
		to = from + limit - 1
	}
	return from, to, nil
}

// Archived is an archive segment as the database records it.
type Archived struct {
	Name      string
	First     int64
	Last      int64
	LastHash  audit.Hash
	Created   time.Time
	KeepAfter time.Time // security-relevant events at or after this stay in the live log
}

// securityCond is the SQL condition for a security-relevant event.
func securityCond() (string, []any) {
	marks := strings.TrimSuffix(strings.Repeat("?,", len(audit.SecurityOps)), ",")
	args := make([]any, 0, len(audit.SecurityOps)+1)
	for _, op := range audit.SecurityOps {
		args = append(args, op)
	}
	args = append(args, "%"+audit.RoleMarker+"%")
	return "(operation IN (" + marks + ") OR operation LIKE ?)", args
}

// MarkArchived records that events a.First..a.Last are in the archive
// segment a.Name (written and synced before this is called) and prunes them
// from the live log, except security-relevant events at or after
// a.KeepAfter; older security-relevant events archived before are pruned as
// their floor passes. One durable transaction: a crash leaves either
// nothing done or all of it. It does nothing when a.First is not the next
// event to archive (the run was done already).
func (s *Store) MarkArchived(ctx context.Context, a Archived) (pruned int64, err error) {
	err = s.durableTx(ctx, func(tx *sql.Tx) error {
		var archived int64
		if err := tx.QueryRowContext(ctx, `SELECT archived_seq FROM audit_head WHERE id = 1`).Scan(&archived); err != nil {
			return err
		}
		if archived != a.First-1 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET archived_seq = ?, archived_hash = ? WHERE id = 1`, a.Last, a.LastHash[:]); err != nil {
			return err
		}
		cond, args := securityCond()
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= ? AND NOT (`+cond+` AND time >= ?)`,
			append(append([]any{a.Last}, args...), a.KeepAfter.UnixMilli())...)
		if err != nil {
			return fmt.Errorf("prune archived events: %w", err)
		}
		pruned, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_archives (name, first_seq, last_seq, last_hash, created) VALUES (?,?,?,?,?)
			ON CONFLICT (name) DO NOTHING`, a.Name, a.First, a.Last, a.LastHash[:], a.Created.UnixMilli())
		return err
	})
	return pruned, err
}

// PruneKept drops archived security-relevant events whose floor has passed
// (recorded before keepAfter), when no new segment is written.
func (s *Store) PruneKept(ctx context.Context, keepAfter time.Time) (int64, error) {
	var n int64
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= (SELECT archived_seq FROM audit_head) AND time < ?`, keepAfter.UnixMilli())
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// RollUpUsage folds the hourly usage rows of every whole day before
// `before` into one row per day (at the day's first hour), and drops rows
// before `drop` (zero: none). Idempotent: a day already folded is one row.
func (s *Store) RollUpUsage(ctx context.Context, before, drop time.Time) error {
	day := before.UTC().Truncate(24 * time.Hour).UnixMilli()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if !drop.IsZero() {
			if _, err := tx.ExecContext(ctx, `DELETE FROM usage WHERE hour < ?`, drop.UnixMilli()); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS usage_fold AS SELECT * FROM usage WHERE 0`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM temp.usage_fold`); err != nil {
			return err
		}
		const dayMS = 86400000
		if _, err := tx.ExecContext(ctx, `INSERT INTO temp.usage_fold (hour, application, key_id, encrypts, decrypts, last_use)
			SELECT hour / ? * ?, application, key_id, sum(encrypts), sum(decrypts), max(last_use)
			FROM usage WHERE hour < ? GROUP BY hour / ?, application, key_id
			HAVING count(*) > 1 OR min(hour) % ? != 0`, dayMS, dayMS, day, dayMS, dayMS); err != nil {
			return fmt.Errorf("roll up usage: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM usage WHERE hour < ? AND (hour / ?, application, key_id) IN
			(SELECT hour / ?, application, key_id FROM temp.usage_fold)`, day, dayMS, dayMS); err != nil {
			return fmt.Errorf("roll up usage: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO usage (hour, application, key_id, encrypts, decrypts, last_use)
			SELECT hour, application, key_id, encrypts, decrypts, last_use FROM temp.usage_fold`)
		return err
	})
}

// ReclaimSpace gives free pages back to the file system a few at a time
// (incremental vacuum), each step its own short write, so the daemon's other
// writers wait at most one step. It returns the pages freed.
func (s *Store) ReclaimSpace(ctx context.Context, step int) (int64, error) {
	var total int64
	for {
		var free int64
		if err := s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return total, err
		}
		if free == 0 {
			return total, nil
		}
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, step)); err != nil {
			return total, fmt.Errorf("reclaim database space: %w", err)
		}
		var after int64
		if err := s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&after); err != nil {
			return total, err
		}
		if after >= free { // auto_vacuum is not incremental: nothing to give back this way
			return total, nil
		}
		total += free - after
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// SeqRange is the first and last seq of the events recorded from (inclusive)
// to (exclusive), in the live log and among archived events (last < first:
// none). Archived events are found by the archive's record of ranges only
// when still live; Export reads the rest from the segments.
func (s *Store) SeqRange(ctx context.Context, from, to time.Time) (first, last int64, err error) {
	var a, b sql.NullInt64
	err = s.rd().QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM events WHERE time >= ? AND time < ?`, from.UnixMilli(), to.UnixMilli()).Scan(&a, &b)
	if err != nil || !a.Valid {
		return 1, 0, err
	}
	return a.Int64, b.Int64, nil
}
