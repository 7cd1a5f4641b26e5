package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyward/keyward/engine"
)

// BulkLoad inserts many keys and events fast, for generated inventories
// (keyward dev seed, benchmarks): prepared statements, one transaction per
// call. Callers split their data into calls of tens of thousands of rows.
func (s *Store) BulkLoad(ctx context.Context, keys []engine.Key, events []engine.Event) error {
	now := s.now()
	return s.durableTx(ctx, func(tx *sql.Tx) error {
		if len(keys) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO keys (`+keyColumns+`, sort_name, display_name)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, k := range keys {
				if _, err := st.ExecContext(ctx, k.ID, k.Source, k.Name, k.Version, k.Algorithm, k.Length, string(k.State),
					k.Application, k.Fingerprint, ms(k.Created), ms(k.Activated), ms(k.Expires), ms(k.Deactivated),
					ms(k.Destroyed), ms(k.Deleted), ms(k.PurgeAt), int64(k.RotateAfter)/1e6, "", k.LinkedTo, now.UnixMilli(),
					ms(k.Rotated), sortName(k), displayName(k)); err != nil {
					return fmt.Errorf("bulk key %s: %w", k.ID, err)
				}
			}
		}
		if len(events) > 0 {
			c, err := newChainer(ctx, tx)
			if err != nil {
				return err
			}
			defer c.close()
			for _, e := range events {
				if _, err := c.add(ctx, e); err != nil {
					return fmt.Errorf("bulk event: %w", err)
				}
			}
		}
		return nil
	})
}
