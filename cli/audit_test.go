package cli

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/storetest"
)

// auditDaemon runs a real daemon that signs an audit checkpoint every
// second, configured by a file in dir (the audit commands read it with
// --config), and returns dir, the config and the daemon's socket.
func auditDaemon(t *testing.T) (dir string, cfg *config.Config, sock string) {
	t.Helper()
	dir = t.TempDir()
	cfg = daemontest.ConfigFile(t, dir, "[audit]\ncheckpoint_interval = \"1s\"\n")
	return dir, cfg, runDaemon(t, cfg, daemon.Options{})
}

// TestAuditVerifyAgainstARealDaemon: a real daemon signs checkpoints that
// keyward status shows; keyward audit verify checks its database file and
// the export bundle, and after the file is edited directly names the
// event.
func TestAuditVerifyAgainstARealDaemon(t *testing.T) {
	dir, cfg, sock := auditDaemon(t)
	conf := cfg.Path

	// More activity, written through the store's chain as the daemon writes.
	st := storetest.Open(t, cfg.DatabasePath())
	for i := 0; i < 5; i++ {
		if _, err := st.Record(context.Background(), engine.Event{Operation: engine.OpRotated, Actor: "alice", Origin: engine.OriginKeyward,
			KeyID: "kms/k", Details: fmt.Sprint("rotation ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	var out string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, out, _ = run(t, "--socket", sock, "status")
		if strings.Contains(out, "last verified checkpoint 6,") {
			break
		}
	}
	if !strings.Contains(out, "audit: 6 events · last verified checkpoint 6, signed") {
		t.Fatalf("status does not show the checkpoint:\n%s", out)
	}

	code, out, errs := run(t, "--config", conf, "audit", "verify")
	if code != ExitOK || !strings.Contains(out, "OK: 6 events verified") || !strings.Contains(out, "reaches every signed checkpoint") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}

	bundle := filepath.Join(dir, "export.tar")
	code, out, errs = run(t, "--config", conf, "audit", "export", "--from", "-1d", "--to", "+1d", "--out", bundle)
	if code != ExitOK {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "--config", conf, "audit", "verify", "--bundle", bundle)
	if code != ExitOK || !strings.Contains(out, "events 1 to 6") || !strings.Contains(out, "end on the checkpoint") {
		t.Fatalf("verify --bundle: exit %d\n%s%s", code, out, errs)
	}

	db, err := sql.Open("sqlite", "file:"+cfg.DatabasePath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER events_chain_bu`, `UPDATE events SET actor = 'nobody' WHERE seq = 3`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs = run(t, "--config", conf, "audit", "verify")
	if code != ExitError || !strings.Contains(errs, "TAMPERED") || !strings.Contains(errs, "seq 3") || !strings.Contains(errs, "edited") {
		t.Fatalf("verify after an edit: exit %d\n%s%s", code, out, errs)
	}
}

// TestAuditVerifyDBByPath: keyward audit verify --db FILE of a data dir
// the config does not name (a copy, another daemon's) reads the archive
// segments and the verifier key beside that database: it used to look in
// the config's data dir (/var/lib/keyward/audit/archive), find no segment,
// and check only the events still in the database.
func TestAuditVerifyDBByPath(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, out, errs := run(t, "dev", "seed", "--keys", "20", "--events", "1500", "--data-dir", data); code != ExitOK {
		t.Fatalf("dev seed: exit %d\n%s%s", code, out, errs)
	}
	cfg := daemontest.ConfigFile(t, dir, "")
	runDaemon(t, cfg, daemon.Options{})
	// The daemon's first retention run archives the seeded events older
	// than retention.events (400d) into a segment.
	archive := filepath.Join(data, "audit", "archive")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		notes, _ := filepath.Glob(filepath.Join(archive, "*.note"))
		if len(notes) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon archived no segment")
		}
	}
	// Another config, another data dir: only --db says where the log is.
	other := filepath.Join(dir, "other.toml")
	os.WriteFile(other, []byte(fmt.Sprintf("data_dir = %q\n", filepath.Join(dir, "elsewhere"))), 0o600)
	for _, args := range [][]string{
		{"--db", cfg.DatabasePath()},
		{"--db", cfg.DatabasePath(), "--key", filepath.Join(data, "audit", "signing.key.pub")},
	} {
		code, out, errs := run(t, append([]string{"--config", other, "audit", "verify"}, args...)...)
		if code != ExitOK || !strings.Contains(out, "archive segment") || !strings.Contains(out, "in "+archive) || strings.Contains(out, "no segment was found") {
			t.Errorf("verify %q: exit %d\n%s%s", args, code, out, errs)
		}
	}
}
