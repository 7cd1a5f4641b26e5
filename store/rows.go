package store

import (
	"context"
	"fmt"
)

// scanner is what a row scan needs: *sql.Row and *sql.Rows both are one.
type scanner interface{ Scan(...any) error }

// eachRow runs query on db and calls row with each row of its answer, to
// the end or the first error: the query's, row's, or the rows'.
func eachRow(ctx context.Context, db reader, row func(scanner) error, query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryAll runs query and scans every row of its answer with scan; what
// names the read in its errors ("list schedules: …").
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := eachRow(ctx, s.db, func(sc scanner) error {
		v, err := scan(sc)
		out = append(out, v)
		return err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// countsBy runs query, whose rows are (source, what, count), into the
// counts per source and what (a key state, an aging bucket).
func countsBy[K ~string](ctx context.Context, s *Store, query string, args ...any) (map[string]map[K]int, error) {
	out := map[string]map[K]int{}
	err := eachRow(ctx, s.db, func(sc scanner) error {
		var src, what string
		var n int
		if err := sc.Scan(&src, &what, &n); err != nil {
			return err
		}
		if out[src] == nil {
			out[src] = map[K]int{}
		}
		out[src][K(what)] = n
		return nil
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}
