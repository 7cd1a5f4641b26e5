package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// AgingCounts counts keys per source and aging bucket at now, in SQL.
func (s *Store) AgingCounts(ctx context.Context, now time.Time, t engine.Thresholds) (map[string]map[engine.Bucket]int, error) {
	expr, args := AgingExpr(now, t)
	return countsBy[engine.Bucket](ctx, s, `SELECT source, `+expr+` AS bucket, count(*) FROM keys GROUP BY source, bucket`, args...)
}

// Milestone is one dated milestone of a key, as the aging report lists it.
type Milestone struct {
	Date time.Time
	Kind string
	Key  engine.Key
}

// MilestoneQuery selects a page of the aging report.
type MilestoneQuery struct {
	From, To time.Time
	Source   string
	KeyID    string
	Period   time.Duration // default rotation period
	Limit    int
	Cursor   string
}

type msCursor struct {
	D    int64  `json:"d"`
	ID   string `json:"id"`
	Kind string `json:"k"`
}

// Milestones returns the next page of key milestones in [From, To), by date,
// key ID and kind. Each milestone kind is scanned in index order and cut at
// the page size before the pages are merged, so the cost of a page does not
// grow with the inventory.
func (s *Store) Milestones(ctx context.Context, q MilestoneQuery) ([]Milestone, string, error) {
	if q.Limit <= 0 || q.Limit > 5000 {
		q.Limit = 100
	}
	var cur msCursor
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || json.Unmarshal(b, &cur) != nil || cur.ID == "" {
			return nil, "", ErrBadCursor
		}
	} else {
		cur = msCursor{D: q.From.UnixMilli() - 1, ID: "", Kind: ""}
	}
	query, args := milestonesQuery(q, cur)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	return s.milestoneRows(rows, q)
}

// milestonesQuery is Milestones' query from the cursor cur: one index
// range per kind of date, merged. The state condition is written +state so
// SQLite walks each date's index instead of the (state, source) index,
// which read every usable key and sorted them (10-22 s at a million keys).
func milestonesQuery(q MilestoneQuery, cur msCursor) (string, []any) {
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	p := q.Period.Milliseconds()
	var extra []string
	var extraArgs []any
	if q.Source != "" {
		extra, extraArgs = append(extra, "source = ?"), append(extraArgs, q.Source)
	}
	if q.KeyID != "" {
		extra, extraArgs = append(extra, "id = ?"), append(extraArgs, q.KeyID)
	}
	and := ""
	if len(extra) > 0 {
		and = " AND " + strings.Join(extra, " AND ")
	}
	usable := " AND +state IN ('active','disabled','pre-active')"
	// Each part: (date expression, index expression offset, kind, condition).
	type part struct {
		date, order, kind, cond string
		offset                  int64
	}
	max := "9223372036854775807"
	parts := []part{
		{"expires", "coalesce(expires, " + max + ")", "expires", "", 0},
		{"deactivated", "deactivated", "deactivated", " AND deactivated IS NOT NULL", 0},
		{"destroyed", "destroyed", "destroyed", " AND destroyed IS NOT NULL", 0},
		{"deleted", "deleted", "deleted", " AND deleted IS NOT NULL", 0},
		{"purge_at", "purge_at", "purge", " AND purge_at IS NOT NULL", 0},
		{"coalesce(rotated, created) + rotate_after", "coalesce(rotated, created) + rotate_after", "rotation-due", " AND rotate_after > 0 AND coalesce(rotated, created) IS NOT NULL" + usable, 0},
	}
	if p > 0 {
		parts = append(parts, part{"coalesce(rotated, created) + ?", "coalesce(rotated, created, " + max + ")", "rotation-due", " AND rotate_after = 0" + usable, p})
	}
	var sqls []string
	var args []any
	for _, pt := range parts {
		date := pt.date
		var dateArgs []any
		if pt.offset != 0 {
			dateArgs = []any{pt.offset}
		}
		// The index expression is compared with bounds shifted by the offset.
		lo, hi, cd := from-pt.offset, to-pt.offset, cur.D-pt.offset
		// Rows at the cursor's date and id but a kind after the cursor's come next.
		sqls = append(sqls, fmt.Sprintf(`SELECT * FROM (SELECT %s AS d, '%s' AS kind, id FROM keys
			WHERE %s >= ? AND %s < ? AND ((%s, id) > (?, ?) OR (%s = ? AND id = ? AND '%s' > ?))%s%s
			ORDER BY %s, id LIMIT ?)`, date, pt.kind, pt.order, pt.order, pt.order, pt.order, pt.kind, pt.cond, and, pt.order))
		args = append(args, dateArgs...)
		args = append(args, lo, hi, cd, cur.ID, cd, cur.ID, cur.Kind)
		args = append(args, extraArgs...)
		args = append(args, q.Limit+1)
	}
	query := `SELECT m.d, m.kind, ` + prefixed("k.", keyColumns) + ` FROM (` + strings.Join(sqls, " UNION ALL ") +
		`) m JOIN keys k ON k.id = m.id ORDER BY m.d, m.id, m.kind LIMIT ?`
	args = append(args, q.Limit+1)
	return query, args
}

