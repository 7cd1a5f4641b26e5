package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// AddUsage adds proxy usage counts in one transaction: rows for the same
// hour, application and key are summed with what is already stored.
func (s *Store) AddUsage(ctx context.Context, rows []engine.Usage) error {
	if len(rows) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO usage (hour, application, key_id, encrypts, decrypts) VALUES (?,?,?,?,?)
			ON CONFLICT(hour, application, key_id) DO UPDATE SET encrypts = encrypts + excluded.encrypts, decrypts = decrypts + excluded.decrypts`)
		if err != nil {
			return fmt.Errorf("store usage: %w", err)
		}
		defer st.Close()
		for _, u := range rows {
			if u.Application == "" || u.KeyID == "" {
				return fmt.Errorf("store usage: a row needs an application and a key id")
			}
			h := u.Hour.UTC().Truncate(time.Hour)
			if _, err := st.ExecContext(ctx, h.UnixMilli(), u.Application, u.KeyID, u.Encrypts, u.Decrypts); err != nil {
				return fmt.Errorf("store usage of %s/%s: %w", u.Application, u.KeyID, err)
			}
		}
		return nil
	})
}

// UsageQuery selects usage rows; zero fields match everything. From is
// inclusive, To exclusive.
type UsageQuery struct {
	Application string
	KeyID       string
	From, To    time.Time
}

// Usage returns usage rows ordered by hour, application and key.
func (s *Store) Usage(ctx context.Context, q UsageQuery) ([]engine.Usage, error) {
	where, args := "1=1", []any{}
	if q.Application != "" {
		where += " AND application = ?"
		args = append(args, q.Application)
	}
	if q.KeyID != "" {
		where += " AND key_id = ?"
		args = append(args, q.KeyID)
	}
	if !q.From.IsZero() {
		where += " AND hour >= ?"
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where += " AND hour < ?"
		args = append(args, q.To.UnixMilli())
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hour, application, key_id, encrypts, decrypts FROM usage WHERE `+where+
		` ORDER BY hour, application, key_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	defer rows.Close()
	var out []engine.Usage
	for rows.Next() {
		var u engine.Usage
		var h int64
		if err := rows.Scan(&h, &u.Application, &u.KeyID, &u.Encrypts, &u.Decrypts); err != nil {
			return nil, err
		}
		u.Hour = time.UnixMilli(h).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}
