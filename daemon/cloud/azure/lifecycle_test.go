package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/engine"
)

var (
	alice = cloud.Caller{UID: 1001, User: "alice"}
	// On the socket, alice is an admin and bob a user.
	aliceAdmin = api.Caller{UID: 1001, User: "alice", Role: api.RoleAdmin}
	bobUser    = api.Caller{UID: 1002, User: "bob", Role: api.RoleUser}
)

func newKEK(t testing.TB) *kek.KEK { return cloudtest.KEK(t) }

// current picks the row of the vault's current version (versions made in
// the same second cannot be ordered by their creation time).
func current(t *testing.T, srv *vault.Server, rows []engine.Key) engine.Key {
	t.Helper()
	vs := srv.Versions(rows[0].Name)
	for _, k := range rows {
		if k.Version == vs[len(vs)-1] {
			return k
		}
	}
	t.Fatalf("no row for the current version of %s", rows[0].Name)
	return engine.Key{}
}

// Every life-cycle operation round-trips through the real client to the
// emulator, updates the inventory and records an event with the caller;
// the next sync reports none of them again as cloud-side changes.
func TestLifecycleRoundTrip(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.mustSync()
	m := cloud.NewManager(e.st, newKEK(t), e.src)
	ctx := e.ctx

	res, err := m.Create(ctx, alice, "vault1", cloud.CreateRequest{Name: "acme-payments-new", Type: "EC", Curve: "P-384", Tags: map[string]string{"application": "payments"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || res.Keys[0].Algorithm != "EC P-384" || res.Keys[0].State != engine.StateActive || res.Event.Actor != "alice" || res.Event.Origin != engine.OriginKeyward {
		t.Fatalf("create: %+v %+v", res.Keys, res.Event)
	}
	if _, err := m.Create(ctx, alice, "vault1", cloud.CreateRequest{Name: "acme-rsa", Type: "RSA", Size: 2048}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, alice, "vault1", cloud.CreateRequest{Name: "acme-rsa", Type: "EC", Curve: "P-256"}); !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("create over an existing key: %v, want a conflict", err)
	}
	if _, err := m.Create(ctx, alice, "vault1", cloud.CreateRequest{Name: "acme.payments.bad", Type: "EC", Curve: "P-256"}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "letters, digits and dashes") {
		t.Errorf("dotted name: %v, want a clear invalid-name error", err)
	}
	if _, err := m.Create(ctx, alice, "vault1", cloud.CreateRequest{Name: "acme-x", Type: "RSA", Size: 1024}); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("RSA 1024: %v, want invalid", err)
	}

	up, err := m.Upload(ctx, alice, "vault1", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "acme-byok-ec", Type: "EC", Curve: "P-256"}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Event.Operation != engine.OpUploaded || !strings.Contains(up.Event.Details, "generated locally") {
		t.Errorf("upload event %+v", up.Event)
	}
	if _, err := m.Upload(ctx, alice, "vault1", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "acme-byok-rsa", Type: "RSA", Size: 2048}}); err != nil {
		t.Fatal(err)
	}
	// Upload from a KMIP ring: the material function stands for the rings.
	m.SetMaterial(func(_ context.Context, source, app string) (string, []byte, error) {
		return engine.KeyID(source, "acme.crm.key.7", ""), bytes.Repeat([]byte{7}, 32), nil
	})
	kup, err := m.Upload(ctx, alice, "vault1", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "acme-crm-from-kms"}, FromSource: "kms", FromApplication: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	if k := kup.Keys[0]; k.LinkedTo != "kms/acme.crm.key.7" || k.Application != "crm" || k.Algorithm != "oct" {
		t.Errorf("uploaded ring key row %+v: want linked to kms/acme.crm.key.7, application crm, oct", k)
	}

	rot, err := m.Rotate(ctx, alice, "vault1", "acme-payments-new")
	if err != nil {
		t.Fatal(err)
	}
	vs := e.srv.Versions("acme-payments-new")
	if len(rot.Keys) != 2 || rot.Event.Operation != engine.OpRotated || rot.Event.KeyID != engine.KeyID("vault1", "acme-payments-new", vs[len(vs)-1]) {
		t.Errorf("rotate: %d versions, event %+v", len(rot.Keys), rot.Event)
	}

	off := false
	dis, err := m.Update(ctx, alice, "vault1", "acme-payments-new", cloud.UpdateRequest{Enabled: &off})
	if err != nil {
		t.Fatal(err)
	}
	if current(t, e.srv, dis.Keys).State != engine.StateDisabled || dis.Event.Operation != engine.OpDisabled {
		t.Errorf("disable: %+v", dis.Event)
	}
	on := true
	exp := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	upd, err := m.Update(ctx, alice, "vault1", "acme-payments-new", cloud.UpdateRequest{Enabled: &on, Expires: &exp, Tags: map[string]string{"owner": "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if l := current(t, e.srv, upd.Keys); l.State != engine.StateActive || l.Expires == nil || !l.Expires.Equal(exp) || l.Tags["owner"] != "alice" {
		t.Errorf("update: %+v", l)
	}

	pol, err := m.SetRotationPolicy(ctx, alice, "vault1", "acme-payments-new", cloud.RotationPolicy{RotateAfter: engine.Duration(90 * 24 * time.Hour), ExpireAfter: engine.Duration(365 * 24 * time.Hour), NotifyBefore: engine.Duration(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.RotationPolicy(ctx, "vault1", "acme-payments-new")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *pol || time.Duration(got.RotateAfter) != 90*24*time.Hour || time.Duration(got.NotifyBefore) != 30*24*time.Hour {
		t.Errorf("policy read back %+v, set %+v", got, pol)
	}

	if _, err := m.Delete(ctx, alice, "vault1", "acme-payments-new", "acme-payments"); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("delete with the wrong name typed: %v, want refused", err)
	}
	del, err := m.Delete(ctx, alice, "vault1", "acme-payments-new", "acme-payments-new")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range del.Keys {
		if k.State != engine.StateDeleted || k.PurgeAt == nil {
			t.Errorf("deleted version %+v: want deleted with a purge date", k)
		}
	}
	if _, err := m.Recover(ctx, alice, "vault1", "acme-payments-new"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Purge(ctx, alice, "vault1", "acme-payments-new", "acme-payments"); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "purge acme-payments-new: invalid request: type the key's name again") {
		t.Errorf("purge with the wrong name typed: %v, want refused before the vault is asked", err)
	}
	if _, err := m.Purge(ctx, alice, "vault1", "acme-payments-new", "acme-payments-new"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("purge of a live key: %v, want the vault's not-found", err)
	}

	// Backup, delete, purge, restore: the key comes back with its versions.
	bk, err := m.Backup(ctx, alice, "vault1", "acme-payments-new")
	if err != nil {
		t.Fatal(err)
	}
	if bk.Versions != 2 || bk.Source != "vault1" || bk.Key != "acme-payments-new" {
		t.Errorf("backup info %+v", bk)
	}
	sealed, _ := e.st.Sealed(ctx, cloud.BackupKind)
	if bytes.Contains(sealed[bk.ID], []byte("acme-payments-new")) || bytes.Contains(sealed[bk.ID], []byte("KWVAULTBK1")) {
		t.Error("the stored backup is not wrapped under the KEK")
	}
	before := e.srv.Versions("acme-payments-new")
	if _, err := m.Delete(ctx, alice, "vault1", "acme-payments-new", "acme-payments-new"); err != nil {
		t.Fatal(err)
	}
	pur, err := m.Purge(ctx, alice, "vault1", "acme-payments-new", "acme-payments-new")
	if err != nil {
		t.Fatal(err)
	}
	if pur.Keys[0].State != engine.StatePurged || pur.Event.Severity != engine.SeverityAlert {
		t.Errorf("purge: %+v", pur)
	}
	list, err := m.Backups(ctx)
	if err != nil || len(list) != 1 || list[0].ID != bk.ID {
		t.Fatalf("backups listed %+v, %v", list, err)
	}
	rs, err := m.Restore(ctx, alice, bk.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	after := e.srv.Versions("acme-payments-new")
	if strings.Join(after, ",") != strings.Join(before, ",") || len(rs.Keys) != 2 {
		t.Errorf("restored versions %v, want %v", after, before)
	}
	for _, k := range rs.Keys {
		if k.State == engine.StatePurged || k.State == engine.StateDeleted {
			t.Errorf("restored version %s is %s", k.Version, k.State)
		}
	}

	if err := m.DeleteBackup(ctx, alice, bk.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteBackup(ctx, alice, bk.ID); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("deleting a deleted backup: %v", err)
	}
	if list, _ := m.Backups(ctx); len(list) != 0 {
		t.Errorf("backups after delete: %+v", list)
	}

	// Everything done through keyward is recorded once, with the caller;
	// the next sync reports none of it as a cloud-side change.
	ops := map[string]int{}
	for _, ev := range e.events(engine.OriginKeyward) {
		if ev.Actor != "alice" {
			t.Errorf("keyward event %+v without the caller", ev)
		}
		ops[ev.Operation]++
	}
	for _, op := range []string{engine.OpCreated, engine.OpUploaded, engine.OpRotated, engine.OpDisabled, engine.OpEnabled,
		engine.OpEdited, engine.OpDeleted, engine.OpRecovered, engine.OpPurged, engine.OpBackedUp, engine.OpRestored} {
		if ops[op] == 0 {
			t.Errorf("no %s event recorded (have %v)", op, ops)
		}
	}
	src := len(e.events(engine.OriginSource))
	e.mustSync()
	if n := len(e.events(engine.OriginSource)); n != src {
		for _, ev := range e.events(engine.OriginSource)[:n-src] {
			t.Errorf("sync re-reported a keyward operation as a cloud change: %+v", ev)
		}
	}
}

// A backup restores into another vault of the same geography, and is
// refused (before or by the vault) for another geography.
func TestRestoreAcrossVaults(t *testing.T) {
	a := newEnv(t, vault.Options{Geography: "europe"}, false)
	a.mustSync()
	k := newKEK(t)
	ma := cloud.NewManager(a.st, k, a.src)
	if _, err := ma.Create(a.ctx, alice, "vault1", cloud.CreateRequest{Name: "acme-geo", Type: "EC", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ma.Rotate(a.ctx, alice, "vault1", "acme-geo"); err != nil {
		t.Fatal(err)
	}
	bk, err := ma.Backup(a.ctx, alice, "vault1", "acme-geo")
	if err != nil {
		t.Fatal(err)
	}
	// Same geography: a second vault, a second source in the same daemon.
	b := newEnv(t, vault.Options{Geography: "europe"}, false)
	b.st, b.name = a.st, "vault2"
	b.connect(t.TempDir(), false, "")
	ma.Add(b.src)
	res, err := ma.Restore(a.ctx, alice, bk.ID, "vault2")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 2 || res.Keys[0].Source != "vault2" {
		t.Errorf("restored into vault2: %+v", res.Keys)
	}
	// Another geography, configured: keyward refuses before calling.
	c := newEnv(t, vault.Options{Geography: "us"}, false)
	c.st, c.name = a.st, "vault3"
	c.connect(t.TempDir(), false, "us")
	ma.Add(c.src)
	reqs := c.srv.Requests()
	if _, err := ma.Restore(a.ctx, alice, bk.ID, "vault3"); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "geography") {
		t.Errorf("restore into another geography: %v", err)
	}
	if c.srv.Requests() != reqs {
		t.Error("a cross-geography restore reached the vault")
	}
	// Not configured: the vault itself refuses the blob.
	d := newEnv(t, vault.Options{Geography: "asia"}, false)
	d.st, d.name = a.st, "vault4"
	d.connect(t.TempDir(), false, "")
	ma.Add(d.src)
	if _, err := ma.Restore(a.ctx, alice, bk.ID, "vault4"); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "geography") {
		t.Errorf("vault refusing a foreign blob: %v", err)
	}
}

// A user-role caller cannot run any life-cycle operation: the socket
// API's guard refuses each before anything reaches the Manager or the
// vault (the Manager itself checks no role: the route table is the one
// place), and records nothing.
func TestUserRoleCannotRunLifecycle(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.addKey(vault.KeySpec{Name: "acme-k"})
	e.mustSync()
	m := cloud.NewManager(e.st, newKEK(t), e.src)
	reqs := e.srv.Requests()
	caller := bobUser
	h := cloudAPI(m, func() api.Caller { return caller })
	for _, path := range []string{"/v1/cloud/vault1/keys", "/v1/cloud/vault1/upload", "/v1/cloud/vault1/keys/acme-k/rotate",
		"/v1/cloud/vault1/keys/acme-k/update", "/v1/cloud/vault1/keys/acme-k/delete", "/v1/cloud/vault1/keys/acme-k/recover",
		"/v1/cloud/vault1/keys/acme-k/purge", "/v1/cloud/vault1/keys/acme-k/backup", "/v1/cloud/vault1/keys/acme-k/policy",
		"/v1/cloud/backups/x/restore"} {
		body := `{}`
		switch {
		case strings.HasSuffix(path, "/keys"):
			body = `{"name":"acme-n","type":"EC","curve":"P-256"}`
		case strings.HasSuffix(path, "/update"):
			body = `{"enabled":true}`
		case strings.HasSuffix(path, "/delete"), strings.HasSuffix(path, "/purge"):
			body = `{"confirm":"acme-k"}`
		case strings.HasSuffix(path, "/policy"):
			body = `{"clear":true}`
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		var ae api.Error
		_ = json.Unmarshal(rec.Body.Bytes(), &ae)
		if rec.Code != http.StatusForbidden || ae.Code != api.CodeForbidden {
			t.Errorf("POST %s as user: %d %s, want 403 forbidden", path, rec.Code, rec.Body)
		}
	}
	// Reading is allowed to users.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/cloud/sources", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"rotate"`) {
		t.Errorf("GET sources as user: %d %s", rec.Code, rec.Body)
	}
	if e.srv.Requests() != reqs {
		t.Errorf("refused operations sent %d requests to the vault", e.srv.Requests()-reqs)
	}
	if evs := e.events(engine.OriginKeyward); len(evs) != 0 {
		t.Errorf("refused operations recorded %d events", len(evs))
	}
	// And an admin gets through the handler.
	caller = aliceAdmin
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/cloud/vault1/keys/acme-k/rotate", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("rotate as admin: %d %s", rec.Code, rec.Body)
	}
	if e.srv.Versions("acme-k") == nil || len(e.srv.Versions("acme-k")) != 2 {
		t.Errorf("admin rotation did not reach the vault: %v", e.srv.Versions("acme-k"))
	}
}
