package gcp

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
)

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
		cloudtest.BenchSync(b, cloudtest.Bench{Keys: n, Source: "gcp-bench", Kind: "gcp", Address: p.Address(),
			Conn: p, Calls: p.Calls, Listing: []string{"ListKeyRings", "ListCryptoKeys", "ListLocations"},
			Change: func(b *testing.B, k, i, _ int) {
				if _, err := fake.UpdateCryptoKey(ctx, &kmspb.UpdateCryptoKeyRequest{CryptoKey: &kmspb.CryptoKey{Name: names[k], Labels: map[string]string{"run": fmt.Sprint(i)}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}}); err != nil {
					b.Fatal(err)
				}
			}})
	}
}
