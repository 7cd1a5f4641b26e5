package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
)

// chainer appends events to the hash chain inside one transaction. It is
// the only way an event enters the log: the events_chain_bi trigger refuses
// any row that is not the head's successor.
type chainer struct {
	tx     *sql.Tx
	ins    *sql.Stmt
	seq    int64
	lastID int64
	prev   audit.Hash
}

func newChainer(ctx context.Context, tx *sql.Tx) (*chainer, error) {
	c := &chainer{tx: tx}
	var h []byte
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash, last_id FROM audit_head WHERE id = 1`).Scan(&c.seq, &h, &c.lastID); err != nil {
		return nil, fmt.Errorf("read the audit chain's head: %w", err)
	}
	var ok bool
	if c.prev, ok = audit.HashFrom(h); !ok {
		return nil, fmt.Errorf("the audit chain's head hash is %d bytes, not %d: the database was altered", len(h), audit.HashSize)
	}
	var err error
	c.ins, err = tx.PrepareContext(ctx, `INSERT INTO events (id, time, key_id, source, operation, actor, origin, severity, details, seq, prev, hash)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *chainer) close() { c.ins.Close() }

// add links e to the chain and inserts it; e.ID and e.Time (milliseconds,
// UTC) are set as stored.
func (c *chainer) add(ctx context.Context, e engine.Event) (engine.Event, error) {
	e.ID = c.lastID + 1
	e.Time = time.UnixMilli(e.Time.UnixMilli()).UTC()
	seq := c.seq + 1
	h := audit.Link(seq, c.prev, e)
	if _, err := c.ins.ExecContext(ctx, e.ID, e.Time.UnixMilli(), e.KeyID, e.Source, e.Operation, e.Actor, string(e.Origin),
		string(e.Severity), e.Details, seq, c.prev[:], h[:]); err != nil {
		return e, fmt.Errorf("record event %s (the change is not made: an event that cannot be recorded fails it): %w", e.Operation, err)
	}
	c.seq, c.lastID, c.prev = seq, e.ID, h
	return e, nil
}

// chainLegacy is the Go half of migration 0013: it chains the events
// written before the chain existed, in the order they were written (by id),
// and records that the chain vouches for them only from now on.
func chainLegacy(ctx context.Context, tx *sql.Tx, now time.Time) error {
	// The events are read a batch at a time by id (keyset paging), so the
	// migration's memory stays bounded whatever the log's size: a million
	// keys' database with 6.8 million events needed 3.6 GiB when this read
	// every event at once.
	sel, err := tx.PrepareContext(ctx, `SELECT id, time, key_id, source, operation, actor, origin, severity, details FROM events WHERE id > ? ORDER BY id LIMIT ?`)
	if err != nil {
		return err
	}
	defer sel.Close()
	up, err := tx.PrepareContext(ctx, `UPDATE events SET seq = ?, prev = ?, hash = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer up.Close()
	prev := audit.Genesis
	var seq, lastID int64
	batch := make([]engine.Event, 0, legacyChainBatch)
	for {
		batch = batch[:0]
		rows, err := sel.QueryContext(ctx, lastID, legacyChainBatch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e engine.Event
			var t int64
			if err := rows.Scan(&e.ID, &t, &e.KeyID, &e.Source, &e.Operation, &e.Actor, &e.Origin, &e.Severity, &e.Details); err != nil {
				rows.Close()
				return err
			}
			e.Time = time.UnixMilli(t).UTC()
			batch = append(batch, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			seq++
			h := audit.Link(seq, prev, e)
			if _, err := up.ExecContext(ctx, seq, prev[:], h[:], e.ID); err != nil {
				return fmt.Errorf("chain event %d: %w", e.ID, err)
			}
			prev, lastID = h, e.ID
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE audit_head SET seq = ?, hash = ?, last_id = ?, chained_at = ?, chained_upto = ? WHERE id = 1`,
		seq, prev[:], lastID, now.UnixMilli(), seq)
	return err
}

// legacyChainBatch is how many events chainLegacy holds at once (a
// variable so a test can make batches small).
var legacyChainBatch = 5000

// AuditHead is the chain's state as the database records it.
type AuditHead struct {
	Seq  int64      // the last event's seq (0: no event yet)
	Hash audit.Hash // its hash
	// ChainedAt and ChainedUpto: events up to ChainedUpto were already in
	// the log when the chain was introduced (ChainedAt) and were chained
	// then; the chain vouches for them only from that moment.
	ChainedAt   time.Time
	ChainedUpto int64
	// ArchivedSeq and ArchivedHash: events up to ArchivedSeq were written
	// to archive segments (and the ones not kept, pruned).
	ArchivedSeq  int64
	ArchivedHash audit.Hash
}

// AuditHead reads the chain's head.
func (s *Store) AuditHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	var hash, ah []byte
	var at int64
	err := s.rd().QueryRowContext(ctx, `SELECT seq, hash, chained_at, chained_upto, archived_seq, archived_hash FROM audit_head WHERE id = 1`).
		Scan(&h.Seq, &hash, &at, &h.ChainedUpto, &h.ArchivedSeq, &ah)
	if errors.Is(err, sql.ErrNoRows) {
		return h, errors.New("the audit chain's head row is missing: the database was altered")
	}
	if err != nil {
		return h, fmt.Errorf("read the audit chain's head: %w", err)
	}
	var ok1, ok2 bool
	h.Hash, ok1 = audit.HashFrom(hash)
	h.ArchivedHash, ok2 = audit.HashFrom(ah)
	if !ok1 || !ok2 {
		return h, errors.New("the audit chain's head holds a hash of the wrong size: the database was altered")
	}
	h.ChainedAt = time.UnixMilli(at).UTC()
	return h, nil
}

