package cloud

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

const trimChildEnv = "KEYWARD_TRIM_KILL_CHILD" // db path, KEK hex, kill after N writes (0: never), "trim" or "delete"

// killingStore is the real store, killing its process (SIGKILL) right
// after its n-th write returns.
type killingStore struct {
	*store.Store
	writes, killAfter int
}

func (k *killingStore) wrote() {
	k.writes++
	if k.writes == k.killAfter {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

func (k *killingStore) DeleteSealed(ctx context.Context, kind, name string) error {
	defer k.wrote()
	return k.Store.DeleteSealed(ctx, kind, name)
}

func (k *killingStore) DeleteSealedRecorded(ctx context.Context, kind string, names []string, events ...engine.Event) ([]engine.Event, error) {
	defer k.wrote()
	return k.Store.DeleteSealedRecorded(ctx, kind, names, events...)
}

// TestTrimKeptKillChild is the child of TestTrimKeptSurvivesKill9: it trims
// the copies of k-id in the store it is given, and is killed doing it.
func TestTrimKeptKillChild(t *testing.T) {
	arg := os.Getenv(trimChildEnv)
	if arg == "" {
		t.Skip("the child of TestTrimKeptSurvivesKill9")
	}
	parts := strings.Split(arg, "|")
	raw, _ := hex.DecodeString(parts[1])
	killAfter, _ := strconv.Atoi(parts[2])
	k, err := kek.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(&killingStore{Store: st, killAfter: killAfter}, k)
	src := NewSyncSource("vault", keptConn{key: &KeyVersion{Name: "k-id"}}, time.Hour, nil)
	src.Attach(&eventSink{})
	m.Add(src)
	if _, err := m.BackupsOf(ctx, "vault", "k-id"); err != nil { // the index, read before the kill window
		t.Fatal(err)
	}
	fmt.Println("trimming")
	if err := dropOlder(ctx, m, parts[3]); err != nil {
		t.Fatal(err)
	}
	fmt.Println("trimmed")
}

// dropOlder deletes every backup of k-id but the newest, as a schedule
// does: the copies kept at upload (TrimKept, mode "trim") or its own
// backups past its keep (DeleteBackups, mode "delete").
func dropOlder(ctx context.Context, m *Manager, mode string) error {
	caller := Caller{User: "schedule:nightly"}
	if mode == "trim" {
		_, err := m.TrimKept(ctx, caller, "vault", "k-id", 1)
		return err
	}
	bs, err := m.BackupsOf(ctx, "vault", "k-id")
	if err != nil || len(bs) < 2 {
		return err
	}
	newestFirst(bs)
	var ids []string
	for _, b := range bs[1:] {
		ids = append(ids, b.ID)
	}
	_, err = m.DeleteBackups(ctx, caller, "vault", "k-id", ids, "kept the last 1 this schedule took")
	return err
}

// TestTrimKeptSurvivesKill9: a process trimming a key's copies kept at
// upload (or deleting a schedule's older backups) is killed with SIGKILL —
// right after each write it makes to the store, and at random moments of
// the trim — and the database it leaves opens and holds either every copy
// and no backup-deleted event, or the newest copy only and one event
// naming exactly the copies deleted: never a copy gone with no record, nor
// a record of a deletion that did not happen. The next trim then finishes
// the job, recording it once.
func TestTrimKeptSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, mode := range []string{"trim", "delete"} {
		t.Run(mode, func(t *testing.T) { trimKill9(t, mode) })
	}
}

func trimKill9(t *testing.T, mode string) {
	ctx := context.Background()
	const copies = 200
	raw := make([]byte, 32)
	_, _ = crand.Read(raw)
	kekHex := hex.EncodeToString(raw) // before kek.New, which zeroes raw
	k, err := kek.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(t.TempDir(), "template.db")
	st, err := store.Open(ctx, template)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, k)
	t0 := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	var all []string
	for i := range copies {
		m.Now = func() time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		info, err := m.sealBackup(ctx, Caller{User: "alice"}, "vault", backupConn{}, "k-id", 1, []byte("k-id:same material"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, info.ID)
	}
	newest := all[len(all)-1]
	st.Close()
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}

	type trial struct {
		killAfter int           // writes; 0 = none
		after     time.Duration // after "trimming"; <0 = none
	}
	trials := []trial{{1, -1}, {2, -1}, {0, -1}} // after the first and second write, and none
	for range 10 {                               // inside the trim (200 deletions and a durable commit: a few ms) or just after
		trials = append(trials, trial{0, time.Duration(rand.IntN(4000)) * time.Microsecond})
	}
	killed := 0
	for i, tr := range trials {
		db := filepath.Join(t.TempDir(), "keyward.db")
		if err := os.WriteFile(db, tmpl, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestTrimKeptKillChild$", "-test.v")
		cmd.Env = append(os.Environ(), trimChildEnv+"="+db+"|"+kekHex+"|"+strconv.Itoa(tr.killAfter)+"|"+mode)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		var said []string
		for lines.Scan() {
			said = append(said, lines.Text())
			if lines.Text() == "trimming" && tr.after >= 0 {
				time.Sleep(tr.after)
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed++
		} else if err != nil {
			t.Fatalf("trial %d: the child failed: %v\n%s\n%s", i, err, strings.Join(said, "\n"), stderr.String())
		}

		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatalf("trial %d %+v: the database left by the kill does not open: %v", i, tr, err)
		}
		check := func(when string, mustBeDone bool) {
			t.Helper()
			sealed, err := st.Sealed(ctx, BackupKind)
			if err != nil {
				t.Fatal(err)
			}
			held := slices.Sorted(func(yield func(string) bool) {
				for id := range sealed {
					if !yield(id) {
						return
					}
				}
			})
			evs, _, err := st.Events(ctx, store.EventQuery{Operation: engine.OpBackupDeleted, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(held) == copies && len(evs) == 0 && !mustBeDone:
			case len(held) == 1 && held[0] == newest && len(evs) == 1:
				for _, id := range all[:copies-1] {
					if !strings.Contains(evs[0].Details, id) {
						t.Fatalf("trial %d %+v, %s: the event does not name the deleted copy %s: %s", i, tr, when, id, evs[0].Details)
					}
				}
				if evs[0].Actor != "schedule:nightly" || evs[0].KeyID != engine.KeyID("vault", "k-id", "") {
					t.Fatalf("trial %d %+v, %s: event %+v", i, tr, when, evs[0])
				}
			default:
				t.Fatalf("trial %d %+v, %s: %d of %d copies held, %d backup-deleted events (want all and none, or the newest and one)",
					i, tr, when, len(held), copies, len(evs))
			}
		}
		check("after the kill", false)
		// The next run: the trim finishes, and is recorded once.
		again := NewManager(st, k)
		src := NewSyncSource("vault", keptConn{key: &KeyVersion{Name: "k-id"}}, time.Hour, nil)
		src.Attach(&eventSink{})
		again.Add(src)
		if err := dropOlder(ctx, again, mode); err != nil {
			t.Fatal(err)
		}
		check("after the next trim", true)
		st.Close()
	}
	t.Logf("%d of %d trials killed the trim", killed, len(trials))
	if killed < 2 {
		t.Fatalf("only %d trials killed the child: the test proves nothing", killed)
	}
}
