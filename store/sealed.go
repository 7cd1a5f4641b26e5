package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyward/keyward/engine"
)

// PutSealed stores a blob already wrapped under the key-encryption key.
// The store never sees plaintext secrets.
func (s *Store) PutSealed(ctx context.Context, kind, name string, blob []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sealed (kind, name, blob, updated) VALUES (?,?,?,?)
		ON CONFLICT(kind, name) DO UPDATE SET blob=excluded.blob, updated=excluded.updated`,
		kind, name, blob, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store sealed %s/%s: %w", kind, name, err)
	}
	return nil
}

// Sealed returns every sealed blob of a kind, by name.
func (s *Store) Sealed(ctx context.Context, kind string) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, blob FROM sealed WHERE kind = ?`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var n string
		var b []byte
		if err := rows.Scan(&n, &b); err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, rows.Err()
}

// DeleteSealed removes one sealed blob.
func (s *Store) DeleteSealed(ctx context.Context, kind, name string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sealed WHERE kind = ? AND name = ?`, kind, name)
	return err
}

// DeleteSealedRecorded removes sealed blobs of a kind and appends the
// events that record it to the activity log, in one durable transaction:
// a crash leaves both done or neither, never a blob gone with no record of
// its deletion, nor a record of a deletion that did not happen.
func (s *Store) DeleteSealedRecorded(ctx context.Context, kind string, names []string, events ...engine.Event) ([]engine.Event, error) {
	var out []engine.Event
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		for _, n := range names {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sealed WHERE kind = ? AND name = ?`, kind, n); err != nil {
				return fmt.Errorf("delete sealed %s/%s: %w", kind, n, err)
			}
		}
		var err error
		out, err = insertEvents(ctx, tx, events, s.now())
		return err
	})
	return out, err
}
