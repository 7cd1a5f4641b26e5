package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// sortName is the value the name sort reads (the sort_name column,
// indexed), ordering as engine.SortKeys does: the name a key is shown by
// (engine.Key.DisplayName: an AWS key's first alias, not its key ID), a
// trailing version number zero-padded so acme.key.10 sorts after
// acme.key.9.
func sortName(k engine.Key) string {
	name := k.DisplayName()
	if prefix, n, ok := engine.SplitVersion(name); ok {
		return fmt.Sprintf("%s%010d", prefix, n)
	}
	return name
}

// displayName is the display_name column: the names a key is known by
// besides its name — every alias of an AWS key, the first (the name it is
// shown by) first, one per line so that no search matches across two —
// else "" (most keys: nothing more for the "/" filter to index).
func displayName(k engine.Key) string {
	var names []string
	for _, a := range k.Aliases() {
		if a != k.Name {
			names = append(names, a)
		}
	}
	return strings.Join(names, "\n")
}

const keyColumns = `id, source, name, version, algorithm, length, state, application, fingerprint,
	created, activated, expires, deactivated, destroyed, deleted, purge_at, rotate_after, tags, linked_to, updated, rotated`

func scanKey(sc interface{ Scan(...any) error }) (engine.Key, error) {
	var k engine.Key
	var created, activated, expires, deactivated, destroyed, deleted, purgeAt, rotated sql.NullInt64
	var rotate, updated int64
	var tags string
	err := sc.Scan(&k.ID, &k.Source, &k.Name, &k.Version, &k.Algorithm, &k.Length, &k.State, &k.Application,
		&k.Fingerprint, &created, &activated, &expires, &deactivated, &destroyed, &deleted, &purgeAt, &rotate,
		&tags, &k.LinkedTo, &updated, &rotated)
	if err != nil {
		return k, err
	}
	k.Created, k.Activated, k.Expires = fromMS(created), fromMS(activated), fromMS(expires)
	k.Deactivated, k.Destroyed, k.Deleted, k.PurgeAt = fromMS(deactivated), fromMS(destroyed), fromMS(deleted), fromMS(purgeAt)
	k.RotateAfter = engine.Duration(time.Duration(rotate) * time.Millisecond)
	k.Rotated = fromMS(rotated)
	k.Updated = time.UnixMilli(updated).UTC()
	if tags != "" {
		if err := json.Unmarshal([]byte(tags), &k.Tags); err != nil {
			return k, fmt.Errorf("key %s: tags: %w", k.ID, err)
		}
	}
	return k, nil
}

// upsertKeySQL writes one key, inserting or replacing it by ID. A key
// written as it already is leaves its row alone: no row, index or trigger
// work (a full sync rewrites thousands of unchanged keys), and updated
// stays the time of its last change.
const upsertKeySQL = `INSERT INTO keys (` + keyColumns + `, sort_name, display_name)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET source=excluded.source, name=excluded.name, version=excluded.version,
		algorithm=excluded.algorithm, length=excluded.length, state=excluded.state, application=excluded.application,
		fingerprint=excluded.fingerprint, created=excluded.created, activated=excluded.activated,
		expires=excluded.expires, deactivated=excluded.deactivated, destroyed=excluded.destroyed,
		deleted=excluded.deleted, purge_at=excluded.purge_at, rotate_after=excluded.rotate_after,
		tags=excluded.tags, linked_to=excluded.linked_to, updated=excluded.updated, rotated=excluded.rotated, sort_name=excluded.sort_name,
		display_name=excluded.display_name
		WHERE (keys.source, keys.name, keys.version, keys.algorithm, keys.length, keys.state, keys.application,
			keys.fingerprint, keys.created, keys.activated, keys.expires, keys.deactivated, keys.destroyed,
			keys.deleted, keys.purge_at, keys.rotate_after, keys.tags, keys.linked_to, keys.rotated, keys.sort_name, keys.display_name)
		IS NOT (excluded.source, excluded.name, excluded.version, excluded.algorithm, excluded.length, excluded.state,
			excluded.application, excluded.fingerprint, excluded.created, excluded.activated, excluded.expires,
			excluded.deactivated, excluded.destroyed, excluded.deleted, excluded.purge_at, excluded.rotate_after,
			excluded.tags, excluded.linked_to, excluded.rotated, excluded.sort_name, excluded.display_name)`

