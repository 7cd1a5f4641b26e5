package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// insertEvents appends events to the hash-chained activity log in tx (the
// only way events are written): an event that cannot be recorded fails the
// transaction, and with it the change it records.
func insertEvents(ctx context.Context, tx *sql.Tx, events []engine.Event, now time.Time) ([]engine.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	c, err := newChainer(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	out := make([]engine.Event, 0, len(events))
	for _, e := range events {
		if e.Operation == "" || e.Actor == "" || e.Origin == "" {
			return nil, fmt.Errorf("event %+v: operation, actor and origin are required", e)
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		if e.Severity == "" {
			e.Severity = engine.SeverityInfo
		}
		e, err := c.add(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Record appends events to the activity log in one durable transaction.
func (s *Store) Record(ctx context.Context, events ...engine.Event) ([]engine.Event, error) {
	var out []engine.Event
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = insertEvents(ctx, tx, events, s.now())
		return err
	})
	return out, err
}

// EventQuery selects activity, newest first. Empty fields match all.
type EventQuery struct {
	KeyID     string
	Source    string
	Operation string
	Actor     string
	Origin    engine.Origin
	From, To  time.Time // To is exclusive
	Limit     int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// Events returns activity matching q, newest first by the time it happened
// (sources may report events late and out of order), and the cursor for the
// next page, "" when there is none.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]engine.Event, string, error) {
	if q.Limit <= 0 || q.Limit > 5000 {
		q.Limit = 100
	}
	sqlWhere, args := eventWhere(q)
	if q.Cursor != "" {
		t, id, ok := parseEventCursor(q.Cursor)
		if !ok {
			return nil, "", ErrBadCursor
		}
		cond := "(time, id) < (?, ?)"
		if sqlWhere == "" {
			sqlWhere = " WHERE " + cond
		} else {
			sqlWhere += " AND " + cond
		}
		args = append(args, t, id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, key_id, source, operation, actor, origin, severity, details
		FROM events`+sqlWhere+` ORDER BY time DESC, id DESC LIMIT ?`, append(args, q.Limit+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []engine.Event
	var next string
	for rows.Next() {
		var e engine.Event
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.KeyID, &e.Source, &e.Operation, &e.Actor, &e.Origin, &e.Severity, &e.Details); err != nil {
			return nil, "", err
		}
		if len(out) == q.Limit {
			last := out[len(out)-1]
			next = fmt.Sprintf("%d.%d", last.Time.UnixMilli(), last.ID)
			break
		}
		e.Time = time.UnixMilli(t).UTC()
		out = append(out, e)
	}
	return out, next, rows.Err()
}

func eventWhere(q EventQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if q.KeyID != "" {
		add("key_id = ?", q.KeyID)
	}
	if q.Source != "" {
		add("source = ?", q.Source)
	}
	if q.Operation != "" {
		add("operation = ?", q.Operation)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Origin != "" {
		add("origin = ?", string(q.Origin))
	}
	if !q.From.IsZero() {
		add("time >= ?", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		add("time < ?", q.To.UnixMilli())
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

func parseEventCursor(c string) (int64, int64, bool) {
	a, b, ok := strings.Cut(c, ".")
	if !ok {
		return 0, 0, false
	}
	t, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	return t, id, err1 == nil && err2 == nil && id > 0
}
