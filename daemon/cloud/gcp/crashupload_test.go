package gcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// TestUploadInterruptedAfterImport: uploads to the Cloud KMS fake stopped
// between the import and keeping keyward's copy (as kill -9 would) leave
// sealed pending copies; a manager started again on the same database
// makes the one whose key is in Google the key's backup (restoring it
// imports the same material: a ciphertext of the restored version opens
// here with the uploaded material), and lists the one whose source is no
// longer configured as pending, with what to do, until it is deleted. No plaintext reaches
// SQLite.
func TestUploadInterruptedAfterImport(t *testing.T) {
	ctx := context.Background()
	_, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/byok"})
	dir := t.TempDir()
	k := cloudtest.KEK(t)
	dbPath := filepath.Join(dir, "keyward.db")
	start := func(sources ...string) (*cloud.Manager, *store.Store) {
		t.Helper()
		st := storetest.Open(t, dbPath)
		m := cloud.NewManager(st, k)
		for _, name := range sources {
			src := cloud.NewSyncSource(name, p, time.Hour, nil)
			src.Attach(cloudtest.Discard{})
			m.Add(src)
		}
		return m, st
	}
	material, gone := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(material)
	_, _ = rand.Read(gone)
	m, st := start("gcp-test", "gcp-old")
	stop := errors.New("killed between the import and keeping the copy")
	m.AfterImport = func(string, string) error { return stop }
	alice := cloud.Caller{User: "alice"}
	for _, u := range []struct {
		source, name string
		material     []byte
	}{{"gcp-test", "crm-kek", material}, {"gcp-old", "gone-kek", gone}} {
		if _, err := m.Upload(ctx, alice, u.source, cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: u.name}, Material: bytes.Clone(u.material)}); !errors.Is(err, stop) {
			t.Fatalf("upload %s: %v", u.name, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The daemon starts again without the source gcp-old.
	m, st = start("gcp-test")
	defer st.Close()
	bs, err := m.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kept, pending []cloud.BackupInfo
	for _, b := range bs {
		if b.Pending != "" {
			pending = append(pending, b)
		} else {
			kept = append(kept, b)
		}
	}
	if len(kept) != 1 || kept[0].Key != "europe-west1/byok/crm-kek" || kept[0].Kind != "gcp" {
		t.Fatalf("backups after the restart: %+v", bs)
	}
	if len(pending) != 1 || !strings.Contains(pending[0].Pending, "pending: the upload of gone-kek to gcp-old was interrupted (its source is no longer configured)") ||
		!strings.Contains(pending[0].Pending, "keyward key delete-backup "+pending[0].ID) {
		t.Fatalf("pending after the restart: %+v", pending)
	}
	// Listing again settles nothing twice.
	if again, err := m.Backups(ctx); err != nil || len(again) != 2 {
		t.Fatalf("second listing: %+v %v", again, err)
	}
	if _, err := m.Restore(ctx, alice, kept[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	ct := encrypt(t, p, "europe-west1/byok/crm-kek", []byte("card 4111"))
	if got := openLocally(t, material, ct); string(got) != "card 4111" {
		t.Fatalf("opened %q", got)
	}
	if err := m.DeleteBackup(ctx, alice, pending[0].ID); err != nil {
		t.Fatal(err)
	}
	if left, err := m.Backups(ctx); err != nil || len(left) != 1 {
		t.Fatalf("after deleting the pending entry: %+v %v", left, err)
	}
	cloudtest.NoPlaintext(t, dbPath+"*", material, gone)
}

// TestPendingCopyOfAnInterruptedUploadOutlivesALaterUpload: an upload
// stopped between the import and keeping keyward's copy, then (before the
// pending copy is settled: the daemon could not reach Google at its
// start) another upload of other material into the same key, which keeps
// its own copy. Settling the pending copy must keep it as a backup: the
// later copy holds other material, so dropping the pending copy because a
// backup of the key newer than it exists left the first material in
// Google alone — no restore could bring it back.
func TestPendingCopyOfAnInterruptedUploadOutlivesALaterUpload(t *testing.T) {
	ctx := context.Background()
	_, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/byok"})
	dbPath := filepath.Join(t.TempDir(), "keyward.db")
	st := storetest.Open(t, dbPath)
	defer st.Close()
	m := cloud.NewManager(st, cloudtest.KEK(t))
	src := cloud.NewSyncSource("gcp-test", p, time.Hour, nil)
	src.Attach(cloudtest.Discard{})
	m.Add(src)
	first, second := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(first)
	_, _ = rand.Read(second)
	alice := cloud.Caller{User: "alice"}
	stop := errors.New("killed between the import and keeping the copy")
	m.AfterImport = func(string, string) error { return stop }
	up := cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "crm-kek"}, Material: bytes.Clone(first)}
	if _, err := m.Upload(ctx, alice, "gcp-test", up); !errors.Is(err, stop) {
		t.Fatalf("first upload: %v", err)
	}
	m.AfterImport = nil
	up.Material = bytes.Clone(second)
	if _, err := m.Upload(ctx, alice, "gcp-test", up); err != nil {
		t.Fatalf("second upload: %v", err)
	}

	bs, err := m.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	restores := map[string]bool{}
	for _, b := range bs {
		if b.Pending != "" {
			continue // still pending: its material is still held
		}
		if _, err := m.Restore(ctx, alice, b.ID, ""); err != nil {
			t.Fatal(err)
		}
		ct := encrypt(t, p, "europe-west1/byok/crm-kek", []byte("card 4111"))
		for name, key := range map[string][]byte{"first": first, "second": second} {
			if pt, err := decryptLocally(key, ct); err == nil && string(pt) == "card 4111" {
				restores[name] = true
			}
		}
	}
	pending := 0
	for _, b := range bs {
		if b.Pending != "" {
			pending++
		}
	}
	if !restores["second"] || !restores["first"] && pending == 0 {
		t.Fatalf("after settling, the backups %+v restore %v: the first material is held nowhere", bs, restores)
	}
	cloudtest.NoPlaintext(t, dbPath+"*", first, second)
}
