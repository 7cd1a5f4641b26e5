package gcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"path/filepath"
	"slices"
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

// TestTrimKeptKeepsEveryMaterial: a Google key holds three uploaded
// versions — the same material twice, then another — so keyward keeps
// three copies. Keeping the last one deletes only the older duplicate:
// the copy of the first material is the only one left of it and stays
// (a restore needs it), and restoring it after the trim brings that
// material back (what Google then encrypts opens here with it). The same
// holds whether the manager stored the copies itself or read them from
// the database at a start.
func TestTrimKeptKeepsEveryMaterial(t *testing.T) {
	for _, restarted := range []bool{false, true} {
		t.Run(map[bool]string{false: "stored-here", true: "read-at-start"}[restarted], func(t *testing.T) {
			ctx := context.Background()
			_, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/byok"})
			st := storetest.Open(t, filepath.Join(t.TempDir(), "keyward.db"))
			kek := cloudtest.KEK(t)
			clock := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
			manager := func() *cloud.Manager {
				src := cloud.NewSyncSource("gcp-test", p, time.Hour, nil)
				src.Attach(cloudtest.Discard{})
				m := cloud.NewManager(st, kek, src)
				m.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
				return m
			}
			m := manager()
			if _, err := m.Backups(ctx); err != nil { // the index is read before the uploads
				t.Fatal(err)
			}
			alice := cloud.Caller{User: "alice"}
			first, second := make([]byte, 32), make([]byte, 32)
			_, _ = rand.Read(first)
			_, _ = rand.Read(second)
			for _, mat := range [][]byte{first, first, second} {
				if _, err := m.Upload(ctx, alice, "gcp-test", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "crm-kek"}, Material: bytes.Clone(mat)}); err != nil {
					t.Fatal(err)
				}
			}
			if restarted {
				m = manager()
			}
			const key = "europe-west1/byok/crm-kek"
			copies, err := m.BackupsOf(ctx, "gcp-test", key)
			if err != nil || len(copies) != 3 {
				t.Fatalf("copies kept at upload: %+v %v", copies, err)
			}
			// Newest first: the second material, then the first twice.
			newest, only, dup := copies[0].ID, copies[1].ID, copies[2].ID
			tr, err := m.TrimKept(ctx, cloud.Caller{User: "schedule:trim"}, "gcp-test", key, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tr.Deleted, []string{dup}) || !slices.Equal(tr.Only, []string{only}) {
				t.Fatalf("trimmed %+v, want %s deleted and %s kept as the only copy of its material", tr, dup, only)
			}
			left, err := m.Backups(ctx)
			if err != nil || len(left) != 2 || left[0].ID != newest || left[1].ID != only {
				t.Fatalf("backups after the trim: %+v %v", left, err)
			}
			if all, err := st.Sealed(ctx, cloud.BackupKind); err != nil || len(all) != 2 || all[dup] != nil {
				t.Fatalf("sealed backups in the database after the trim: %d %v", len(all), err)
			}
			// Again: nothing more to delete.
			if tr, err := m.TrimKept(ctx, cloud.Caller{User: "schedule:trim"}, "gcp-test", key, 1); err != nil || len(tr.Deleted) != 0 || !slices.Equal(tr.Only, []string{only}) {
				t.Fatalf("second trim: %+v %v", tr, err)
			}
			// The copy that stayed restores the first material.
			if _, err := m.Restore(ctx, alice, only, ""); err != nil {
				t.Fatal(err)
			}
			ct := encrypt(t, p, key, []byte("card 4111"))
			if got := openLocally(t, first, ct); string(got) != "card 4111" {
				t.Fatalf("opened %q", got)
			}
		})
	}
}
