package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// EnsureSource creates or updates a source's row (kind and address) without
// touching its health.
func (s *Store) EnsureSource(ctx context.Context, name, kind, address string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sources (name, kind, address) VALUES (?,?,?)
		ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, address=excluded.address`, name, kind, address)
	if err != nil {
		return fmt.Errorf("register source %s: %w", name, err)
	}
	return nil
}

// MarkSynced records that a poll or sync of the source just worked.
func (s *Store) MarkSynced(ctx context.Context, name string) error {
	return markSynced(ctx, s.db, name, s.now())
}

// markSynced sets a source's last sync, in a transaction or not.
func markSynced(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, name string, at time.Time) error {
	_, err := db.ExecContext(ctx, `UPDATE sources SET last_sync = ? WHERE name = ?`, at.UnixMilli(), name)
	return err
}

// SetHealth stores a source's health. When the health changes it also
// records ev (if non-nil) in the same transaction, and reports changed.
// Health ok means a poll or sync just succeeded: it is the source's last
// sync, whether or not it changed anything.
func (s *Store) SetHealth(ctx context.Context, name string, h engine.Health, reason string, ev func(prev engine.Health) *engine.Event) (changed bool, recorded []engine.Event, err error) {
	now := s.now()
	err = s.durableTx(ctx, func(tx *sql.Tx) error {
		if h == engine.HealthOK {
			if err := markSynced(ctx, tx, name, now); err != nil {
				return err
			}
		}
		var prev, prevReason string
		err := tx.QueryRowContext(ctx, `SELECT health, reason FROM sources WHERE name = ?`, name).Scan(&prev, &prevReason)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("source %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if prev == string(h) {
			if prevReason != reason {
				_, err = tx.ExecContext(ctx, `UPDATE sources SET reason = ? WHERE name = ?`, reason, name)
				changed = true
			}
			return err
		}
		changed = true
		if _, err := tx.ExecContext(ctx, `UPDATE sources SET health = ?, since = ?, reason = ? WHERE name = ?`,
			string(h), now.UnixMilli(), reason, name); err != nil {
			return err
		}
		if ev != nil {
			if e := ev(engine.Health(prev)); e != nil {
				recorded, err = insertEvents(ctx, tx, []engine.Event{*e}, now)
			}
		}
		return err
	})
	return changed, recorded, err
}

// Sources lists every source with its health. Key counts are left to the
// caller (counting a million keys is a scan; the daemon keeps them with the
// aging summary).
func (s *Store) Sources(ctx context.Context) ([]engine.Source, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.name, s.kind, s.address, s.health, s.since, s.reason, s.last_sync
		FROM sources s ORDER BY s.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.Source
	for rows.Next() {
		var src engine.Source
		var since, last sql.NullInt64
		if err := rows.Scan(&src.Name, &src.Kind, &src.Address, &src.Health, &since, &src.Reason, &last); err != nil {
			return nil, err
		}
		src.Since, src.LastSync = fromMS(since), fromMS(last)
		out = append(out, src)
	}
	return out, rows.Err()
}

// MarkUnconfigured flags sources that are no longer in the configuration.
// Their keys and activity stay (nothing is lost to a config typo); the
// health says why they are not updated any more.
func (s *Store) MarkUnconfigured(ctx context.Context, keep []string) error {
	set := map[string]bool{}
	for _, k := range keep {
		set[k] = true
	}
	srcs, err := s.Sources(ctx)
	if err != nil {
		return err
	}
	for _, src := range srcs {
		if set[src.Name] {
			continue
		}
		if _, _, err := s.SetHealth(ctx, src.Name, engine.HealthUnknown, "not in the configuration any more; its keys are kept as last seen", nil); err != nil {
			return err
		}
	}
	return nil
}

// SourceMemory returns what the source asked to keep across restarts (nil
// when nothing, or no such source).
func (s *Store) SourceMemory(ctx context.Context, name string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT memory FROM sources WHERE name = ?`, name).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read what source %s learned: %w", name, err)
	}
	return b, nil
}

// SetSourceMemory keeps blob for the source across restarts. It is stored
// as it is: a source never puts key material in it.
func (s *Store) SetSourceMemory(ctx context.Context, name string, blob []byte) error {
	return setMemory(ctx, s.db, name, blob)
}

// setMemory is SetSourceMemory on db or inside a transaction.
func setMemory(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, name string, blob []byte) error {
	res, err := db.ExecContext(ctx, `UPDATE sources SET memory = ? WHERE name = ?`, blob, name)
	if err != nil {
		return fmt.Errorf("store what source %s learned: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store what source %s learned: no such source", name)
	}
	return nil
}
