package auditlog

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

type fixture struct {
	dir    string
	db     string
	signer *Signer
	st     *store.Store
	clock  time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), clock: t0}
	f.db = filepath.Join(f.dir, "keyward.db")
	var err error
	if f.signer, _, err = LoadSigner(filepath.Join(f.dir, "keys", "audit.key")); err != nil {
		t.Fatal(err)
	}
	f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	f.st = storetest.Open(t, f.db)
	f.st.SetClock(func() time.Time { return f.clock })
}

func (f *fixture) record(t *testing.T, n int, op string, at time.Time) {
	t.Helper()
	var evs []engine.Event
	for i := 0; i < n; i++ {
		evs = append(evs, engine.Event{Time: at.Add(time.Duration(i) * time.Second), Operation: op, Actor: "alice",
			Origin: engine.OriginKeyward, Source: "kms", KeyID: "kms/k" + fmt.Sprint(i), Details: "event " + fmt.Sprint(i)})
	}
	for _, e := range evs { // one transaction each, as requests do
		if _, err := f.st.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) checkpoint(t *testing.T) store.Checkpoint {
	t.Helper()
	c := NewCheckpointer(f.st, f.signer, func() time.Time { return f.clock }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cp, err := c.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func (f *fixture) verify(t *testing.T, given ...[]byte) (Report, error) {
	t.Helper()
	return Verify(context.Background(), f.st, VerifyOptions{ArchiveDir: filepath.Join(f.dir, "archive"), Verifier: f.signer.Verifier(), Checkpoints: given})
}

// tamper closes the store, changes the SQLite file directly as someone with
// the file would (dropping the chain's triggers first), and reopens it.
func (f *fixture) tamper(t *testing.T, stmts ...string) {
	t.Helper()
	f.st.Close()
	db, err := sql.Open("sqlite", "file:"+f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{`DROP TRIGGER events_chain_bu`, `DROP TRIGGER events_chain_bd`, `DROP TRIGGER events_chain_bi`}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	f.open(t)
}

func wantBreak(t *testing.T, err error, kind string, seq int64) {
	t.Helper()
	var b *audit.Break
	if !errors.As(err, &b) {
		t.Fatalf("verify: %v, want a %s break at seq %d", err, kind, seq)
	}
	if b.Kind != kind || b.Seq != seq {
		t.Fatalf("verify: %v, want %s at seq %d", b, kind, seq)
	}
}

// TestVerifyNamesEachTampering edits, deletes, reorders and inserts events
// in a real database file, and audit verify names each.
func TestVerifyNamesEachTampering(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		kind  string
		seq   int64
	}{
		{"edited", []string{`UPDATE events SET actor = 'mallory' WHERE seq = 5`}, audit.Edited, 5},
		{"deleted", []string{`DELETE FROM events WHERE seq = 7`}, audit.Deleted, 7},
		{"deleted and renumbered", []string{`DELETE FROM events WHERE seq = 7`, `UPDATE events SET seq = seq - 1 WHERE seq > 7`,
			`UPDATE audit_head SET seq = seq - 1`}, audit.Deleted, 7},
		{"reordered", []string{`UPDATE events SET seq = -1 WHERE seq = 4`, `UPDATE events SET seq = 4 WHERE seq = 8`,
			`UPDATE events SET seq = 8 WHERE seq = -1`}, audit.Reordered, 4},
		{"inserted", []string{`UPDATE events SET seq = seq + 0.5 WHERE seq = 6`}, audit.Inserted, 6},
		{"tail deleted", []string{`DELETE FROM events WHERE seq > 9`}, audit.Deleted, 10},
		{"tail deleted and head row rewound", []string{`DELETE FROM events WHERE seq > 9`,
			`UPDATE audit_head SET seq = 9, hash = (SELECT hash FROM events WHERE seq = 9)`}, audit.Deleted, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.record(t, 12, "rotated", t0)
			f.checkpoint(t)
			if _, err := f.verify(t); err != nil {
				t.Fatalf("untouched log: %v", err)
			}
			f.tamper(t, tc.stmts...)
			_, err := f.verify(t)
			wantBreak(t, err, tc.kind, tc.seq)
			if !strings.Contains(err.Error(), fmt.Sprint(tc.seq)) {
				t.Fatalf("message does not name seq %d: %v", tc.seq, err)
			}
		})
	}
}

// TestRehashedLogFailsAtTheCheckpoint: whoever edits an event and
// recomputes every hash after it (all without the signing key) makes a
// chain that is whole, but not the one the checkpoint signed.
func TestRehashedLogFailsAtTheCheckpoint(t *testing.T) {
	f := newFixture(t)
	f.record(t, 10, "rotated", t0)
	f.checkpoint(t)
	f.record(t, 3, "rotated", t0.Add(time.Hour))
	f.tamper(t, `UPDATE events SET details = 'nothing happened' WHERE seq = 2`)
	// Rehash from seq 2 on, as an attacker with the database alone can.
	db, _ := sql.Open("sqlite", "file:"+f.db)
	var prev []byte
	db.QueryRow(`SELECT hash FROM events WHERE seq = 1`).Scan(&prev)
	for seq := int64(2); seq <= 13; seq++ {
		var e engine.Event
		var tm int64
		db.QueryRow(`SELECT id, time, key_id, source, operation, actor, origin, severity, details FROM events WHERE seq = ?`, seq).
			Scan(&e.ID, &tm, &e.KeyID, &e.Source, &e.Operation, &e.Actor, &e.Origin, &e.Severity, &e.Details)
		e.Time = time.UnixMilli(tm).UTC()
		p, _ := audit.HashFrom(prev)
		h := audit.Link(seq, p, e)
		if _, err := db.Exec(`UPDATE events SET prev = ?, hash = ? WHERE seq = ?`, p[:], h[:], seq); err != nil {
			t.Fatal(err)
		}
		prev = h[:]
	}
	db.Exec(`UPDATE audit_head SET hash = ?`, prev)
	db.Close()
	_, err := f.verify(t)
	wantBreak(t, err, audit.Edited, 10)
	if !strings.Contains(err.Error(), "checkpoint stored at size 10") {
		t.Fatalf("%v: want the checkpoint named", err)
	}
}

// TestGivenCheckpointCatchesARewrittenStore: the store's own checkpoints
// deleted and the log cut back; the off-box copy still says how long it was.
func TestGivenCheckpointCatchesARewrittenStore(t *testing.T) {
	f := newFixture(t)
	f.record(t, 8, "rotated", t0)
	cp := f.checkpoint(t)
	// Checkpoints signed by another key are refused.
	other, _, err := LoadSigner(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(context.Background(), f.st, VerifyOptions{Verifier: other.Verifier()})
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("checkpoints under another key: %v", err)
	}
	f.tamper(t, `DELETE FROM events WHERE seq > 5`, `DELETE FROM audit_checkpoints`,
		`UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM events WHERE seq = 5)`)
	if _, err := f.verify(t); err != nil {
		t.Fatalf("without the off-box copy the cut is invisible, as documented; got %v", err)
	}
	_, err = f.verify(t, []byte(cp.Note))
	wantBreak(t, err, audit.Deleted, 6)
}

// TestCheckpointerRefusesABrokenChain: no checkpoint is signed over events
// that do not match, and Last says why.
func TestCheckpointerRefusesABrokenChain(t *testing.T) {
	f := newFixture(t)
	f.record(t, 4, "rotated", t0)
	f.checkpoint(t)
	f.record(t, 4, "rotated", t0.Add(time.Minute))
	f.tamper(t, `UPDATE events SET details = 'x' WHERE seq = 6`)
	c := NewCheckpointer(f.st, f.signer, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, err := c.Checkpoint(context.Background())
	wantBreak(t, err, audit.Edited, 6)
	if c.Last().Err == "" {
		t.Fatal("Last does not report the failure")
	}
	last, _, _ := f.st.LatestCheckpoint(context.Background())
	if last.Size != 4 {
		t.Fatalf("a checkpoint at %d was signed over the broken chain", last.Size)
	}
}

func TestSigningKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "audit.key")
	s1, created, err := LoadSigner(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o", fi.Mode().Perm())
	}
	s2, created, err := LoadSigner(path)
	if err != nil || created || s2.VerifierKey != s1.VerifierKey {
		t.Fatalf("reload: %v %v", created, err)
	}
	v, err := ReadVerifier(path + ".pub")
	if err != nil || v.KeyHash() != s1.Verifier().KeyHash() {
		t.Fatalf("verifier file: %v", err)
	}
	os.Chmod(path, 0o640)
	if _, _, err := LoadSigner(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("loose key: %v", err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(s1.VerifierKey, strings.TrimSpace(string(b))) {
		t.Fatal("the verifier key holds the private key")
	}
	// Close zeroes the key: nothing is signed after it.
	priv := s1.signer.(*edSigner).priv
	s1.Close()
	for _, c := range priv {
		if c != 0 {
			t.Fatal("Close left the signing key in memory")
		}
	}
	if _, err := s1.signer.Sign([]byte("x")); err == nil {
		t.Fatal("a closed signer signed")
	}
}

// TestCheckpointFileIsAnOffBoxCopy: every checkpoint is appended to
// audit.checkpoint_file; the file splits into its notes, and verify with
// them catches a log cut back together with its stored checkpoints.
func TestCheckpointFileIsAnOffBoxCopy(t *testing.T) {
	f := newFixture(t)
	file := filepath.Join(t.TempDir(), "remote", "checkpoints")
	os.MkdirAll(filepath.Dir(file), 0o755)
	c := NewCheckpointer(f.st, f.signer, func() time.Time { return f.clock }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.File = file
	for i := 0; i < 3; i++ {
		f.record(t, 4, "rotated", t0.Add(time.Duration(i)*time.Hour))
		f.clock = f.clock.Add(time.Hour)
		if _, err := c.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := SplitNotes(b)
	if err != nil || len(notes) != 3 {
		t.Fatalf("%d notes in the checkpoint file (%v):\n%s", len(notes), err, b)
	}
	f.tamper(t, `DELETE FROM events WHERE seq > 10`, `DELETE FROM audit_checkpoints WHERE size > 10`,
		`UPDATE audit_head SET seq = 10, hash = (SELECT hash FROM events WHERE seq = 10)`)
	// The stored checkpoints at 4 and 8 still hold; the copy says 12.
	_, err = f.verify(t, notes...)
	wantBreak(t, err, audit.Deleted, 11)
}

// TestCheckpointToSyslog: with audit.syslog, each checkpoint goes out as one
// syslog line (here to a socket of the test's own, as /dev/log would get
// it) with its size, head, time and signature.
func TestCheckpointToSyslog(t *testing.T) {
	f := newFixture(t)
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := NewCheckpointer(f.st, f.signer, func() time.Time { return f.clock }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.Syslog = true
	c.dialSyslog = func() (*syslog.Writer, error) {
		return syslog.Dial("unixgram", sock, syslog.LOG_NOTICE|syslog.LOG_AUTH, "keyward-audit")
	}
	f.record(t, 3, "rotated", t0)
	cp, err := c.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	head := base64.StdEncoding.EncodeToString(cp.Head[:])
	if !strings.Contains(line, "keyward-audit") || !strings.Contains(line, "checkpoint size=3 head="+head) || !strings.Contains(line, "sig=\"— keyward-audit ") {
		t.Fatalf("syslog line: %q", line)
	}
}
