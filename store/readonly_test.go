package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unwritable makes path unwritable for this process: mode 0444 for a user,
// the immutable attribute for root (mode bits do not stop root). It returns
// the undo.
func makeUnwritable(t *testing.T, path string) func() {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		return func() { os.Chmod(path, 0o600) }
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root, and chattr +i (the only way to make a file unwritable for root) fails here: %v %s", err, out)
	}
	undo := func() { exec.Command("chattr", "-i", path).Run() }
	t.Cleanup(undo)
	return undo
}

// TestReadOnlyDatabaseStopsTheStart: a database file the daemon cannot
// write stops Open with a message naming the file and the fix, and once
// fixed it opens.
func TestReadOnlyDatabaseStopsTheStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	openFile(t, path).Close()
	undo := makeUnwritable(t, path)
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), path) || !(strings.Contains(err.Error(), "chown") || strings.Contains(err.Error(), "chattr -i")) {
		t.Fatalf("read-only database: %v", err)
	}
	undo()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	s.Close()
}

// TestLeftoverShmStopsTheStart: an unwritable -shm left by a daemon that
// ran as another user made every write fail ("attempt to write a readonly
// database") even after the database's own mode was fixed; now the start
// stops naming the -shm file and saying it may be removed, and after
// removing it the database opens and takes writes.
func TestLeftoverShmStopsTheStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	openFile(t, path).Close()
	shm := path + "-shm"
	if err := os.WriteFile(shm, make([]byte, 32768), 0o600); err != nil {
		t.Fatal(err)
	}
	undo := makeUnwritable(t, shm)
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), shm) || !strings.Contains(err.Error(), "rm "+shm) {
		t.Fatalf("unwritable -shm: %v", err)
	}
	undo()
	os.Remove(shm)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("after removing the -shm: %v", err)
	}
	defer s.Close()
	if _, err := s.Record(context.Background(), ev("after")); err != nil {
		t.Fatalf("write after the fix: %v", err)
	}
}
