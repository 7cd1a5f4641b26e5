package aws

import (
	"context"
	"fmt"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud/cloudtest"
)

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
		seed, err := New(ctx, cfg, nil)
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
		a, err := New(ctx, cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		cloudtest.BenchSync(b, cloudtest.Bench{Keys: n, Source: cfg.Name, Kind: "aws", Address: lk.URL,
			Conn: a, Calls: a.Calls, Listing: []string{"ListKeys", "ListAliases"},
			Change: func(b *testing.B, k, i, j int) {
				if _, err := seed.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: sdkaws.String(fmt.Sprintf("alias/b%d-%d", i, j)), TargetKeyId: sdkaws.String(ids[k])}); err != nil {
					b.Fatal(err)
				}
			}})
	}
}
