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
