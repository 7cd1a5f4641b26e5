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
// location/ring/key, and the connector takes that name for a new key (its
// own error even says "name the key as location/ring/…"), but the daemon
// refused it before the connector saw it: "may only hold letters, digits
// and dashes" (Azure's rule, which also refused Google's underscores).
// Now the connector judges the name: location/ring/key and a key ID with
// an underscore create where they say; a malformed one is refused in
// Google's terms before any request.
func TestCreateByInventoryName(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1", "us"}, CreateIn: "europe-west1/byok"})
	st := storetest.Open(t, filepath.Join(t.TempDir(), "keyward.db"))
	src := cloud.NewSyncSource("gcp-test", p, time.Hour, nil)
	src.Attach(cloudtest.Discard{})
	m := cloud.NewManager(st, cloudtest.KEK(t), src)
	alice := cloud.Caller{User: "alice"}
	for _, c := range []struct{ name, want string }{
		{"us/payments/card-kek", "us/payments/card-kek"},
		{"ledger_2026", "europe-west1/byok/ledger_2026"},
	} {
		res, err := m.Create(ctx, alice, "gcp-test", cloud.CreateRequest{Name: c.name, Type: "oct"})
		if err != nil || len(res.Keys) != 1 || res.Keys[0].Name != c.want {
			t.Fatalf("create %s: %+v, %v; want the key %s", c.name, res, err, c.want)
		}
	}
	before := maps.Clone(fake.Calls())
	for _, bad := range []string{"us/payments/card.kek", "europe-west1/card-kek", "acme.payments"} {
		_, err := m.Create(ctx, alice, "gcp-test", cloud.CreateRequest{Name: bad, Type: "oct"})
		if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "letters, digits, underscores or hyphens") && !strings.Contains(err.Error(), "is not location/ring/key") {
			t.Errorf("create %q: %v, want it refused in Google's terms", bad, err)
		}
	}
	if after := fake.Calls(); !maps.Equal(before, after) {
		t.Errorf("a refused create reached Google: calls %v, then %v", before, after)
	}
}
