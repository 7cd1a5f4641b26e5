package azure

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

// A body that is missing, null, not an object, followed by more data or
// carrying a field the endpoint does not know never reaches the vault:
// above all it never clears a key's rotation policy.
func TestCloudBodiesNeverMeanClearEverything(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	if err := e.srv.AddKey(vault.KeySpec{Name: "acme-k"}); err != nil {
		t.Fatal(err)
	}
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
