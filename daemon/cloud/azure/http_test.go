package azure

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/engine"
)

// A body that is missing, null, not an object, followed by more data or
// carrying a field the endpoint does not know never reaches the vault:
// above all it never clears a key's rotation policy.
func TestCloudBodiesNeverMeanClearEverything(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.addKey(vault.KeySpec{Name: "acme-k"})
	e.mustSync()
	m := cloud.NewManager(e.st, newKEK(t), e.src)
	want := cloud.RotationPolicy{RotateAfter: engine.Duration(90 * 24 * time.Hour), ExpireAfter: engine.Duration(365 * 24 * time.Hour)}
	if _, err := m.SetRotationPolicy(e.ctx, alice, "vault1", "acme-k", want); err != nil {
		t.Fatal(err)
	}
	h := cloudAPI(m, func() api.Caller { return aliceAdmin })
	reqs := e.srv.Requests()
	for _, body := range []string{"", "  \n", "null", "[]", `"90d"`, `{"rotate_after":"30d"} {}`, `{"rotate_after":"30d"}null`, `{"rotate_afer":"30d"}`, `{}`, `{"clear":false}`, `{"clear":true,"rotate_after":"30d"}`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/cloud/vault1/keys/acme-k/policy", strings.NewReader(body)))
		var ae api.Error
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &ae) != nil || ae.Code != api.CodeBadRequest {
			t.Errorf("policy body %q: %d %s, want 400", body, rec.Code, rec.Body)
		}
	}
	for _, path := range []string{"/v1/cloud/vault1/keys/acme-k/delete", "/v1/cloud/vault1/keys", "/v1/cloud/backups/x/restore"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader("null")))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("POST %s with null: %d %s, want 400", path, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/cloud/sources?all=true", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "takes no query parameters") {
		t.Errorf("cloud route with a query parameter: %d %s", rec.Code, rec.Body)
	}
	if n := e.srv.Requests() - reqs; n != 0 {
		t.Errorf("refused bodies sent %d requests to the vault", n)
	}
	got, err := m.RotationPolicy(e.ctx, "vault1", "acme-k")
	if err != nil || *got != want {
		t.Fatalf("policy after refused bodies: %+v %v, want %+v", got, err, want)
	}
	// Clearing is an explicit act, and it works.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/cloud/vault1/keys/acme-k/policy", strings.NewReader(`{"clear":true}`)))
	if rec.Code != http.StatusOK {
		t.Fatalf(`{"clear":true}: %d %s`, rec.Code, rec.Body)
	}
	if got, err = m.RotationPolicy(e.ctx, "vault1", "acme-k"); err != nil || *got != (cloud.RotationPolicy{}) {
		t.Fatalf("policy after clear: %+v %v", got, err)
	}
}

// TestDeletedBackupIsAudited: deleting a backup keyward kept hands the
// audit hook a backup-deleted event naming the key and where it came
// from (it was recorded nowhere before); a refused delete hands it none.
func TestDeletedBackupIsAudited(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.addKey(vault.KeySpec{Name: "acme-k"})
	e.mustSync()
	m := cloud.NewManager(e.st, newKEK(t), e.src)
	bk, err := m.Backup(e.ctx, alice, "vault1", "acme-k")
	if err != nil {
		t.Fatal(err)
	}
	var heard []localapi.Action
	h := localapi.New(localapi.Services{Cloud: m, Audit: func(_ context.Context, a localapi.Action) { heard = append(heard, a) }})
	del := func() int {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodDelete, "/v1/cloud/backups/"+bk.ID, nil)
		h.ServeHTTP(rec, r.WithContext(api.WithCaller(r.Context(), aliceAdmin)))
		return rec.Code
	}
	if code := del(); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	if len(heard) != 1 || len(heard[0].Events) != 1 {
		t.Fatalf("the audit hook heard %+v, want one action with one event", heard)
	}
	ev := heard[0].Events[0]
	if ev.Operation != engine.OpBackupDeleted || ev.Source != "vault1" || ev.Stored || !strings.Contains(ev.Details, bk.ID) || !strings.Contains(ev.Details, "acme-k") {
		t.Errorf("backup-deleted event %+v", ev)
	}
	if code := del(); code != http.StatusNotFound || len(heard) != 2 || len(heard[1].Events) != 0 {
		t.Errorf("deleting it again: %d, heard %+v", code, heard[1:])
	}
}
