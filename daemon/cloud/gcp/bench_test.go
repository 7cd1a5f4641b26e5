package gcp

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// storeSink is the daemon's sink reduced to what a source sees: the real
// store on a real SQLite file.
type storeSink struct{ st *store.Store }

func (s storeSink) Apply(ctx context.Context, b sources.Batch) error {
	_, err := s.st.Apply(ctx, store.Change{Source: b.Source, Upsert: b.Upsert, Remove: b.Remove, Events: b.Events})
	return err
}

func (s storeSink) SetHealth(ctx context.Context, source string, h engine.Health, reason string) error {
	_, _, err := s.st.SetHealth(ctx, source, h, reason, nil)
	return err
}

func (s storeSink) Known(ctx context.Context, source string) ([]engine.Key, error) {
	return s.st.SourceKeys(ctx, source)
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// BenchmarkSync measures a sync of n symmetric keys (each with two
// versions) in ten key rings of keyward's Cloud KMS fake, through the real
// Cloud KMS client over loopback gRPC into a real SQLite store: the first
// sync (every key's versions listed), and a sync after 1% of the keys got
// a label changed outside keyward (only their versions are listed again).
// requests/op counts Cloud KMS requests; per-changed is the 1% sync's
// requests per changed key beyond the listing.
//
//	flock /tmp/keyward-bench.lock go test -run XXX -bench Sync -benchtime 1x ./daemon/cloud/gcp
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		ctx := context.Background()
		fake, p := startFake(b, Settings{Locations: []string{"europe-west1"}, FullRefreshEvery: 1000})
		var names []string
		for r := range 10 {
			ring := fmt.Sprintf("ring-%d", r)
			if _, err := fake.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: gcpname.LocationName(TestProject, "europe-west1"), KeyRingId: ring}); err != nil {
				b.Fatal(err)
			}
			for i := range n / 10 {
				k, err := fake.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: gcpname.KeyRingName(TestProject, "europe-west1", ring),
					CryptoKeyId: fmt.Sprintf("k%05d", i), CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := fake.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: k.GetName()}); err != nil {
					b.Fatal(err)
				}
				names = append(names, k.GetName())
			}
		}
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "keyward.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		if err := st.EnsureSource(ctx, "gcp-bench", "gcp", p.Address()); err != nil {
			b.Fatal(err)
		}
		src := cloud.NewSyncSource("gcp-bench", p, time.Hour, nil)
		src.FullEvery = 0
		src.Attach(storeSink{st})
		b.Run(fmt.Sprintf("keys=%d/first", n), func(b *testing.B) {
			for range b.N {
				r0 := total(p.Calls())
				if err := src.SyncNow(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(total(p.Calls())-r0), "requests/op")
				b.ReportMetric(float64(src.LastSync().Rows), "rows/op")
			}
		})
		b.Run(fmt.Sprintf("keys=%d/1pct-changed", n), func(b *testing.B) {
			var reqs, listing, rows, events int
			changed := max(n/100, 1)
			for i := range b.N {
				b.StopTimer()
				for j := range changed {
					name := names[(i*changed+j)*97%n]
					if _, err := fake.UpdateCryptoKey(ctx, &kmspb.UpdateCryptoKeyRequest{CryptoKey: &kmspb.CryptoKey{Name: name, Labels: map[string]string{"run": fmt.Sprint(i)}},
						UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}}); err != nil {
						b.Fatal(err)
					}
				}
				time.Sleep(1100 * time.Millisecond) // Updated has a one-second resolution
				r0 := p.Calls()
				b.StartTimer()
				if err := src.SyncNow(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				r1 := p.Calls()
				reqs += total(r1) - total(r0)
				listing += r1["ListKeyRings"] - r0["ListKeyRings"] + r1["ListCryptoKeys"] - r0["ListCryptoKeys"] + r1["ListLocations"] - r0["ListLocations"]
				rows += src.LastSync().Rows
				events += src.LastSync().Events
			}
			b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
			b.ReportMetric(float64(reqs-listing)/float64(b.N*changed), "per-changed")
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
		})
	}
}
