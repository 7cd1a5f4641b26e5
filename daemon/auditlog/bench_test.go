package auditlog

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// BenchmarkPruneSegment is one retention step at the default segment size:
// read 10,000 old events, write and sync their signed segment, then the
// durable transaction that marks them archived and prunes them (the only
// part that holds the write lock, reported as lock-ms). And
// BenchmarkVerify: keyward audit verify's pace over a live log.
func BenchmarkPruneSegment(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		st := storetest.Open(b, filepath.Join(dir, "keyward.db"))
		signer, _, err := LoadSigner(filepath.Join(dir, "k", "audit.key"))
		if err != nil {
			b.Fatal(err)
		}
		var evs []engine.Event
		for j := 0; j < 10000; j++ {
			evs = append(evs, engine.Event{Time: t0.AddDate(-2, 0, 0).Add(time.Duration(j) * time.Second), Operation: "rotated", Actor: "alice",
				Origin: engine.OriginKeyward, KeyID: "kms/acme.crm.key.5", Source: "kms", Details: fmt.Sprintf("rotated through keyward, run %d", j)})
		}
		if err := st.BulkLoad(ctx, nil, evs); err != nil {
			b.Fatal(err)
		}
		var entries []audit.Entry
		st.ChainEntries(ctx, 1, 10000, func(r store.ChainRow) error { entries = append(entries, r.Entry); return nil })
		b.StartTimer()
		name, err := WriteSegment(filepath.Join(dir, "archive"), signer, entries)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		n, err := st.MarkArchived(ctx, store.Archived{Name: name, First: 1, Last: 10000, LastHash: entries[len(entries)-1].Hash, Created: t0, KeepAfter: t0})
		if err != nil || n != 10000 {
			b.Fatal(n, err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "lock-ms")
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st := storetest.Open(b, filepath.Join(dir, "keyward.db"))
	signer, _, _ := LoadSigner(filepath.Join(dir, "k", "audit.key"))
	var evs []engine.Event
	for j := 0; j < 100000; j++ {
		evs = append(evs, engine.Event{Time: t0.Add(time.Duration(j) * time.Second), Operation: "rotated", Actor: "alice",
			Origin: engine.OriginKeyward, KeyID: "kms/acme.crm.key.5", Source: "kms", Details: fmt.Sprintf("rotated, run %d", j)})
	}
	for i := 0; i < len(evs); i += 20000 {
		if err := st.BulkLoad(ctx, nil, evs[i:i+20000]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Verify(ctx, st, VerifyOptions{Verifier: signer.Verifier()})
		if err != nil || r.Events != 100000 {
			b.Fatal(r.Events, err)
		}
	}
	b.ReportMetric(100000*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
