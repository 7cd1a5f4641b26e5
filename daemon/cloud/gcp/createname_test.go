package gcp

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/store/storetest"
)

// TestCreateByInventoryName: the inventory names a Google key
// location/ring/key, so an admin creates one by that name; the refusal
// says to give a bare name and where the key ring comes from (it said only
// "may only hold letters, digits and dashes"), nothing reaches Google, and
// the create it points to goes through into the ring the tag names.
func TestCreateByInventoryName(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/byok"})
	st := storetest.Open(t, filepath.Join(t.TempDir(), "keyward.db"))
	src := cloud.NewSyncSource("gcp-test", p, time.Hour, nil)
	src.Attach(cloudtest.Discard{})
	m := cloud.NewManager(st, cloudtest.KEK(t), src)
	alice := cloud.Caller{User: "alice"}
	before := maps.Clone(fake.Calls())
	_, err := m.Create(ctx, alice, "gcp-test", cloud.CreateRequest{Name: "europe-west1/payments/card-kek", Type: "oct"})
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "bare name") || !strings.Contains(err.Error(), TagKeyRing+"=LOCATION/RING") {
		t.Fatalf("create by the inventory's name: %v, want the bare name and the key ring tag named", err)
	}
	if after := fake.Calls(); !maps.Equal(before, after) {
		t.Errorf("a refused create reached Google: calls %v, then %v", before, after)
	}
	res, err := m.Create(ctx, alice, "gcp-test", cloud.CreateRequest{Name: "card-kek", Type: "oct", Tags: map[string]string{TagKeyRing: "europe-west1/payments"}})
	if err != nil || len(res.Keys) != 1 || res.Keys[0].Name != "europe-west1/payments/card-kek" {
		t.Fatalf("create as the refusal says: %+v, %v", res, err)
	}
}
