package store

import (
	"context"
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
	rows, err := s.db.QueryContext(ctx, `SELECT source, `+expr+` AS bucket, count(*) FROM keys GROUP BY source, bucket`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[engine.Bucket]int{}
	for rows.Next() {
		var src, b string
		var n int
		if err := rows.Scan(&src, &b, &n); err != nil {
			return nil, err
		}
		if out[src] == nil {
			out[src] = map[engine.Bucket]int{}
		}
		out[src][engine.Bucket(b)] = n
	}
	return out, rows.Err()
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
	usable := " AND state IN ('active','disabled','pre-active')"
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
		{"created + rotate_after", "created + rotate_after", "rotation-due", " AND rotate_after > 0 AND created IS NOT NULL" + usable, 0},
	}
	if p > 0 {
		parts = append(parts, part{"created + ?", "coalesce(created, " + max + ")", "rotation-due", " AND rotate_after = 0" + usable, p})
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
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
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

// EventsPerDay counts events matching q per UTC day (q's Limit and Before
// are ignored).
func (s *Store) EventsPerDay(ctx context.Context, q EventQuery) (map[time.Time]int, error) {
	where, args := eventWhere(q)
	rows, err := s.db.QueryContext(ctx, `SELECT time / 86400000 AS day, count(*) FROM events`+where+` GROUP BY day`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[time.Time]int{}
	for rows.Next() {
		var day int64
		var n int
		if err := rows.Scan(&day, &n); err != nil {
			return nil, err
		}
		out[time.UnixMilli(day*86400000).UTC()] = n
	}
	return out, rows.Err()
}

// ApplicationKeys returns every key that belongs to an application's ring
// (the candidates of the usage report), optionally of one application.
func (s *Store) ApplicationKeys(ctx context.Context, app string) ([]engine.Key, error) {
	q := `SELECT ` + keyColumns + ` FROM keys WHERE application != ''`
	var args []any
	if app != "" {
		q += ` AND application = ?`
		args = append(args, app)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
