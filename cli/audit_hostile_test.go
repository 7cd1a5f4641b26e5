package cli

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/testkit"
)

// TestAuditVerifyHostileFiles: keyward audit verify given a truncated or
// garbage export bundle, a checkpoint file of garbage (or one that never
// ends), a file that is no database, or a database whose events table was
// dropped answers a message naming the file and what is wrong with it, with
// exit 1 (or 2 for a usage mistake), and never panics.
func TestAuditVerifyHostileFiles(t *testing.T) {
	dir, cfg, _ := auditDaemon(t)
	conf, data := cfg.Path, cfg.DataDir
	bundle := filepath.Join(dir, "export.tar")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, out, errs := run(t, "--config", conf, "audit", "export", "--from", "-1d", "--to", "+1d", "--out", bundle)
		if b, _ := os.ReadFile(bundle); code == ExitOK && bytes.Contains(b, []byte("checkpoint.note")) {
			break // a bundle that ends on a checkpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("export: exit %d\n%s%s", code, out, errs)
		}
		os.Remove(bundle)
	}
	whole, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string { return testkit.WriteFile(t, dir, name, b) }
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	// A copy of the database without its events table.
	dropped := filepath.Join(dir, "dropped.db")
	db, err := sql.Open("sqlite", "file:"+cfg.DatabasePath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM INTO ?`, dropped); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cp, err := sql.Open("sqlite", "file:"+dropped)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Exec(`DROP TABLE events`); err != nil {
		t.Fatal(err)
	}
	cp.Close()

	pub := filepath.Join(data, "audit", "signing.key.pub")
	// Cut at every tar block and halfway through one, up to the end of the
	// last entry's data (after it come only padding and the trailer): no
	// part of the bundle verifies as if it were whole.
	end := len(bytes.TrimRight(whole, "\x00"))
	for cut := 0; cut < end; cut += 512 {
		for _, at := range []int{cut, min(cut+100, end-1)} {
			p := write("cut.tar", whole[:at])
			if code, out, _ := run(t, "--config", conf, "audit", "verify", "--bundle", p); code == ExitOK {
				t.Fatalf("the bundle cut at %d of %d bytes verifies: %s", at, len(whole), out)
			}
		}
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"truncated bundle", []string{"--bundle", write("half.tar", whole[:len(whole)/2])}, ExitError, "half.tar"},
		{"garbage bundle", []string{"--bundle", write("junk.tar", []byte("not a tar at all\x00\x01"))}, ExitError, "junk.tar: bundle:"},
		{"empty bundle", []string{"--bundle", write("empty.tar", nil)}, ExitError, "empty.tar"},
		{"garbage checkpoint file", []string{"--from-checkpoint", write("cp.txt", []byte("garbage\n\x00\xff\nmore"))}, ExitError, "cp.txt"},
		{"endless checkpoint file", []string{"--from-checkpoint", zero}, ExitUsage, "zero is not a regular file"},
		{"not a database", []string{"--db", write("junk.db", []byte("SQLite format 2\x00 nothing")), "--key", pub}, ExitError, "junk.db"},
		{"events table dropped", []string{"--db", dropped, "--key", pub}, ExitError, "dropped.db lacks a table of keyward's activity log"},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan struct{})
			var code int
			var out, errs string
			go func() {
				defer close(done)
				code, out, errs = run(t, append([]string{"--config", conf, "audit", "verify"}, c.args...)...)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("audit verify did not end in 20 s")
			}
			if code != c.code || !strings.Contains(errs, c.says) || strings.Contains(errs, "panic") || strings.Contains(out, "OK:") {
				t.Fatalf("exit %d (want %d), stderr must name %q:\n%s%s", code, c.code, c.says, out, errs)
			}
			t.Logf("%s", strings.TrimSpace(errs))
		})
	}
}
