package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// Aging counts from kept dates (migration 0019). A key's bucket moves with
// the clock, so per-bucket counts cannot be kept; the dates that decide the
// buckets can. aging_days counts, per source and UTC day, the usable keys'
// expiries (kind 0), the instants they become rotation-overdue (kind 1) and
// the instants they stop being overdue because they enter the largest
// expiring window (kind 2). At any instant t:
//
//	expired          = #{expiry <= t}
//	expiring-Nd      = #{expiry <= t+N} - #{expiry <= previous window's end}
//	rotation-overdue = #{overdue from <= t} - #{overdue until <= t}
//
// and each #{date <= x} is a sum over the whole 64-day blocks, days and
// hours before x plus an exact count, through an index, of the keys whose
// date falls in x's hour up to x (a few dozen keys at a million). Only keys
// with an overdue span that is not empty have kinds 1 and 2.

const (
	hourMS = 3600000
	dayMS  = 24 * hourMS
)

// Kinds of dates in aging_days. A row of kind mark + markKinds*level
// counts the dates of that mark in one unit of that level (its number
// since the epoch in unit). The blocks make a sum over every day before an
// instant read a few dozen rows a source instead of every day since the
// oldest key (44,000 rows at a million keys, 13-35 ms); the hours leave
// only an hour's keys to count one by one (a day's were 7 ms of lookups).
const (
	markExpiry       = 0
	markOverdueFrom  = 1
	markOverdueUntil = 2
	markKinds        = 3
)

// agingLevels are the units of the levels, by level.
var agingLevels = [...]int64{dayMS, 64 * dayMS, hourMS}

const (
	levelDay, levelBlock, levelHour = 0, 1, 2
)

// floorSQL is floor(x / unit) in SQL for an integer expression x.
func floorSQL(x string, unit int64) string {
	return fmt.Sprintf("(%[1]s) / %[2]d - ((%[1]s) %% %[2]d < 0)", x, unit)
}

// floorDiv is floor(x / unit).
func floorDiv(x, unit int64) int64 {
	q := x / unit
	if x%unit < 0 {
		q--
	}
	return q
}

// agingMarks selects, for the rows of the table or subquery rows (columns
// source, state, expires, created, rotated, rotate_after), each date kept
// in aging_days as (source, kind, at) with at in Unix ms. The triggers and
// the build share it, so they cannot disagree.
func agingMarks(rows string) string {
	return `SELECT source, kind, at FROM (
		SELECT source, kind, CASE kind
			WHEN 0 THEN expires
			WHEN 1 THEN CASE WHEN s IS NOT NULL AND (expires IS NULL OR s < expires - w) THEN s END
			ELSE CASE WHEN s IS NOT NULL AND s < expires - w THEN expires - w END END AS at
		FROM (SELECT source, expires, w, CASE WHEN af IS NOT NULL AND per > 0 THEN af + per END AS s
			FROM (SELECT r.source AS source, r.expires AS expires, coalesce(r.rotated, r.created) AS af,
				CASE WHEN r.rotate_after > 0 THEN r.rotate_after ELSE p.period END AS per, p.expiring_window AS w
				FROM ` + rows + ` AS r, aging_params AS p WHERE r.state NOT IN ` + retiredStates + `)),
			(SELECT 0 AS kind UNION ALL SELECT 1 UNION ALL SELECT 2))
	WHERE at IS NOT NULL`
}

// agingRow is one row of keys (new or old in a trigger) as agingMarks reads it.
func agingRow(r string) string {
	return fmt.Sprintf(`(SELECT %[1]s.source AS source, %[1]s.state AS state, %[1]s.expires AS expires,
		%[1]s.created AS created, %[1]s.rotated AS rotated, %[1]s.rotate_after AS rotate_after)`, r)
}

// agingAdd adds (sign 1) or takes away (sign -1) one row's dates, at
// every level.
func agingAdd(r string, sign int) string {
	marks := agingMarks(agingRow(r))
	var b strings.Builder
	for level, unit := range agingLevels {
		fmt.Fprintf(&b, `INSERT INTO aging_days (kind, unit, source, n) SELECT kind + %d, %s, source, %d FROM (%s) WHERE true
		ON CONFLICT (kind, unit, source) DO UPDATE SET n = n + excluded.n; `, markKinds*level, floorSQL("at", unit), sign, marks)
	}
	return b.String()
}

// agingTriggers keep aging_days as keys are inserted, deleted (removals,
// purges, a dropped source's cascade) or change a column that decides a
// bucket. An upsert that changes nothing does not update the row, so fires
// nothing.
func agingTriggers() []string {
	return []string{
		`CREATE TRIGGER aging_days_insert AFTER INSERT ON keys BEGIN ` + agingAdd("new", 1) + ` END`,
		`CREATE TRIGGER aging_days_delete AFTER DELETE ON keys BEGIN ` + agingAdd("old", -1) + ` END`,
		`CREATE TRIGGER aging_days_update AFTER UPDATE OF source, state, expires, created, rotated, rotate_after ON keys
			WHEN old.source IS NOT new.source OR old.state IS NOT new.state OR old.expires IS NOT new.expires
				OR old.created IS NOT new.created OR old.rotated IS NOT new.rotated OR old.rotate_after IS NOT new.rotate_after
			BEGIN ` + agingAdd("old", -1) + ` ` + agingAdd("new", 1) + ` END`,
	}
}

