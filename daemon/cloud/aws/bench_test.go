package aws

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud"
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

// BenchmarkSync measures a sync of n symmetric keys from local-kms through
// the real aws-sdk-go-v2 client into a real SQLite store: the first sync
// (every key described), and a sync after 1% of the keys got a new alias
// outside keyward (only they are described again). requests/op counts
// AWS requests; per-changed is the 1% sync's requests per changed key
// beyond the listing.
//
//	flock /tmp/keyward-bench.lock go test -run XXX -bench Sync -benchtime 1x ./daemon/cloud/aws
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		lk := StartLocalKMS(b)
		cfg := LocalSettings(b, lk, "aws-bench")
		cfg.FullRefreshEvery = 1000 // LocalSettings: no pacing (10,000 a second)
		ctx := context.Background()
		seed, err := New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, n)
		for i := range n {
			out, err := seed.client.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = *out.KeyMetadata.KeyId
		}
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "keyward.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		if err := st.EnsureSource(ctx, cfg.Name, "aws", lk.URL); err != nil {
			b.Fatal(err)
		}
		a, err := New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		src := cloud.NewSyncSource(cfg.Name, a, time.Hour, nil)
		src.FullEvery = 0
		src.Attach(storeSink{st})
		b.Run(fmt.Sprintf("keys=%d/first", n), func(b *testing.B) {
			for range b.N {
				r0 := total(a.Calls())
				if err := src.SyncNow(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(total(a.Calls())-r0), "requests/op")
				b.ReportMetric(float64(src.LastSync().Rows), "rows/op")
			}
		})
		b.Run(fmt.Sprintf("keys=%d/1pct-changed", n), func(b *testing.B) {
			var reqs, listing, rows, events int
			changed := max(n/100, 1)
			for i := range b.N {
				b.StopTimer()
				for j := range changed {
					id := ids[(i*changed+j)*97%n]
					if _, err := seed.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: sdkaws.String(fmt.Sprintf("alias/b%d-%d", i, j)), TargetKeyId: sdkaws.String(id)}); err != nil {
						b.Fatal(err)
					}
				}
				time.Sleep(1100 * time.Millisecond) // Updated has a one-second resolution
				r0 := a.Calls()
				b.StartTimer()
				if err := src.SyncNow(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				r1 := a.Calls()
				reqs += total(r1) - total(r0)
				listing += r1["ListKeys"] - r0["ListKeys"] + r1["ListAliases"] - r0["ListAliases"]
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

// memSink is a sink that remembers nothing (a first sync every time).
type memSink struct{}

func (memSink) Apply(context.Context, sources.Batch) error { return nil }
func (memSink) SetHealth(context.Context, string, engine.Health, string) error {
	return nil
}
func (memSink) Known(context.Context, string) ([]engine.Key, error) { return nil, nil }
