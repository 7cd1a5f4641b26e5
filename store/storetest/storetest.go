// Package storetest opens keyward stores (real SQLite files) for the tests
// of other packages, closed when the test ends.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/store"
)

// Open opens the store at path (made if new, migrated as Open does) for
// the length of the test; a test may close it earlier (a crash, a reopen).
func Open(tb testing.TB, path string) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// New opens a new store in a temporary directory (Open).
func New(tb testing.TB) *store.Store {
	tb.Helper()
	return Open(tb, filepath.Join(tb.TempDir(), "keyward.db"))
}
