package store

import (
	"context"
	"testing"
)

// FuzzCursors: whatever a client sends as a cursor, the store answers a
// page or ErrBadCursor, never a panic or an SQL error.
func FuzzCursors(f *testing.F) {
	f.Add("eyJ2IjoiYWNtZS5iYWNrdXAua2VrIiwiaWQiOiJhY21lLWttcy9hY21lLmJhY2t1cC5rZWsifQ")
	f.Add("1795455735000.12")
	f.Add("")
	f.Add("eyJ2IjoieCJ9")
	s, err := Open(context.Background(), f.TempDir()+"/f.db")
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, c string) {
		ctx := context.Background()
		for _, sort := range []string{"name", "-expires", "created"} {
			if _, err := s.Keys(ctx, KeyQuery{Cursor: c, Sort: sort}); err != nil && err != ErrBadCursor {
				t.Fatalf("keys cursor %q: %v", c, err)
			}
		}
		if _, _, err := s.Events(ctx, EventQuery{Cursor: c}); err != nil && err != ErrBadCursor {
			t.Fatalf("events cursor %q: %v", c, err)
		}
		if _, _, err := s.Milestones(ctx, MilestoneQuery{Cursor: c, From: now.AddDate(0, -1, 0), To: now}); err != nil && err != ErrBadCursor {
			t.Fatalf("milestone cursor %q: %v", c, err)
		}
	})
}
