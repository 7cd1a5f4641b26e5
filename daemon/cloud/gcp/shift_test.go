package gcp

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/storetest"
)

// Google pages a key ring's keys in name order: a key created between two
// pages of keyward's listing, before the next page's start, shifts the
// rest right, so the last key of the first page is listed again. (Google
// never removes a crypto key from the listing, so only a creation shifts
// pages.) The sync, through the real client and real gRPC into a real
// store, neither fails nor counts the key twice nor takes any key for
// deleted; the new key is for the next sync.
func TestKeyCreatedBetweenPages(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, FullRefreshEvery: 1000})
	ring := gcpname.KeyRingName(TestProject, "europe-west1", "shift")
	if _, err := fake.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: gcpname.LocationName(TestProject, "europe-west1"), KeyRingId: "shift"}); err != nil {
		t.Fatal(err)
	}
	create := func(id string) {
		t.Helper()
		if _, err := fake.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: id,
			CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 6; i++ {
		create(fmt.Sprintf("k%d", i))
	}
	st := storetest.New(t)
	src := cloud.NewViewSource("gcp-shift", p, time.Hour, nil)
	sink := cloudtest.Attach(t, st, src)
	fake.KeyPages(2, nil)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if s := src.LastSync(); s.Keys != 6 || s.Duplicates != 0 {
		t.Fatalf("first sync: keys %d, duplicates %d; want 6 and 0", s.Keys, s.Duplicates)
	}

	created := false
	fake.KeyPages(2, func() {
		if !created {
			created = true
			create("a0") // before k1: page 2 starts at k2 again
		}
	})
	if err := src.SyncNow(ctx); err != nil {
		t.Fatalf("sync with a key created between pages: %v", err)
	}
	if !created {
		t.Fatal("the listing never asked for a second page")
	}
	if s := src.LastSync(); s.Keys != 6 || s.Duplicates != 1 {
		t.Errorf("sync with shifted pages: keys %d, duplicates %d; want 6 (k2 once, a0 for the next sync) and 1 (k2 listed twice)", s.Keys, s.Duplicates)
	}
	fake.KeyPages(2, nil)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if s := src.LastSync(); s.Keys != 7 || s.Duplicates != 0 || s.Reread != 0 {
		t.Errorf("quiet sync: keys %d, duplicates %d, reread %d; want 7, 0, 0", s.Keys, s.Duplicates, s.Reread)
	}
	keys, err := sink.Known(ctx, "gcp-shift")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, k := range keys {
		rows[k.Name]++
		if k.State != engine.StateActive {
			t.Errorf("%s version %s is %s, want active", k.Name, k.Version, k.State)
		}
	}
	if len(rows) != 7 {
		t.Errorf("inventory holds %d keys (%v), want a0 and k1 to k6", len(rows), rows)
	}
	for name, n := range rows {
		if n != 1 {
			t.Errorf("%s has %d rows, want 1 (one version)", name, n)
		}
	}
}
