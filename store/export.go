package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/engine"
)

// EachKey calls fn with each key of the page of q that Keys would return
// (its total aside: q.SkipCount is implied), and returns the next page's
// cursor ("" at the end). It is the inventory export's read: the driver's
// rows go straight into one reused Key, with no database/sql conversions
// and no allocation per key beyond the driver's own values, so fn must not
// keep k, its times or its tags after it returns. fn runs inside the
// page's read transaction: it should not wait on anything slow (encode
// into memory, write after EachKey returns).
func (s *Store) EachKey(ctx context.Context, q KeyQuery, fn func(k *engine.Key) error) (next string, err error) {
	q.SkipCount = true
	_, next, err = s.keyPage(ctx, q, eachKeyRead(ctx, fn))
	return next, err
}

// KeySnapshot is one read snapshot of the inventory that the pages of an
// export are all read from: a key a sync changes or removes while the
// export pages through it is seen once, as it was when the snapshot
// began, never twice (its sort value moved past the cursor) and never
// skipped (moved before it). Writers do not wait for it (WAL), but the
// WAL cannot be checkpointed past it, so it grows while the snapshot
// lasts: Close it as soon as the export ends.
type KeySnapshot struct {
	p pageTx
}

// KeySnapshot begins a snapshot of the inventory.
func (s *Store) KeySnapshot(ctx context.Context) (*KeySnapshot, error) {
	p, err := s.readTx(ctx)
	if err != nil {
		return nil, err
	}
	return &KeySnapshot{p: p}, nil
}

// EachKey is Store.EachKey on the snapshot.
func (k *KeySnapshot) EachKey(ctx context.Context, q KeyQuery, fn func(k *engine.Key) error) (next string, err error) {
	q.SkipCount = true
	_, next, err = k.p.s.keyPageIn(ctx, k.p, q, eachKeyRead(ctx, fn))
	return next, err
}

// Close ends the snapshot.
func (k *KeySnapshot) Close() { k.p.close() }

// eachKeyRead is the readPage of EachKey: fn sees each row.
func eachKeyRead(ctx context.Context, fn func(k *engine.Key) error) readPage {
	var r keyRow
	return func(p pageTx, query string, args []any, limit int) (string, error) {
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			v, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				return "", err
			}
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		var next string
		err := p.conn.Raw(func(dc any) error {
			qc, ok := dc.(driver.QueryerContext)
			if !ok {
				return fmt.Errorf("the SQLite driver's connection (%T) cannot query directly", dc)
			}
			rows, err := qc.QueryContext(ctx, query, named)
			if err != nil {
				return err
			}
			defer rows.Close()
			vals := make([]driver.Value, len(rows.Columns()))
			if len(vals) != keyRowColumns+1 {
				return fmt.Errorf("key export: %d columns, want %d", len(vals), keyRowColumns+1)
			}
			var lastV driver.Value
			lastID := ""
			for n := 0; ; n++ {
				if err := rows.Next(vals); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				if n == limit {
					next = encodeCursor(lastV, lastID)
					return nil
				}
				if err := r.fill(vals); err != nil {
					return err
				}
				if err := fn(&r.k); err != nil {
					return err
				}
				lastV, lastID = vals[keyRowColumns], r.k.ID
			}
		})
		return next, err
	}
}

// keyRowColumns is how many columns keyColumns names.
const keyRowColumns = 21

// keyRow is the reused Key EachKey fills, with room for its times and tags.
type keyRow struct {
	k     engine.Key
	times [8]time.Time
	tags  map[string]string
}

var errNotText = errors.New("not text")

// fill sets r.k from one row of keyColumns, as scanKey would.
func (r *keyRow) fill(v []driver.Value) (err error) {
	k := &r.k
	text := func(i int) string {
		switch s := v[i].(type) {
		case string:
			return s
		case []byte:
			return string(s)
		}
		if err == nil {
			err = fmt.Errorf("key column %d: %T %w", i, v[i], errNotText)
		}
		return ""
	}
	integer := func(i int) int64 {
		n, ok := v[i].(int64)
		if !ok && err == nil {
			err = fmt.Errorf("key column %d: %T is not an integer", i, v[i])
		}
		return n
	}
	at := func(i, slot int) *time.Time {
		if v[i] == nil {
			return nil
		}
		r.times[slot] = time.UnixMilli(integer(i)).UTC()
		return &r.times[slot]
	}
	k.ID, k.Source, k.Name, k.Version, k.Algorithm = text(0), text(1), text(2), text(3), text(4)
	k.Length = int(integer(5))
	k.State, k.Application, k.Fingerprint = engine.State(text(6)), text(7), text(8)
	k.Created, k.Activated, k.Expires, k.Deactivated = at(9, 0), at(10, 1), at(11, 2), at(12, 3)
	k.Destroyed, k.Deleted, k.PurgeAt = at(13, 4), at(14, 5), at(15, 6)
	k.RotateAfter = engine.Duration(time.Duration(integer(16)) * time.Millisecond)
	tags := text(17)
	k.LinkedTo = text(18)
	k.Updated = time.UnixMilli(integer(19)).UTC()
	k.Rotated = at(20, 7)
	k.Tags, k.Aging = nil, nil
	if err != nil {
		return fmt.Errorf("key %s: %w", k.ID, err)
	}
	if tags == "" {
		return nil
	}
	if r.tags == nil {
		r.tags = map[string]string{}
	}
	clear(r.tags)
	if parsePlainTags(tags, r.tags) {
		k.Tags = r.tags
		return nil
	}
	if err := json.Unmarshal([]byte(tags), &k.Tags); err != nil {
		return fmt.Errorf("key %s: tags: %w", k.ID, err)
	}
	return nil
}

// parsePlainTags reads tags as stored ({"name":"value",...}, as
// json.Marshal writes a map) into m when every name and value is plain
// printable ASCII without escapes, and reports whether it did; anything
// else is left to encoding/json. The strings are slices of s.
func parsePlainTags(s string, m map[string]string) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	i := 1
	if s[i] == '}' {
		return i == len(s)-1
	}
	str := func() (string, bool) {
		if i >= len(s) || s[i] != '"' {
			return "", false
		}
		start := i + 1
		for i = start; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"':
				i++
				return s[start : i-1], true
			case c < 0x20 || c >= 0x7f || c == '\\':
				return "", false
			}
		}
		return "", false
	}
	for {
		name, ok := str()
		if !ok || i >= len(s) || s[i] != ':' {
			return false
		}
		i++
		value, ok := str()
		if !ok || i >= len(s) {
			return false
		}
		m[name] = value
		switch s[i] {
		case ',':
			i++
		case '}':
			return i == len(s)-1
		default:
			return false
		}
	}
}
