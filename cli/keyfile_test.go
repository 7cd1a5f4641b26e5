package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadKeyFileRefuses: a --from-file that is not a regular file (a
// symlink to /dev/zero, a directory), that others can read, or that is too
// large is refused with what to do, before any byte of it is sent; the
// message never holds the file's content.
func TestReadKeyFileRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zero := filepath.Join(dir, "zero.pem")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	secret := []byte("-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD\n-----END PRIVATE KEY-----\n")
	for _, c := range []struct{ name, path, says string }{
		{"symlink to /dev/zero", zero, "is not a regular file"},
		{"directory", dir, "is not a regular file"},
		{"mode 0644", write("open.pem", secret, 0o644), "has mode 0644: it holds key material, chmod 600 it"},
		{"too large", write("big.pem", make([]byte, 64*1024+1), 0o600), "bytes at most"},
		{"missing", filepath.Join(dir, "none.pem"), "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := readKeyFile(c.path)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("read %d bytes, error %v; want one saying %q", len(b), err, c.says)
			}
			if strings.Contains(err.Error(), "TUlJ") {
				t.Fatalf("the error quotes the file: %v", err)
			}
		})
	}
	// A one-byte file that only its owner reads is read (the daemon's
	// parser says what is wrong with it).
	if b, err := readKeyFile(write("one", []byte{'x'}, 0o600)); err != nil || len(b) != 1 {
		t.Fatalf("one-byte file: %q %v", b, err)
	}
}
