package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// InFlight is a state-changing socket request noted before its handler
// ran: who asked, what and when (never a body, never key material).
type InFlight struct {
	ID      string // the request id the daemon gave it
	Time    time.Time
	Caller  string // the caller's user name
	UID     int
	Role    string
	Method  string
	Pattern string // the route's pattern
	Path    string
}

// NoteInFlight durably notes a state-changing request before it is served,
// so a daemon that dies inside it leaves a trace of who asked.
func (s *Store) NoteInFlight(ctx context.Context, r InFlight) error {
	if r.ID == "" {
		return fmt.Errorf("note a request in flight: it has no id")
	}
	return s.durableTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO requests_in_flight (id, time, caller, uid, role, method, pattern, path)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Time.UnixMilli(), r.Caller, r.UID, r.Role, r.Method, r.Pattern, r.Path)
		return err
	})
}

// RecordDone appends a request's events to the activity log and removes
// its in-flight note in the same durable transaction: a crash leaves
// either both undone (the note is reported at the next start) or both
// done, never the events recorded and the note left to be reported too.
func (s *Store) RecordDone(ctx context.Context, id string, events ...engine.Event) ([]engine.Event, error) {
	var out []engine.Event
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = insertEvents(ctx, tx, events, s.now()); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM requests_in_flight WHERE id = ?`, id)
		return err
	})
	return out, err
}

// SettleInFlight turns each request noted in flight and never answered
// (the daemon stopped inside it) into the activity event event makes of
// it, removing the note in the same transaction: run at start before the
// socket serves, it records each such request exactly once, and a crash
// during it leaves the notes for the next start.
func (s *Store) SettleInFlight(ctx context.Context, event func(InFlight) engine.Event) ([]engine.Event, error) {
	var out []engine.Event
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, time, caller, uid, role, method, pattern, path
			FROM requests_in_flight ORDER BY time, id`)
		if err != nil {
			return fmt.Errorf("read the requests left in flight: %w", err)
		}
		var left []InFlight
		for rows.Next() {
			var r InFlight
			var t int64
			if err := rows.Scan(&r.ID, &t, &r.Caller, &r.UID, &r.Role, &r.Method, &r.Pattern, &r.Path); err != nil {
				rows.Close()
				return fmt.Errorf("read the requests left in flight: %w", err)
			}
			r.Time = time.UnixMilli(t).UTC()
			left = append(left, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the requests left in flight: %w", err)
		}
		if len(left) == 0 {
			return nil
		}
		events := make([]engine.Event, len(left))
		for i, r := range left {
			events[i] = event(r)
		}
		if out, err = insertEvents(ctx, tx, events, s.now()); err != nil {
			return err
		}
		for _, r := range left {
			if _, err := tx.ExecContext(ctx, `DELETE FROM requests_in_flight WHERE id = ?`, r.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// InFlightCount is the number of requests noted in flight now.
func (s *Store) InFlightCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM requests_in_flight`).Scan(&n)
	return n, err
}