// upsertKey runs upsertKeySQL, prepared once per transaction: preparing
// it (with the triggers it fires) cost more than running it, and a full
// sync writes thousands of keys.
func upsertKey(ctx context.Context, stmt *sql.Stmt, k engine.Key, now time.Time) error {
	if k.ID == "" || k.Source == "" || k.Name == "" {
		return fmt.Errorf("key %q: id, source and name are required", k.ID)
	}
	if k.State == "" {
		return fmt.Errorf("key %s: state is required", k.ID)
	}
	tags := ""
	if len(k.Tags) > 0 {
		b, err := json.Marshal(k.Tags)
		if err != nil {
			return err
		}
		tags = string(b)
	}
	_, err := stmt.ExecContext(ctx,
		k.ID, k.Source, k.Name, k.Version, k.Algorithm, k.Length, string(k.State), k.Application, k.Fingerprint,
		ms(k.Created), ms(k.Activated), ms(k.Expires), ms(k.Deactivated), ms(k.Destroyed), ms(k.Deleted), ms(k.PurgeAt),
		time.Duration(k.RotateAfter).Milliseconds(), tags, k.LinkedTo, now.UnixMilli(), ms(k.Rotated), sortName(k), displayName(k))
	if err != nil {
		return fmt.Errorf("write key %s: %w", k.ID, err)
	}
	return nil
}

// Change is one consistent update from a source (engine.Change): keys
// written (by ID), key IDs removed, the events that explain it, usage and
// the source's memory (SetSourceMemory).
type Change = engine.Change