// ChainEntries calls fn with every event whose seq is from..to (to <= 0: to
// the end), in seq order. A row whose seq is not an integer, or whose chain
// columns are missing, is given to fn with what can be read and BadRow set.
func (s *Store) ChainEntries(ctx context.Context, from, to int64, fn func(ChainRow) error) error {
	if to <= 0 {
		to = 1<<63 - 1
	}
	return eachRow(ctx, s.rd(), func(sc scanner) error {
		var r ChainRow
		var t int64
		var seq any
		var prev, hash []byte
		if err := sc.Scan(&r.Event.ID, &t, &r.Event.KeyID, &r.Event.Source, &r.Event.Operation, &r.Event.Actor, &r.Event.Origin,
			&r.Event.Severity, &r.Event.Details, &seq, &prev, &hash); err != nil {
			return err
		}
		r.Event.Time = time.UnixMilli(t).UTC()
		r.Seq, r.BadRow = seqOf(seq)
		var ok1, ok2 bool
		r.Prev, ok1 = audit.HashFrom(prev)
		r.Hash, ok2 = audit.HashFrom(hash)
		if !r.BadRow && (!ok1 || !ok2) {
			r.BadRow = true
		}
		return fn(r)
	}, `SELECT id, time, key_id, source, operation, actor, origin, severity, details, seq, prev, hash
		FROM events WHERE seq >= ? AND seq <= ? OR seq IS NULL OR typeof(seq) != 'integer' ORDER BY seq, id`, from, to)
}

func seqOf(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, false
	case float64:
		return int64(n), true
	}
	return 0, true
}

// ChainRow is one event with its chain columns; BadRow means they are not
// what the chain writes (a NULL or non-integer seq, a hash of the wrong
// size): the row was put there by hand.
type ChainRow struct {
	audit.Entry
	BadRow bool
}

// SeqOfHash finds the event whose hash is h (only when a chain check has
// failed: it reads the whole table).
func (s *Store) SeqOfHash(ctx context.Context, h audit.Hash) (int64, bool) {
	var seq int64
	err := s.rd().QueryRowContext(ctx, `SELECT seq FROM events WHERE hash = ?`, h[:]).Scan(&seq)
	return seq, err == nil
}

// Checkpoint is a signed checkpoint as stored.
type Checkpoint struct {
	Size int64
	Head audit.Hash
	Time time.Time
	Note string
}

// AddCheckpoint stores a signed checkpoint (again for the same size: no-op).
func (s *Store) AddCheckpoint(ctx context.Context, c Checkpoint) error {
	_, err := s.durable.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, head, time, note) VALUES (?,?,?,?)
		ON CONFLICT (size) DO NOTHING`, c.Size, c.Head[:], c.Time.UnixMilli(), c.Note)
	if err != nil {
		return fmt.Errorf("store audit checkpoint: %w", err)
	}
	return nil
}

// Checkpoints calls fn with every stored checkpoint by size.
func (s *Store) Checkpoints(ctx context.Context, fn func(Checkpoint) error) error {
	rows, err := s.rd().QueryContext(ctx, `SELECT size, head, time, note FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c Checkpoint
		var h []byte
		var t int64
		if err := rows.Scan(&c.Size, &h, &t, &c.Note); err != nil {
			return err
		}
		c.Head, _ = audit.HashFrom(h)
		c.Time = time.UnixMilli(t).UTC()
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LatestCheckpoint is the newest stored checkpoint (ok false: none).
func (s *Store) LatestCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	var c Checkpoint
	var h []byte
	var t int64
	err := s.rd().QueryRowContext(ctx, `SELECT size, head, time, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&c.Size, &h, &t, &c.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	c.Head, _ = audit.HashFrom(h)
	c.Time = time.UnixMilli(t).UTC()
	return c, true, nil
}

// AuditWritable checks that an event could be recorded now: it takes the
// write lock, reads and checks the chain's head, prepares the insert, and
// rolls back. The socket API asks it before a state-changing request, so a
// change the log cannot record is refused instead of done unrecorded.
func (s *Store) AuditWritable(ctx context.Context) error {
	tx, err := s.durable.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("the activity log: %w", err)
	}
	defer tx.Rollback()
	c, err := newChainer(ctx, tx)
	if err != nil {
		return err
	}
	c.close()
	return nil
}

// reader is what the audit chain's reads run on: the database, or the
// read transaction of a snapshot.
type reader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) rd() reader {
	if s.snap != nil {
		return s.snap
	}
	return s.db
}

// Snapshot makes the audit chain's reads (AuditHead, ChainEntries,
// SeqOfHash, Checkpoints, SeqRange) see the database as it is now until
// Close, whatever a running daemon writes meanwhile: keyward audit verify
// reads the head, the archived range and the events of one moment while
// the daemon archives and prunes. Only for a store from OpenReadOnly (a
// read transaction that holds no lock writers wait on).
func (s *Store) Snapshot(ctx context.Context) error {
	if !s.readOnly {
		return errors.New("a snapshot is only for a database opened read-only")
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	s.snap = tx
	return nil
}
