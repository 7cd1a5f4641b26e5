package gcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/storetest"
)

// TestRestoreRefusesMaterialExpiry: Google keeps no expiry on imported
// material (no engine.CapMaterialExpiry), so a restore into the Cloud KMS
// fake that asks for one, or for none, is refused in the words the front
// ends use before any call reaches Google; the same restore without the
// choice goes through.
func TestRestoreRefusesMaterialExpiry(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/byok"})
	if p.Capabilities().Has(engine.CapMaterialExpiry) {
		t.Fatal("the Google connector declares material-expiry")
	}
	st := storetest.Open(t, filepath.Join(t.TempDir(), "keyward.db"))
	src := cloud.NewSyncSource("gcp-test", p, time.Hour, nil)
	src.Attach(cloudtest.Discard{})
	m := cloud.NewManager(st, cloudtest.KEK(t), src)
	alice := cloud.Caller{User: "alice"}
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	if _, err := m.Upload(ctx, alice, "gcp-test", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "crm-kek"}, Material: bytes.Clone(material)}); err != nil {
		t.Fatal(err)
	}
	bs, err := m.Backups(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	before := maps.Clone(fake.Calls())
	at := time.Now().Add(24 * time.Hour)
	for _, exp := range []cloud.MaterialExpiry{{At: &at}, {}} {
		_, err := m.RestoreWith(ctx, alice, bs[0].ID, cloud.RestoreRequest{Expiry: &exp})
		if !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), engine.NoMaterialExpiry("gcp-test")) {
			t.Errorf("restore with the material %s: %v", exp, err)
		}
	}
	if after := fake.Calls(); !maps.Equal(before, after) {
		t.Errorf("a refused restore reached Google: calls %v, then %v", before, after)
	}
	if _, err := m.RestoreWith(ctx, alice, bs[0].ID, cloud.RestoreRequest{}); err != nil {
		t.Fatalf("restore as kept: %v", err)
	}
}
