package cloud

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestTrimKeptEveryMaterialStays: copies kept at upload of one key (the
// materials A B A C B A, oldest first) trimmed by three schedules at once
// (keep 1, 1 and 2), then by a manager started again on the same store
// (the digests read back from the sealed copies), leave exactly one copy
// of each material — the newest of each — whatever order the trims ran
// in: never the last copy of a material, and nothing left twice.
func TestTrimKeptEveryMaterialStays(t *testing.T) {
	ctx := context.Background()
	m, st, k := indexFixture(t, 0)
	attach := func(m *Manager) {
		src := NewSyncSource("vault", keptConn{key: &KeyVersion{Name: "k-id"}}, time.Hour, nil)
		src.Attach(&eventSink{})
		m.Add(src)
	}
	attach(m)
	t0 := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	newest := map[string]string{} // material → ID of its newest copy
	for i, mat := range []string{"A", "B", "A", "C", "B", "A"} {
		m.Now = func() time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		info, err := m.sealBackup(ctx, Caller{User: "alice"}, "vault", backupConn{}, "k-id", 1, []byte("k-id:"+mat))
		if err != nil {
			t.Fatal(err)
		}
		newest[mat] = info.ID
	}
	var wg sync.WaitGroup
	for _, keep := range []int{1, 1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.TrimKept(ctx, Caller{User: "schedule:trim"}, "vault", "k-id", keep); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	again := NewManager(st, k) // a restart
	attach(again)
	tr, err := again.TrimKept(ctx, Caller{User: "schedule:trim"}, "vault", "k-id", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Deleted) != 0 || len(tr.Only) != 2 {
		t.Errorf("after the concurrent trims, the restarted manager's trim: %+v (want nothing deleted, 2 kept as only copies)", tr)
	}
	sealed, err := st.Sealed(ctx, BackupKind)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]string{}
	for id, s := range sealed {
		rec, err := openBackup(k, id, s)
		if err != nil {
			t.Fatal(err)
		}
		mat := string(rec.Blob[len("k-id:"):])
		if other, twice := held[mat]; twice {
			t.Errorf("material %s held twice: %s and %s", mat, other, id)
		}
		held[mat] = id
	}
	for mat, id := range newest {
		if held[mat] != id {
			t.Errorf("material %s: held as %q, want its newest copy %s", mat, held[mat], id)
		}
	}
}