// buildAgingDays counts every key's dates into aging_days afresh: the
// hours from the keys, the days from the hours, the blocks from the days.
func buildAgingDays(ctx context.Context, tx *sql.Tx) error {
	hour, day, block := markKinds*levelHour, markKinds*levelDay, markKinds*levelBlock
	for _, q := range []string{
		`DELETE FROM aging_days`,
		fmt.Sprintf(`INSERT INTO aging_days (kind, unit, source, n)
			SELECT kind + %d, %s AS u, source, count(*) FROM (%s) GROUP BY kind, u, source`, hour, floorSQL("at", hourMS), agingMarks("keys")),
		fmt.Sprintf(`INSERT INTO aging_days (kind, unit, source, n)
			SELECT kind - %d + %d, %s AS u, source, sum(n) FROM aging_days WHERE kind >= %[1]d GROUP BY kind, u, source`, hour, day, floorSQL("unit", 24)),
		fmt.Sprintf(`INSERT INTO aging_days (kind, unit, source, n)
			SELECT kind - %d + %d, %s AS u, source, sum(n) FROM aging_days WHERE kind < %d GROUP BY kind, u, source`, day, block, floorSQL("unit", 64), markKinds),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// migrateAgingDays is migration 0019's Go step: the triggers, then the
// table built for the default thresholds.
func migrateAgingDays(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	for _, q := range agingTriggers() {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return buildAgingDays(ctx, tx)
}

// agingParams are what aging_days depends on in thresholds t: the default
// rotation period and the largest expiring window, in ms.
func agingParams(t engine.Thresholds) (period, window int64) {
	for _, d := range t.ExpiringDays {
		if w := int64(d) * dayMS; w > window {
			window = w
		}
	}
	return t.RotationPeriod.Milliseconds(), window
}

// PrepareAging makes the kept aging dates follow thresholds t, rebuilding
// them (one transaction; seconds at a million keys) when the database was
// kept for other thresholds. rebuilt says whether it did.
func (s *Store) PrepareAging(ctx context.Context, t engine.Thresholds) (rebuilt bool, err error) {
	period, window := agingParams(t)
	err = s.durableTx(ctx, func(tx *sql.Tx) error {
		var p, w int64
		if err := tx.QueryRowContext(ctx, `SELECT period, expiring_window FROM aging_params`).Scan(&p, &w); err != nil {
			return fmt.Errorf("read the aging parameters: %w", err)
		}
		if p == period && w == window {
			return nil
		}
		rebuilt = true
		if _, err := tx.ExecContext(ctx, `UPDATE aging_params SET period = ?, expiring_window = ?`, period, window); err != nil {
			return err
		}
		return buildAgingDays(ctx, tx)
	})
	return rebuilt, err
}

// perSource is a count per source.
type perSource map[string]int64

// AgingCountsKept counts keys per source and aging bucket at now from the
// kept dates, exactly, without reading every key. ok is false when the
// dates were kept for other thresholds (a store not prepared by
// PrepareAging for t): the caller counts with AgingCounts instead.
func (s *Store) AgingCountsKept(ctx context.Context, now time.Time, t engine.Thresholds) (out map[string]map[engine.Bucket]int, ok bool, err error) {
	period, window := agingParams(t)
	n := now.UnixMilli()
	// One snapshot: the sums, the partial hours and the state counts
	// must see the same inventory.
	rt, err := s.readTx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer rt.close()
	conn := rt.tx
	var p, w int64
	if err := conn.QueryRowContext(ctx, `SELECT period, expiring_window FROM aging_params`).Scan(&p, &w); err != nil || p != period || w != window {
		return nil, false, err
	}
	days := append([]int(nil), t.ExpiringDays...)
	sort.Ints(days)
	// The instants whose expiry counts are needed: now, then each window's end.
	ends := []int64{n}
	for _, d := range days {
		ends = append(ends, n+int64(d)*dayMS)
	}
	// Whole units before each instant: blocks, days, hours (index ranges).
	type daySum struct {
		kind int
		at   int64
		into perSource
	}
	expiry := make([]perSource, len(ends))
	var sums []daySum
	for i, e := range ends {
		expiry[i] = perSource{}
		sums = append(sums, daySum{markExpiry, e, expiry[i]})
	}
	from, until := perSource{}, perSource{}
	sums = append(sums, daySum{markOverdueFrom, n, from}, daySum{markOverdueUntil, n, until})
	var parts []string
	var args []any
	for i, sm := range sums {
		h := floorDiv(sm.at, hourMS)
		d := floorDiv(h, 24)
		b := floorDiv(d, 64)
		// Blocks before b, then days of b before d, then hours of d before h.
		for _, r := range [][3]int64{{levelBlock, math.MinInt64, b}, {levelDay, b * 64, d}, {levelHour, d * 24, h}} {
			parts = append(parts, fmt.Sprintf(`SELECT %d AS i, source, n FROM aging_days WHERE kind = ? AND unit >= ? AND unit < ?`, i))
			args = append(args, int64(sm.kind+markKinds*int(r[0])), r[1], r[2])
		}
	}
	if err := eachRow(ctx, conn, func(sc scanner) error {
		var i int
		var src string
		var v int64
		if err := sc.Scan(&i, &src, &v); err != nil {
			return err
		}
		sums[i].into[src] += v
		return nil
	}, `SELECT i, source, sum(n) FROM (`+strings.Join(parts, " UNION ALL ")+`) GROUP BY i, source`, args...); err != nil {
		return nil, false, err
	}
	// The partial hours, key by key through the date indexes.
	const exp = "coalesce(expires, 9223372036854775807)"
	usable := " AND state NOT IN " + retiredStates
	var partials []partialDay
	for i, e := range ends {
		partials = append(partials, partialDay{expiry[i], exp + " >= ? AND " + exp + " <= ?" + usable, []any{floorDiv(e, hourMS) * hourMS, e}})
	}
	lo := floorDiv(n, hourMS) * hourMS
	per := "(CASE WHEN rotate_after > 0 THEN rotate_after ELSE ? END)"
	open := "(expires IS NULL OR coalesce(rotated, created) + " + per + " < expires - ?)"
	if period > 0 {
		partials = append(partials, partialDay{from, "coalesce(rotated, created, 9223372036854775807) >= ? AND coalesce(rotated, created, 9223372036854775807) <= ? AND rotate_after <= 0" + usable + " AND " + open,
			[]any{lo - period, n - period, period, window}})
	}
	partials = append(partials, partialDay{from, "coalesce(rotated, created) + rotate_after >= ? AND coalesce(rotated, created) + rotate_after <= ? AND rotate_after > 0 AND coalesce(rotated, created) IS NOT NULL" + usable + " AND " + open,
		[]any{lo, n, period, window}}, partialDay{until, exp + " >= ? AND " + exp + " <= ?" + usable + " AND coalesce(rotated, created) IS NOT NULL AND " + per + " > 0 AND coalesce(rotated, created) + " + per + " < expires - ?",
		[]any{lo + window, n + window, period, period, window}})
	for _, pt := range partials {
		if err := countInto(ctx, conn, pt.into, `SELECT source, count(*) FROM keys WHERE `+pt.query+` GROUP BY source`, pt.args...); err != nil {
			return nil, false, err
		}
	}
	// Usable and retired keys per source, from the kept state counts.
	usableN, retired := perSource{}, perSource{}
	if err := countInto(ctx, conn, usableN, `SELECT source, sum(n) FROM key_counts WHERE state NOT IN `+retiredStates+` GROUP BY source`); err != nil {
		return nil, false, err
	}
	if err := countInto(ctx, conn, retired, `SELECT source, sum(n) FROM key_counts WHERE state IN `+retiredStates+` GROUP BY source`); err != nil {
		return nil, false, err
	}
	out = map[string]map[engine.Bucket]int{}
	add := func(src string, b engine.Bucket, v int64) {
		if v == 0 {
			return
		}
		if out[src] == nil {
			out[src] = map[engine.Bucket]int{}
		}
		out[src][b] += int(v)
	}
	for src, u := range usableN {
		left := u
		add(src, engine.BucketExpired, expiry[0][src])
		left -= expiry[0][src]
		lower := 0
		for i, d := range days {
			// A window no wider than the one before it holds no key.
			if ends[i+1] <= ends[lower] {
				continue
			}
			v := expiry[i+1][src] - expiry[lower][src]
			add(src, engine.ExpiringBucket(d), v)
			left -= v
			lower = i + 1
		}
		overdue := from[src] - until[src]
		add(src, engine.BucketOverdue, overdue)
		add(src, engine.BucketHealthy, left-overdue)
	}
	for src, r := range retired {
		add(src, engine.BucketRetired, r)
	}
	return out, true, nil
}

// partialDay counts, into into, the keys matching query (a range of one
// date index, within one hour).
type partialDay struct {
	into  perSource
	query string
	args  []any
}

// countInto adds the (source, count) rows of query to into.
func countInto(ctx context.Context, conn reader, into perSource, query string, args ...any) error {
	return eachRow(ctx, conn, func(sc scanner) error {
		var src string
		var v int64
		if err := sc.Scan(&src, &v); err != nil {
			return err
		}
		into[src] += v
		return nil
	}, query, args...)
}
