package store

import (
	"context"
	"fmt"
)

// scanner is what a row scan needs: *sql.Row and *sql.Rows both are one.
type scanner interface{ Scan(...any) error }

// queryAll runs query and scans every row of its answer with scan; what
// names the read in its errors ("list schedules: …").
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// countsBy runs query, whose rows are (source, what, count), into the
// counts per source and what (a key state, an aging bucket).
func countsBy[K ~string](ctx context.Context, s *Store, query string, args ...any) (map[string]map[K]int, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[K]int{}
	for rows.Next() {
		var src, what string
		var n int
		if err := rows.Scan(&src, &what, &n); err != nil {
			return nil, err
		}
		if out[src] == nil {
			out[src] = map[K]int{}
		}
		out[src][K(what)] = n
	}
	return out, rows.Err()
}