// Apply writes a change in one transaction and returns the recorded events
// with their IDs. The source row must exist (EnsureSource).
func (s *Store) Apply(ctx context.Context, c Change) ([]engine.Event, error) {
	now := s.now()
	var recorded []engine.Event
	run := s.tx
	if len(c.Events) > 0 || len(c.Usage) > 0 || c.Memory != nil {
		run = s.durableTx
	}
	err := run(ctx, func(tx *sql.Tx) error {
		var upsert *sql.Stmt
		if len(c.Upsert) > 0 {
			var err error
			if upsert, err = tx.PrepareContext(ctx, upsertKeySQL); err != nil {
				return err
			}
			defer upsert.Close()
		}
		for _, k := range c.Upsert {
			if k.Source != c.Source {
				return fmt.Errorf("key %s belongs to source %q, not %q", k.ID, k.Source, c.Source)
			}
			if err := upsertKey(ctx, upsert, k, now); err != nil {
				return err
			}
		}
		for _, id := range c.Remove {
			if _, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ? AND source = ?`, id, c.Source); err != nil {
				return fmt.Errorf("remove key %s: %w", id, err)
			}
		}
		var err error
		recorded, err = insertEvents(ctx, tx, c.Events, now)
		if err != nil {
			return err
		}
		if len(c.Usage) > 0 {
			if err := addUsage(ctx, tx, c.Usage); err != nil {
				return err
			}
		}
		if c.Memory != nil {
			if err := setMemory(ctx, tx, c.Source, c.Memory); err != nil {
				return err
			}
		}
		if len(c.Upsert) > 0 || len(c.Remove) > 0 {
			err = markSynced(ctx, tx, c.Source, now)
		}
		return err
	})
	return recorded, err
}

// Key returns one key by ID.
func (s *Store) Key(ctx context.Context, id string) (engine.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("key %q: %w", id, ErrNotFound)
	}
	return k, err
}

// SourceKeys returns every key of one source.
func (s *Store) SourceKeys(ctx context.Context, source string) ([]engine.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE source = ? ORDER BY sort_name, id`, source)
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

// KeyVersions returns the version rows of one key (source and name; every
// row but a key's versionless one), newest first (by creation, then id),
// at most limit of them, and how many there are. It reads the id index's
// range "source/name/…", so its cost is the key's versions, not the
// inventory's.
func (s *Store) KeyVersions(ctx context.Context, source, name string, limit int) ([]engine.Key, int, error) {
	lo := engine.KeyID(source, name, "") + "/"
	hi := engine.KeyID(source, name, "") + "0" // '0' follows '/'
	const where = ` FROM keys WHERE id > ? AND id < ? AND source = ? AND name = ? AND version != ''`
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*)`+where, lo, hi, source, name).Scan(&total); err != nil {
		return nil, 0, err
	}
	if total == 0 || limit <= 0 {
		return nil, total, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+where+` ORDER BY coalesce(created, 0) DESC, id DESC LIMIT ?`, lo, hi, source, name, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := make([]engine.Key, 0, min(total, limit))
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, k)
	}
	return out, total, rows.Err()
}

// KeyQuery selects a page of keys. Sort is a field name from
// engine.SortFields, prefixed with "-" for descending. Cursor is the opaque
// NextCursor of the previous page.
type KeyQuery struct {
	Source string
	State  engine.State
	Text   string
	Aging  engine.Bucket
	Sort   string
	Limit  int
	Cursor string
	// Now and Thresholds drive the aging filter.
	Now        time.Time
	Thresholds engine.Thresholds
	// SkipCount leaves Total at -1: the caller knows it already.
	SkipCount bool
	// AgingHeld, when not nil, is how many keys of the source (or of all)
	// are in the Aging bucket (AgingCountsKept): the first page's total,
	// and what chooses how a page of a bucket decided by the expiry is read.
	AgingHeld *int
}

// KeyPage is one page of keys.
type KeyPage struct {
	Keys       []engine.Key
	Total      int
	NextCursor string
}

type cursor struct {
	V  string `json:"v"`
	ID string `json:"id"`
	// S is the sort the cursor is a place in ("state", "-expires"): a
	// place in one order means nothing in another. (Cursors made before
	// it was kept have none and are taken as they come.)
	S string `json:"s,omitempty"`
	v any
}

// ErrBadCursor is returned for a cursor this store did not make.
var ErrBadCursor = errors.New("invalid cursor: pass the next_cursor of the previous page unchanged")

func sortExpr(field string) (expr string, numeric bool, err error) {
	switch engine.SortField(field) {
	case "", engine.SortName:
		return "sort_name", false, nil
	case engine.SortSource:
		return "source || char(0) || sort_name", false, nil
	case engine.SortState:
		return "state", false, nil
	case engine.SortCreated:
		return "coalesce(created, 9223372036854775807)", true, nil
	case engine.SortExpires:
		return "coalesce(expires, 9223372036854775807)", true, nil
	}
	return "", false, fmt.Errorf("cannot sort by %q (use name, source, state, created or expires, with - for descending)", field)
}

// AgingExpr is an SQL expression that computes engine.Classify's bucket in
// the database, so filters and summaries need not load every key.
func AgingExpr(now time.Time, t engine.Thresholds) (string, []any) {
	n := now.UnixMilli()
	var b strings.Builder
	args := []any{}
	b.WriteString(`CASE WHEN state IN ('deactivated','compromised','destroyed','deleted','purged') THEN 'retired'
		WHEN expires IS NOT NULL AND expires <= ? THEN 'expired' `)
	args = append(args, n)
	days := append([]int(nil), t.ExpiringDays...)
	sortInts(days)
	for _, d := range days {
		b.WriteString(`WHEN expires IS NOT NULL AND expires <= ? THEN ? `)
		args = append(args, n+int64(d)*86400000, string(engine.ExpiringBucket(d)))
	}
	// Rotation ages from the last rotation, else the creation (engine.Key.AgedFrom).
	b.WriteString(`WHEN coalesce(rotated, created) IS NOT NULL AND (CASE WHEN rotate_after > 0 THEN rotate_after ELSE ? END) > 0
		AND coalesce(rotated, created) + (CASE WHEN rotate_after > 0 THEN rotate_after ELSE ? END) <= ? THEN 'rotation-overdue'
		ELSE 'healthy' END`)
	p := t.RotationPeriod.Milliseconds()
	args = append(args, p, p, n)
	return b.String(), args
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// Keys returns one page of keys matching q, in keyset order.
func (s *Store) Keys(ctx context.Context, q KeyQuery) (KeyPage, error) {
	var page KeyPage
	var err error
	page.Total, page.NextCursor, err = s.keyPage(ctx, q, func(p pageTx, query string, args []any, limit int) (string, error) {
		rows, err := p.query(ctx, query, args...)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var lastV any
		for rows.Next() {
			var v any
			k, err := scanKey(scanWithExtra{rows, &v})
			if err != nil {
				return "", err
			}
			if len(page.Keys) == limit {
				return encodeCursor(lastV, page.Keys[len(page.Keys)-1].ID), nil
			}
			page.Keys = append(page.Keys, k)
			lastV = v
		}
		return "", rows.Err()
	})
	return page, err
}

// readPage reads the rows of a page query in p, the page's read
// transaction: its last column is the sort value, and it asks for limit+1
// rows, the last of which only says there is a next page. It returns the
// next page's cursor ("" at the end).
type readPage func(p pageTx, query string, args []any, limit int) (next string, err error)

// pageTx is a page's read transaction: its connection (for the driver's
// own rows: EachKey) and its queries, each prepared once per connection
// (query, queryRow).
type pageTx struct {
	s    *Store
	conn *sql.Conn
	tx   *sql.Tx
}

// query runs query in the transaction through the statement the store
// keeps for it.
func (p pageTx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.s.prepared(ctx, p.tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// scan reads the one row of query into dest.
func (p pageTx) scan(ctx context.Context, query string, args []any, dest ...any) error {
	st, err := p.s.prepared(ctx, p.tx, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// keyPage plans the page of q (its total unless q.SkipCount or a cursor,
// -1 then) and has read run it, both on one snapshot.
func (s *Store) keyPage(ctx context.Context, q KeyQuery, read readPage) (total int, next string, err error) {
	return s.keyPageIn(ctx, pageTx{}, q, read)
}

// readTx begins a read transaction on a connection of its own. A
// read-only transaction begins DEFERRED (the pool's _txlock is for
// writers); its statements are the store's prepared ones.
func (s *Store) readTx(ctx context.Context) (pageTx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return pageTx{}, err
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		conn.Close()
		return pageTx{}, err
	}
	return pageTx{s: s, conn: conn, tx: tx}, nil
}

// close ends p's transaction and gives its connection back.
func (p pageTx) close() {
	_ = p.tx.Rollback() // read-only
	p.conn.Close()
}

// keyPageIn is keyPage on the snapshot snap, or on one of its own when
// snap is the zero pageTx.
func (s *Store) keyPageIn(ctx context.Context, snap pageTx, q KeyQuery, read readPage) (total int, next string, err error) {
	field, desc := q.Sort, false
	if strings.HasPrefix(field, "-") {
		field, desc = field[1:], true
	}
	expr, numeric, err := sortExpr(field)
	if err != nil {
		return 0, "", err
	}
	sortTag := cmp.Or(field, string(engine.SortName))
	if desc {
		sortTag = "-" + sortTag
	}
	if q.Limit <= 0 || q.Limit > 5000 {
		q.Limit = 100
	}
	var where []string
	var args []any
	if q.Source != "" {
		where, args = append(where, "source = ?"), append(args, q.Source)
	}
	if q.State != "" {
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	stateTerm := len(where) - 1 // index of the state term, when there is one
	if q.Text != "" {
		cond, a := textFilter(q.Text)
		where, args = append(where, cond), append(args, a...)
	}
	agingTerm := -1
	if q.Aging != "" {
		cond, a := agingFilter(q.Aging, q.Now, q.Thresholds, false)
		agingTerm = len(where)
		where, args = append(where, cond), append(args, a...)
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	// The count and the page are read from one snapshot, so a source's
	// change landing between them cannot give a page that disagrees with
	// its total.
	p := snap
	if p.tx == nil {
		if p, err = s.readTx(ctx); err != nil {
			return 0, "", err
		}
		defer p.close()
	}
	// Filters by source and state only are summed from the counts the
	// triggers keep (migration 0011), not counted key by key.
	held := -1
	if q.Text == "" && q.Aging == "" && (q.State != "" || q.Cursor == "" && !q.SkipCount) {
		if err := p.scan(ctx, `SELECT coalesce(sum(n), 0) FROM key_counts`+filter, args, &held); err != nil {
			return total, "", err
		}
	}
	agingHeld := q.Aging != "" && q.AgingHeld != nil && q.Text == "" && q.State == ""
	if agingHeld {
		held = *q.AgingHeld
	}
	switch {
	case q.Cursor != "" || q.SkipCount:
		total = -1
	case held >= 0:
		total = held
	default:
		if err := p.scan(ctx, `SELECT count(*) FROM keys`+filter, args, &total); err != nil {
			return total, "", err
		}
	}
	rare := false
	if (q.State != "" || agingHeld) && held >= 0 {
		// Walking the sort order finds a page after about limit × scope /
		// held keys; reading the state's keys through its index sorts
		// held keys (a sorted row costs a few walked ones).
		scopeFilter, scopeArgs := "", []any(nil)
		if q.Source != "" {
			scopeFilter, scopeArgs = " WHERE source = ?", []any{q.Source}
		}
		var scope int64
		if err := p.scan(ctx, `SELECT coalesce(sum(n), 0) FROM key_counts`+scopeFilter, scopeArgs, &scope); err != nil {
			return total, "", err
		}
		rare = 5*int64(held)*int64(held) < int64(q.Limit)*scope
	}
	pageWhere, pageArgs := append([]string(nil), where...), append([]any(nil), args...)
	if q.State != "" && !rare {
		// A common state: the page walks the sort order and stops after
		// the page, instead of sorting every key in that state. A rare
		// one is read through the state index and its few keys sorted:
		// walking the whole inventory for them would be a scan.
		pageWhere[stateTerm] = "+state = ?"
	} else if q.State != "" && q.Source != "" {
		pageWhere[0] = "+source = ?" // (state, source), not the source's whole name order
	}
	if agingHeld && !rare {
		// A common bucket: walk the sort order (a bucket of an expiry
		// range would otherwise be read through the expiry index and
		// sorted whole: 58 ms for 10,000 keys).
		pageWhere[agingTerm], _ = agingFilter(q.Aging, q.Now, q.Thresholds, true)
	}
	if q.Cursor != "" {
		if c, err := decodeCursor(q.Cursor, false); err == nil && c.S != "" && c.S != sortTag {
			return total, "", fmt.Errorf("%w (it is a place in the order sort=%s, not sort=%s: start again without a cursor)", ErrBadCursor, c.S, sortTag)
		}
		c, err := decodeCursor(q.Cursor, numeric)
		if err != nil {
			return total, "", err
		}
		op := ">"
		if desc {
			op = "<"
		}
		pageWhere = append(pageWhere, fmt.Sprintf("(%s, id) %s (?, ?)", expr, op))
		pageArgs = append(pageArgs, c.v, c.ID)
	}
	if held == 0 {
		return total, "", nil
	}
	sqlWhere := ""
	if len(pageWhere) > 0 {
		sqlWhere = " WHERE " + strings.Join(pageWhere, " AND ")
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	pageSQL := fmt.Sprintf(`SELECT %s, %s FROM keys%s ORDER BY %s %s, id %s LIMIT ?`, keyColumns, expr, sqlWhere, expr, dir, dir)
	pageArgs = append(pageArgs, q.Limit+1)
	if pageQueryHook != nil {
		pageQueryHook(pageSQL, pageArgs)
	}
	next, err = read(p, pageSQL, pageArgs, q.Limit)
	if next != "" {
		next = sortedCursor(next, sortTag)
	}
	return total, next, err
}

// sortedCursor is the cursor next with the sort it is a place in.
func sortedCursor(next, sort string) string {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(next)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return next
	}
	c.S = sort
	b, _ = json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageQueryHook, set by tests, sees each page query before it runs.
var pageQueryHook func(query string, args []any)

type scanWithExtra struct {
	rows  *sql.Rows
	extra any
}

func (s scanWithExtra) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra)...) }

func encodeCursor(v any, id string) string {
	b, _ := json.Marshal(cursor{V: fmt.Sprint(v), ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, numeric bool) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return c, ErrBadCursor
	}
	c.v = c.V
	if numeric {
		n, err := strconv.ParseInt(c.V, 10, 64)
		if err != nil {
			return c, ErrBadCursor
		}
		c.v = n
	}
	return c, nil
}

// KeyCounts is the number of keys per source and state, read from the
// counts the triggers keep (a few rows, whatever the inventory's size).
func (s *Store) KeyCounts(ctx context.Context) (map[string]map[engine.State]int, error) {
	return countsBy[engine.State](ctx, s, `SELECT source, state, n FROM key_counts`)
}

// CountKeys is the number of rows in the inventory.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	var n int
	return n, s.db.QueryRowContext(ctx, `SELECT count(*) FROM keys`).Scan(&n)
}

// textFilter matches a substring of the name, an alias (an AWS key's
// aliases, all of them: display_name) or the application through the trigram
// indexes (three characters or more), or a prefix of the fingerprint;
// shorter text falls back to a scan with LIKE (ASCII case-insensitive).
// A key matched by several of them is one row: the indexes answer rowids
// and the page selects keys by them.
func textFilter(text string) (string, []any) {
	t := strings.TrimSpace(text)
	fp := strings.ToLower(t)
	isHex := len(fp) >= 4
	for _, c := range fp {
		isHex = isHex && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
	}
	var conds []string
	var args []any
	// display_name holds one alias per line and no alias has a line
	// break: text with one would only match across two aliases.
	aliases := !strings.Contains(t, "\n")
	if len([]rune(t)) >= 3 {
		phrase := `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
		if aliases {
			conds = append(conds, `rowid IN (SELECT rowid FROM keys_search WHERE keys_search MATCH ?
			UNION SELECT rowid FROM keys_display_search WHERE keys_display_search MATCH ?)`)
			args = append(args, phrase, phrase)
		} else {
			conds = append(conds, `rowid IN (SELECT rowid FROM keys_search WHERE keys_search MATCH ?)`)
			args = append(args, phrase)
		}
	} else {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(t) + "%"
		if aliases {
			conds = append(conds, `(name LIKE ? ESCAPE '\' OR application LIKE ? ESCAPE '\' OR display_name LIKE ? ESCAPE '\')`)
			args = append(args, like, like, like)
		} else {
			conds = append(conds, `(name LIKE ? ESCAPE '\' OR application LIKE ? ESCAPE '\')`)
			args = append(args, like, like)
		}
	}
	if isHex {
		conds = append(conds, `(fingerprint >= ? AND fingerprint < ?)`)
		args = append(args, fp, fp+"~")
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

const retiredStates = `('deactivated','compromised','destroyed','deleted','purged')`

// agingFilter selects one aging bucket. Buckets decided by the expiry date
// or the state become ranges the indexes answer; the others use the full
// classification expression. walk writes the expiry ranges so that no
// index answers them (a page then walks its sort order).
func agingFilter(b engine.Bucket, now time.Time, t engine.Thresholds, walk bool) (string, []any) {
	n := now.UnixMilli()
	exp := "coalesce(expires, 9223372036854775807)"
	if walk {
		exp = "+" + exp
	}
	switch b {
	case engine.BucketRetired:
		// "+state": do not drive the query from the state index, which
		// would sort hundreds of thousands of rows; walk the sort order
		// and stop at the page.
		return "+state IN " + retiredStates, nil
	case engine.BucketExpired:
		return exp + " <= ? AND state NOT IN " + retiredStates, []any{n}
	}
	days := append([]int(nil), t.ExpiringDays...)
	sortInts(days)
	lower := n
	for _, d := range days {
		upper := n + int64(d)*86400000
		if engine.ExpiringBucket(d) == b {
			return exp + " > ? AND " + exp + " <= ? AND state NOT IN " + retiredStates, []any{lower, upper}
		}
		lower = upper
	}
	e, a := AgingExpr(now, t)
	return "(" + e + ") = ?", append(a, string(b))
}
