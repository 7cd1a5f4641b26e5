package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// AddUsage adds usage counts in one transaction: rows for the same
// hour, application and key are summed with what is already stored.
func (s *Store) AddUsage(ctx context.Context, rows []engine.Usage) error {
	if len(rows) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error { return addUsage(ctx, tx, rows) })
}

// addUsage adds usage rows inside tx.
func addUsage(ctx context.Context, tx *sql.Tx, rows []engine.Usage) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO usage (hour, application, key_id, encrypts, decrypts, last_use) VALUES (?,?,?,?,?,?)
		ON CONFLICT(hour, application, key_id) DO UPDATE SET encrypts = encrypts + excluded.encrypts, decrypts = decrypts + excluded.decrypts,
			last_use = CASE WHEN last_use IS NULL OR excluded.last_use > last_use THEN COALESCE(excluded.last_use, last_use) ELSE last_use END`)
	if err != nil {
		return fmt.Errorf("store usage: %w", err)
	}
	defer st.Close()
	for _, u := range rows {
		if u.Application == "" || u.KeyID == "" {
			return fmt.Errorf("store usage: a row needs an application and a key id")
		}
		h := u.Hour.UTC().Truncate(time.Hour)
		var last any // NULL: not known
		if !u.Last.IsZero() {
			if u.Last.Before(h) || !u.Last.Before(h.Add(time.Hour)) {
				return fmt.Errorf("store usage of %s/%s: last use %s is not in the hour from %s", u.Application, u.KeyID, u.Last.UTC().Format(time.RFC3339), h.Format(time.RFC3339))
			}
			last = u.Last.UnixMilli()
		}
		if _, err := st.ExecContext(ctx, h.UnixMilli(), u.Application, u.KeyID, u.Encrypts, u.Decrypts, last); err != nil {
			return fmt.Errorf("store usage of %s/%s: %w", u.Application, u.KeyID, err)
		}
	}
	return nil
}

// UsageQuery selects usage rows; zero fields match everything. From is
// inclusive, To exclusive.
type UsageQuery struct {
	Application string
	KeyID       string
	From, To    time.Time
}

// where is the query's SQL condition and its arguments.
func (q UsageQuery) where() (string, []any) {
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
	return where, args
}

// Usage returns usage rows ordered by hour, application and key.
func (s *Store) Usage(ctx context.Context, q UsageQuery) ([]engine.Usage, error) {
	where, args := q.where()
	return queryAll(ctx, s, "read usage", func(sc scanner) (engine.Usage, error) {
		var u engine.Usage
		var h int64
		var last sql.NullInt64
		err := sc.Scan(&h, &u.Application, &u.KeyID, &u.Encrypts, &u.Decrypts, &last)
		u.Hour = time.UnixMilli(h).UTC()
		if last.Valid {
			u.Last = time.UnixMilli(last.Int64).UTC()
		}
		return u, err
	}, `SELECT hour, application, key_id, encrypts, decrypts, last_use FROM usage WHERE `+where+` ORDER BY hour, application, key_id`, args...)
}

// KeyUse sums the use of each of app's keys (short ids) since a time, for
// the check before a generation leaves a ring. Keys with no recorded use
// are absent from the answer.
func (s *Store) KeyUse(ctx context.Context, app string, keyIDs []string, since time.Time) (map[string]engine.KeyUse, error) {
	out := map[string]engine.KeyUse{}
	for _, id := range keyIDs {
		var enc, dec sql.NullInt64
		var last sql.NullInt64
		err := s.db.QueryRowContext(ctx, `SELECT SUM(encrypts), SUM(decrypts), MAX(CASE WHEN decrypts > 0 THEN hour END)
			FROM usage WHERE application = ? AND key_id = ? AND hour >= ?`, app, id, since.UTC().Truncate(time.Hour).UnixMilli()).Scan(&enc, &dec, &last)
		if err != nil {
			return nil, fmt.Errorf("read the usage of %s/%s: %w", app, id, err)
		}
		if !enc.Valid && !dec.Valid {
			continue
		}
		u := engine.KeyUse{Encrypts: enc.Int64, Decrypts: dec.Int64}
		if last.Valid {
			u.LastDecrypt = time.UnixMilli(last.Int64).UTC()
		}
		out[id] = u
	}
	return out, nil
}

// UsageTotals sums the rows Usage would return per application and key,
// in SQL, so a report over years of hourly rows holds one row per key,
// not one per hour. Hour is the first hour with use, Last the latest use
// (the hour's start where the exact time is not known). The whole days of
// the range are read from usage_daily (kept by triggers), only the partial
// days at its ends from the hourly rows.
func (s *Store) UsageTotals(ctx context.Context, q UsageQuery) ([]engine.Usage, error) {
	const dayMS = 86400000
	// Whole days: [firstDay, endDay) in Unix days, inside [From, To).
	firstDay, endDay := int64(0), int64(0)
	if !q.From.IsZero() {
		firstDay = (q.From.UnixMilli() + dayMS - 1) / dayMS
		if q.From.UnixMilli() < 0 {
			firstDay = q.From.UnixMilli() / dayMS // rounds toward zero: up for negatives
		}
	}
	if !q.To.IsZero() {
		endDay = q.To.UnixMilli() / dayMS
		if q.To.UnixMilli() < 0 && q.To.UnixMilli()%dayMS != 0 {
			endDay-- // floor for negatives
		}
	}
	where, args := q.where()
	var sel string
	if q.From.IsZero() || q.To.IsZero() || firstDay >= endDay {
		sel = `SELECT application, key_id, encrypts, decrypts, hour AS first, max(hour, coalesce(last_use, hour)) AS last
			FROM usage WHERE ` + where
	} else {
		dq := q
		dq.From, dq.To = time.Time{}, time.Time{}
		dwhere, dargs := dq.where()
		sel = `SELECT application, key_id, encrypts, decrypts, hour AS first, max(hour, coalesce(last_use, hour)) AS last
			FROM usage WHERE ` + where + ` AND (hour < ? OR hour >= ?)
			UNION ALL SELECT application, key_id, encrypts, decrypts, first_hour, last_use
			FROM usage_daily WHERE ` + dwhere + ` AND day >= ? AND day < ?`
		args = append(args, firstDay*dayMS, endDay*dayMS)
		args = append(append(args, dargs...), firstDay, endDay)
	}
	return queryAll(ctx, s, "sum usage", scanUsageTotal, `SELECT application, key_id, SUM(encrypts), SUM(decrypts), MIN(first), MAX(last)
		FROM (`+sel+`) GROUP BY application, key_id ORDER BY application, key_id`, args...)
}

// scanUsageTotal reads a key's total use (application, key_id, encrypts,
// decrypts, first hour, latest use): Hour is its first hour.
func scanUsageTotal(sc scanner) (engine.Usage, error) {
	var u engine.Usage
	var first, last int64
	err := sc.Scan(&u.Application, &u.KeyID, &u.Encrypts, &u.Decrypts, &first, &last)
	u.Hour, u.Last = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	return u, err
}

// inList is "col IN (?,?,…)" with its arguments; an empty list matches
// nothing.
func inList[T ~string](col string, vals []T) (string, []any) {
	if len(vals) == 0 {
		return "0", nil
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = string(v)
	}
	return col + " IN (?" + strings.Repeat(",?", len(vals)-1) + ")", args
}

// appKeyFilter selects the keys of app (of every application when app is
// "") held by sources in states.
func appKeyFilter(app string, sources []string, states []engine.State) (string, []any) {
	where, args := "application != ''", []any{}
	if app != "" {
		where, args = "application != '' AND application = ?", []any{app}
	}
	// Unary + keeps SQLite off the (state, source) index, which would
	// read every key in the states.
	src, srcArgs := inList("+source", sources)
	st, stArgs := inList("+state", states)
	return where + " AND " + src + " AND " + st, append(append(args, srcArgs...), stArgs...)
}

// AppKeyCount is the number of keys of application app (of every
// application when app is "") held by sources in states, read from the
// counts the triggers keep (a few rows, whatever the inventory's size).
func (s *Store) AppKeyCount(ctx context.Context, app string, sources []string, states []engine.State) (int, error) {
	where, args := appKeyFilter(app, sources, states)
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM app_key_counts WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the keys of applications: %w", err)
	}
	return n, nil
}

// AppKeysByID returns the first limit keys, in id order, of application
// app (of every application when app is "") held by sources in states.
func (s *Store) AppKeysByID(ctx context.Context, app string, sources []string, states []engine.State, limit int) ([]engine.Key, error) {
	if len(sources) == 0 || len(states) == 0 {
		return nil, nil // none can match (and a plan for a false condition has no index to walk)
	}
	q, args := appKeysByIDQuery(app, sources, states, limit)
	return s.appKeys(ctx, q, args...)
}

// appKeysByIDQuery is AppKeysByID's query: an index walk in id order that
// stops after limit rows (left to itself, SQLite read every key in the
// states through the (state, source) index and sorted them: 1-2 s at a
// million keys).
func appKeysByIDQuery(app string, sources []string, states []engine.State, limit int) (string, []any) {
	where, args := appKeyFilter(app, sources, states)
	index := " INDEXED BY keys_app_by_id" // every application's keys in id order
	if app != "" {
		index = "" // application = ? on keys_by_application, in id order
	}
	return `SELECT id, source, name, application, state, fingerprint FROM keys` + index + ` WHERE ` + where +
		` ORDER BY id LIMIT ?`, append(args, limit)
}

// AppKeysByShortID returns the keys of application app whose fingerprint
// (hex) starts with the 6 bytes that short, the id a token names a
// generation by (keyring.ShortID: base64url of those bytes), spells: a
// range of the fingerprint index, lower and upper case. The caller checks
// each fingerprint's short id.
func (s *Store) AppKeysByShortID(ctx context.Context, app, short string) ([]engine.Key, error) {
	b, err := base64.RawURLEncoding.DecodeString(short)
	if err != nil || len(b) != 6 {
		return nil, nil // no fingerprint gives it
	}
	lo := hex.EncodeToString(b)
	up := strings.ToUpper(lo)
	return s.appKeys(ctx, `SELECT id, source, name, application, state, fingerprint FROM keys
		WHERE ((fingerprint >= ? AND fingerprint < ?) OR (fingerprint >= ? AND fingerprint < ?)) AND fingerprint != '' AND application = ?
		ORDER BY id`, lo, lo+"g", up, up+"G", app)
}

func (s *Store) appKeys(ctx context.Context, q string, args ...any) ([]engine.Key, error) {
	return queryAll(ctx, s, "read the keys of applications", func(sc scanner) (engine.Key, error) {
		var k engine.Key
		err := sc.Scan(&k.ID, &k.Source, &k.Name, &k.Application, &k.State, &k.Fingerprint)
		return k, err
	}, q, args...)
}
