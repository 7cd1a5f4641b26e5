package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

func (f *fixture) archiver(batch int64) *Archiver {
	return &Archiver{St: f.st, Signer: f.signer, Dir: filepath.Join(f.dir, "archive"), Events: 30 * 24 * time.Hour,
		SecurityEvents: 365 * 24 * time.Hour, Batch: batch, Now: func() time.Time { return f.clock }}
}

func liveOps(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := st.ChainEntries(context.Background(), 1, 0, func(r store.ChainRow) error {
		out[r.Event.Operation]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPruneThenVerifyFromArchives: old events go to signed segments and
// leave the live log; security-relevant ones stay past their age until
// their floor; the whole history still verifies, from the archives plus the
// live log, and a changed archive is caught.
func TestPruneThenVerifyFromArchives(t *testing.T) {
	f := newFixture(t)
	old := t0.AddDate(0, 0, -100)
	f.record(t, 40, "rotated", old)
	f.record(t, 2, engine.OpCompromised, old.Add(time.Hour))
	f.record(t, 1, "role-granted", old.Add(2*time.Hour))
	f.record(t, 10, "rotated", old.Add(3*time.Hour))
	f.checkpoint(t)
	f.record(t, 5, "rotated", t0.Add(-time.Hour)) // young
	f.checkpoint(t)

	archived, pruned, err := f.archiver(16).Prune(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if archived != 53 || pruned != 50 {
		t.Fatalf("archived %d, pruned %d; want 53 and 50 (the 3 security-relevant ones kept)", archived, pruned)
	}
	ops := liveOps(t, f.st)
	if ops[engine.OpCompromised] != 2 || ops["role-granted"] != 1 || ops["rotated"] != 5 {
		t.Fatalf("live log after pruning: %v", ops)
	}
	segs, _ := filepath.Glob(filepath.Join(f.dir, "archive", "events-*.ndjson.gz"))
	if len(segs) != 4 { // 53 events, 16 a segment
		t.Fatalf("segments: %v", segs)
	}
	r, err := f.verify(t)
	if err != nil {
		t.Fatal(err)
	}
	if r.FromArchives != 53 || r.Live != 5 || r.Events != 58 || r.Checkpoints != 2 || r.Unanchored != 0 {
		t.Fatalf("report %+v", r)
	}

	// A second run has nothing to do.
	if a, p, err := f.archiver(16).Prune(context.Background()); err != nil || a != 0 || p != 0 {
		t.Fatalf("second prune: %d %d %v", a, p, err)
	}
	// Past their floor, the security-relevant events go too (they are archived).
	f.clock = t0.AddDate(1, 0, 0)
	if _, p, err := f.archiver(16).Prune(context.Background()); err != nil || p < 3 {
		t.Fatalf("prune past the floor: pruned %d, %v", p, err)
	}
	if ops := liveOps(t, f.st); ops[engine.OpCompromised] != 0 {
		t.Fatalf("security events kept past their floor: %v", ops)
	}
	if _, err := f.verify(t); err != nil {
		t.Fatal(err)
	}

	// Without the archives, the check starts where they end, and says so.
	if err := os.Rename(filepath.Join(f.dir, "archive"), filepath.Join(f.dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	r, err = f.verify(t)
	if err != nil || r.Unanchored == 0 {
		t.Fatalf("without archives: %+v %v", r, err)
	}
	os.Rename(filepath.Join(f.dir, "elsewhere"), filepath.Join(f.dir, "archive"))

	// A segment edited (and its note left) is caught; one removed too.
	seg := filepath.Join(f.dir, "archive", SegmentName(17, 32))
	b, _ := os.ReadFile(seg)
	os.WriteFile(seg, append(b[:len(b)-1:len(b)-1], b[len(b)-1]^1), 0o600)
	if _, err := f.verify(t); err == nil {
		t.Fatal("an edited archive segment verified")
	}
	os.WriteFile(seg, b, 0o600)
	os.Remove(seg + ".note")
	_, err = f.verify(t)
	wantBreak(t, err, audit.Deleted, 17)
}

// TestRetentionKeepsSecurityEventsPastTheirAge: a compromise, a purge and
// a request whose outcome is unknown (the daemon stopped inside it), each a
// year and a half old, stay in the live log when events are kept 30 days and security
// events 2 years.
func TestRetentionKeepsSecurityEventsPastTheirAge(t *testing.T) {
	f := newFixture(t)
	f.record(t, 1, engine.OpCompromised, t0.AddDate(0, -18, 0))
	f.record(t, 1, engine.OpPurged, t0.AddDate(0, -18, 0))
	f.record(t, 1, engine.OpUnanswered, t0.AddDate(0, -18, 0))
	f.record(t, 3, "rotated", t0.AddDate(0, -18, 0))
	a := f.archiver(0)
	a.SecurityEvents = 2 * 365 * 24 * time.Hour
	if _, _, err := a.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	ops := liveOps(t, f.st)
	if ops[engine.OpCompromised] != 1 || ops[engine.OpPurged] != 1 || ops[engine.OpUnanswered] != 1 || ops["rotated"] != 0 {
		t.Fatalf("live log: %v", ops)
	}
}

// TestKillDuringPruning kills (SIGKILL) a child process while it archives
// and prunes, at several moments, and checks each time that the database
// opens, the whole log verifies, and a new run finishes the work with no
// event archived twice or lost.
func TestKillDuringPruning(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	f := newFixture(t)
	var evs []engine.Event
	for i := 0; i < 6000; i++ {
		op := "rotated"
		if i%500 == 0 {
			op = engine.OpDeleted
		}
		evs = append(evs, engine.Event{Time: t0.AddDate(0, 0, -200).Add(time.Duration(i) * time.Minute), Operation: op,
			Actor: "alice", Origin: engine.OriginKeyward, Details: fmt.Sprintf("event %d", i)})
	}
	if err := f.st.BulkLoad(context.Background(), nil, evs); err != nil {
		t.Fatal(err)
	}
	f.checkpoint(t)
	f.st.Close()
	// Each round waits until the child has written one more segment, then
	// kills it a few milliseconds later: between writing a segment and
	// recording it, during the prune transaction, or during the next
	// segment.
	segs := func() int {
		n, _ := filepath.Glob(filepath.Join(f.dir, "archive", "events-*.ndjson.gz*"))
		return len(n)
	}
	midway := 0
	for round, delay := range []time.Duration{0, 2, 5, 11} {
		before := segs()
		cmd := exec.Command(os.Args[0], "-test.run=^TestPruneChild$", "-test.v")
		cmd.Env = append(os.Environ(), "KEYWARD_PRUNE_CHILD="+f.dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); segs() <= before && time.Now().Before(deadline); {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		f.open(t)
		r, err := f.verify(t)
		if err != nil {
			t.Fatalf("round %d: after kill -9 the log does not verify: %v", round, err)
		}
		h, _ := f.st.AuditHead(context.Background())
		if h.ArchivedSeq < 6000 {
			midway++
		}
		t.Logf("round %d (killed %v after a new segment): archived through %d, %d from archives, %d live", round, delay*time.Millisecond, h.ArchivedSeq, r.FromArchives, r.Live)
		f.st.Close()
	}
	if midway == 0 {
		t.Fatal("every child finished before it was killed: the test killed nothing mid-pruning")
	}
	f.open(t)
	if _, _, err := f.archiver(250).Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := f.verify(t)
	if err != nil {
		t.Fatal(err)
	}
	if r.FromArchives != 6000 || r.Events != 6000 {
		t.Fatalf("after finishing: %+v", r)
	}
	if ops := liveOps(t, f.st); ops[engine.OpDeleted] != 12 || ops["rotated"] != 0 {
		t.Fatalf("live log: %v", ops)
	}
}

// TestPruneChild is the child process of TestKillDuringPruning.
func TestPruneChild(t *testing.T) {
	dir := os.Getenv("KEYWARD_PRUNE_CHILD")
	if dir == "" {
		t.Skip("run by TestKillDuringPruning")
	}
	signer, _, err := LoadSigner(filepath.Join(dir, "keys", "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, filepath.Join(dir, "keyward.db"))
	a := &Archiver{St: st, Signer: signer, Dir: filepath.Join(dir, "archive"), Events: 30 * 24 * time.Hour,
		SecurityEvents: 365 * 24 * time.Hour, Batch: 250, Now: func() time.Time { return t0 }}
	if _, _, err := a.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.ReclaimSpace(context.Background(), 64)
	time.Sleep(time.Hour) // wait for the kill
}

// TestExportAcrossArchives: a range whose events were partly pruned is
// exported whole, from the segments and the live log, and the bundle
// verifies; a bundle with a changed event does not.
func TestExportAcrossArchives(t *testing.T) {
	f := newFixture(t)
	f.record(t, 20, "rotated", t0.AddDate(0, 0, -40))
	f.record(t, 5, "rotated", t0.Add(-time.Hour))
	f.checkpoint(t)
	if _, _, err := f.archiver(8).Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	first, last, err := Export(context.Background(), f.st, f.signer, filepath.Join(f.dir, "archive"), t0.AddDate(0, 0, -41), t0, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if first != 1 || last != 25 {
		t.Fatalf("exported %d to %d, want 1 to 25", first, last)
	}
	rep, err := VerifyBundle(bytes.NewReader(buf.Bytes()), f.signer.Verifier())
	if err != nil || rep.Checkpoint == nil || rep.Last != 25 {
		t.Fatalf("bundle: %+v %v", rep, err)
	}
	other, _, _ := LoadSigner(filepath.Join(t.TempDir(), "k"))
	if _, err := VerifyBundle(bytes.NewReader(buf.Bytes()), other.Verifier()); err == nil {
		t.Fatal("a bundle verified under another key")
	}
}

// TestCheckpointWhilePruning: at a migrated daemon's first start the
// checkpointer walks the whole chain while retention archives its oldest
// events; sharing Mu, the check never sees events vanish under it, and
// keyward audit verify's snapshot passes during pruning too. (Without the
// snapshot the verify fails here every time; without Mu the checkpoint
// fails only when a prune commits between its reading the head and the
// events, a window too narrow to hit on demand.)
func TestCheckpointWhilePruning(t *testing.T) {
	f := newFixture(t)
	var evs []engine.Event
	for i := 0; i < 20000; i++ {
		evs = append(evs, engine.Event{Time: t0.AddDate(0, 0, -100).Add(time.Duration(i) * time.Second), Operation: "rotated",
			Actor: "alice", Origin: engine.OriginKeyward, Details: fmt.Sprintf("event %d", i)})
	}
	if err := f.st.BulkLoad(context.Background(), nil, evs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	a := f.archiver(500)
	a.Mu = &mu
	c := NewCheckpointer(f.st, f.signer, func() time.Time { return f.clock }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.Mu = &mu
	done := make(chan error, 1)
	go func() { _, _, err := a.Prune(context.Background()); done <- err }()
	for i := 0; i < 5; i++ {
		if _, err := c.Checkpoint(context.Background()); err != nil {
			t.Fatalf("checkpoint %d while pruning: %v", i, err)
		}
		// As keyward audit verify reads it: read-only, one snapshot.
		ro, err := store.OpenReadOnly(context.Background(), f.db)
		if err != nil {
			t.Fatal(err)
		}
		if err := ro.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, err = Verify(context.Background(), ro, VerifyOptions{ArchiveDir: filepath.Join(f.dir, "archive"), Verifier: f.signer.Verifier()})
		ro.Close()
		if err != nil {
			t.Fatalf("verify %d while pruning: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
