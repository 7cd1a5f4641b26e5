package gcp

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
)

// BenchmarkSync measures a sync of n symmetric keys (each with two
// versions) in ten key rings of keyward's Cloud KMS fake, through the real
// Cloud KMS client over loopback gRPC into a real SQLite store: the first
// sync (every key's versions listed), and a sync after 1% of the keys got
// a label changed outside keyward (only their versions are listed again).
// requests/op counts Cloud KMS and Cloud Logging requests; per-changed is
// the 1% sync's requests per changed key beyond the listing and the
// admin-activity read (TestSyncCostOfOnePercentChanged holds both).
//
//	flock /tmp/keyward-bench.lock go test -run XXX -bench Sync -benchtime 1x ./daemon/cloud/gcp
//
// KEYWARD_BENCH_KEYS=50000 runs it at that many keys instead.
func BenchmarkSync(b *testing.B) {
	sizes := []int{1000, 10000}
	if n, err := strconv.Atoi(os.Getenv("KEYWARD_BENCH_KEYS")); err == nil && n >= 10 {
		sizes = []int{n}
	}
	for _, n := range sizes {
		fake, p := startFake(b, Settings{Locations: []string{"europe-west1"}, FullRefreshEvery: 1000})
		names := seedRings(b, fake, n)
		cloudtest.BenchSync(b, cloudtest.Bench{Keys: n, Source: "gcp-bench", Kind: "gcp", Address: p.Address(),
			Conn: p, Calls: p.Calls, Listing: syncListing,
			Change: func(b *testing.B, k, i, _ int) { relabel(b, fake, names[k], i) }})
	}
}

// syncListing is what a sync asks whatever changed: the listing (key
// rings, keys, locations) and the admin-activity audit log of the sync's
// window (cloud.Attributor), a request per 1000 entries of that window.
var syncListing = []string{"ListKeyRings", "ListCryptoKeys", "ListLocations", "ListLogEntries"}

// seedRings creates n symmetric keys, each with a second version, in ten
// key rings of the fake's europe-west1, and returns their names.
func seedRings(tb testing.TB, fake *gcpkms.Server, n int) []string {
	tb.Helper()
	ctx := context.Background()
	var names []string
	for r := range 10 {
		ring := fmt.Sprintf("ring-%d", r)
		if _, err := fake.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: gcpname.LocationName(TestProject, "europe-west1"), KeyRingId: ring}); err != nil {
			tb.Fatal(err)
		}
		for i := range n / 10 {
			k, err := fake.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: gcpname.KeyRingName(TestProject, "europe-west1", ring),
				CryptoKeyId: fmt.Sprintf("k%05d", i), CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := fake.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: k.GetName()}); err != nil {
				tb.Fatal(err)
			}
			names = append(names, k.GetName())
		}
	}
	return names
}

// relabel changes a key's labels outside keyward (in the fake directly).
func relabel(tb testing.TB, fake *gcpkms.Server, name string, run int) {
	tb.Helper()
	if _, err := fake.UpdateCryptoKey(context.Background(), &kmspb.UpdateCryptoKeyRequest{CryptoKey: &kmspb.CryptoKey{Name: name, Labels: map[string]string{"run": fmt.Sprint(run)}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}}); err != nil {
		tb.Fatal(err)
	}
}
