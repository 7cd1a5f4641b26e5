package cloud

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// countingKEK is the real KEK, counting how often a sealed backup is
// opened.
type countingKEK struct {
	*kek.KEK
	unwraps atomic.Int64
}

func (c *countingKEK) Unwrap(blob, aad []byte) ([]byte, error) {
	c.unwraps.Add(1)
	return c.KEK.Unwrap(blob, aad)
}

// backupConn is just enough of a connector for sealBackup (its kind and
// geography).
type backupConn struct{ Connector }

func (backupConn) Kind() string      { return "memvault" }
func (backupConn) Geography() string { return "eu" }

func indexFixture(t testing.TB, keys int) (*Manager, *store.Store, *countingKEK) {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	k, err := kek.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	ck := &countingKEK{KEK: k}
	m := NewManager(st, ck)
	for i := range keys {
		if _, err := m.sealBackup(ctx, Caller{User: "schedule:nightly"}, "vault", backupConn{}, fmt.Sprintf("key-%05d", i), 1, []byte("blob")); err != nil {
			t.Fatal(err)
		}
	}
	return m, st, ck
}

// A key's backups are one lookup in the manager's index: every stored
// backup is opened once per manager (not once per key or per listing),
// the manager's own backups and deletions keep the index right, and a new
// manager over the same store reads the same.
func TestBackupIndexOpensEachBackupOnce(t *testing.T) {
	ctx := context.Background()
	const n = 40
	m, st, ck := indexFixture(t, n)
	if got := ck.unwraps.Load(); got != 0 {
		t.Fatalf("%d backups opened while taking them, want 0", got)
	}
	for i := range n {
		mine, err := m.BackupsOf(ctx, "vault", fmt.Sprintf("key-%05d", i))
		if err != nil || len(mine) != 1 || mine[0].Key != fmt.Sprintf("key-%05d", i) || mine[0].Actor != "schedule:nightly" {
			t.Fatalf("backups of key %d: %+v, %v", i, mine, err)
		}
		if _, err := m.Backups(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := ck.unwraps.Load(); got != n {
		t.Fatalf("%d backups opened for %d checks and listings of %d backups, want each opened once (%d)", got, 2*n, n, n)
	}
	// The manager's own writes keep the index right.
	b, err := m.sealBackup(ctx, Caller{User: "alice"}, "vault", backupConn{}, "key-00001", 1, []byte("blob2"))
	if err != nil {
		t.Fatal(err)
	}
	if mine, _ := m.BackupsOf(ctx, "vault", "key-00001"); len(mine) != 2 {
		t.Fatalf("after a second backup of key-00001: %+v", mine)
	}
	if err := m.DeleteBackup(ctx, Caller{User: "alice"}, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteBackup(ctx, Caller{User: "alice"}, b.ID); err == nil {
		t.Fatal("deleting a deleted backup succeeded")
	}
	if mine, _ := m.BackupsOf(ctx, "vault", "key-00001"); len(mine) != 1 || mine[0].ID == b.ID {
		t.Fatalf("after deleting %s: %+v", b.ID, mine)
	}
	if got := ck.unwraps.Load(); got != n {
		t.Fatalf("%d backups opened after a backup and a deletion, want still %d", got, n)
	}
	// The store is the truth: a new manager reads what the first wrote.
	m2 := NewManager(st, ck)
	all, err := m2.Backups(ctx)
	if err != nil || len(all) != n {
		t.Fatalf("a new manager lists %d backups (%v), want %d", len(all), err, n)
	}
}

// BenchmarkBackupCheck is one key's idempotency check of a backup
// schedule with 10,000 backups stored (one per key, the steady state of a
// daily backup of 10,000 keys): "open-all" is what each key cost before
// (every stored backup read and opened), "index" is the lookup now.
// flock /tmp/keyward-bench.lock go test ./daemon/cloud -run '^$' -bench BackupCheck -benchtime 10x
func BenchmarkBackupCheck(b *testing.B) {
	const n = 10000
	m, st, ck := indexFixture(b, n)
	ctx := context.Background()
	b.Run("open-all", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			all, err := st.Sealed(ctx, BackupKind)
			if err != nil {
				b.Fatal(err)
			}
			found := 0
			for id, sealed := range all {
				rec, err := openBackup(ck, id, sealed)
				if err != nil {
					b.Fatal(err)
				}
				clear(rec.Blob)
				if rec.Info.Key == fmt.Sprintf("key-%05d", i%n) {
					found++
				}
			}
			if found != 1 {
				b.Fatalf("found %d", found)
			}
		}
	})
	b.Run("index", func(b *testing.B) {
		if _, err := m.Backups(ctx); err != nil { // the index is read once per manager
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			mine, err := m.BackupsOf(ctx, "vault", fmt.Sprintf("key-%05d", i%n))
			if err != nil || len(mine) != 1 {
				b.Fatalf("%+v %v", mine, err)
			}
		}
	})
}