// milestoneRows reads Milestones' rows and the cursor after them.
func (s *Store) milestoneRows(rows *sql.Rows, q MilestoneQuery) ([]Milestone, string, error) {
	defer rows.Close()
	var out []Milestone
	next := ""
	for rows.Next() {
		var d int64
		var kind string
		var k engine.Key
		k, err := scanKey(prefixScan{rows, []any{&d, &kind}})
		if err != nil {
			return nil, "", err
		}
		if len(out) == q.Limit {
			last := out[len(out)-1]
			b, _ := json.Marshal(msCursor{D: last.Date.UnixMilli(), ID: last.Key.ID, Kind: last.Kind})
			next = base64.RawURLEncoding.EncodeToString(b)
			break
		}
		out = append(out, Milestone{Date: time.UnixMilli(d).UTC(), Kind: kind, Key: k})
	}
	return out, next, rows.Err()
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i := range parts {
		parts[i] = p + strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, ", ")
}

type prefixScan struct {
	rows interface{ Scan(...any) error }
	pre  []any
}

func (p prefixScan) Scan(dest ...any) error { return p.rows.Scan(append(p.pre, dest...)...) }

// EventsPerDay counts events matching q per UTC day (q's Limit and Cursor
// are ignored). Whole days come from the events_daily table when the filter
// is by source, origin or operation only; partial days at the ends of the
// range, and filters by key or actor, count the events themselves.
func (s *Store) EventsPerDay(ctx context.Context, q EventQuery) (map[time.Time]int, error) {
	const day = 86400000
	out := map[time.Time]int{}
	if q.KeyID != "" || q.Actor != "" || q.From.IsZero() || q.To.IsZero() {
		return out, s.rawPerDay(ctx, q, out)
	}
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	fullFrom, fullTo := (from+day-1)/day, to/day // whole days [fullFrom, fullTo)
	if fullFrom >= fullTo {
		return out, s.rawPerDay(ctx, q, out)
	}
	where := []string{"day >= ?", "day < ?"}
	args := []any{fullFrom, fullTo}
	if q.Source != "" {
		where, args = append(where, "source = ?"), append(args, q.Source)
	}
	if q.Origin != "" {
		where, args = append(where, "origin = ?"), append(args, string(q.Origin))
	}
	if q.Operation != "" {
		where, args = append(where, "operation = ?"), append(args, q.Operation)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT day, sum(count) FROM events_daily WHERE `+strings.Join(where, " AND ")+` GROUP BY day`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var d int64
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			rows.Close()
			return nil, err
		}
		if n > 0 {
			out[time.UnixMilli(d*day).UTC()] = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	head, tail := q, q
	head.To = time.UnixMilli(fullFrom * day)
	tail.From = time.UnixMilli(fullTo * day)
	if head.From.Before(head.To) {
		if err := s.rawPerDay(ctx, head, out); err != nil {
			return nil, err
		}
	}
	if tail.From.Before(tail.To) {
		if err := s.rawPerDay(ctx, tail, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rawPerDay adds the per-day counts of the events matching q to out.
func (s *Store) rawPerDay(ctx context.Context, q EventQuery, out map[time.Time]int) error {
	where, args := eventWhere(q)
	return eachRow(ctx, s.db, func(sc scanner) error {
		var d int64
		var n int
		if err := sc.Scan(&d, &n); err != nil {
			return err
		}
		out[time.UnixMilli(d*86400000).UTC()] += n
		return nil
	}, `SELECT time / 86400000 AS day, count(*) FROM events`+where+` GROUP BY day`, args...)
}
