// Package kektest is what tests share of the key-encryption key: a KEK
// file generated in the test's temporary folder and loaded, as the daemon
// does with keys.kek_file.
package kektest

import (
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/daemon/kek"
)

// New generates a KEK file in tb's temporary folder and loads it; it
// returns the KEK and the file's path.
func New(tb testing.TB) (*kek.KEK, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "kek")
	if err := kek.Generate(path); err != nil {
		tb.Fatal(err)
	}
	k, err := kek.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return k, path
}
