package azure

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

const (
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClient = "11111111-2222-3333-4444-555555555555"
)

// fakeEntra is a stand-in for Entra ID's OAuth endpoints (there is no
// Entra ID here) so the real azidentity ClientSecretCredential runs end to
// end: tenant discovery, then the client-credentials token request.
type fakeEntra struct {
	srv     *httptest.Server
	token   string
	expired atomic.Bool
	asked   atomic.Int32
}

func newFakeEntra(t *testing.T, token string) *fakeEntra {
	f := &fakeEntra{token: token}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "https://" + r.Host + "/" + testTenant
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
			_ = json.NewEncoder(w).Encode(map[string]any{"token_endpoint": base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0"})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			f.asked.Add(1)
			_ = r.ParseForm()
			if f.expired.Load() || r.PostForm.Get("client_secret") != "s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_codes": []int{7000222},
					"error_description": "AADSTS7000222: The provided client secret keys for app '" + testClient + "' are expired. Visit the Azure portal to create new keys for your app."})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": f.token, "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// A client-secret source gets its token from (fake) Entra ID through the
// real azidentity credential and syncs; an expired secret makes a degraded
// source whose reason carries the AADSTS code.
func TestClientSecretCredentialEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := vault.Start(ctx, vault.Options{Tenant: testTenant})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.AddKey(vault.KeySpec{Name: "acme-id"}); err != nil {
		t.Fatal(err)
	}
	entra := newFakeEntra(t, srv.Token)
	pool := srv.CertPool()
	pool.AddCert(entra.srv.Certificate())
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, vault.Options{}, false) // only for its store
	sec := Settings{Name: "secret-vault", VaultURL: srv.URL, TenantID: testTenant, ClientID: testClient, SecretFile: secret}
	conn, err := New(sec, WithRootCAs(pool), WithAuthority(entra.srv.URL), WithRetries(-1), WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	src := cloud.NewSyncSource("secret-vault", conn, time.Hour, nil)
	sink := cloudtest.Attach(t, e.st, src)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatalf("sync with a good secret: %v", err)
	}
	if entra.asked.Load() == 0 {
		t.Fatal("the credential never asked the identity provider")
	}
	if h, _ := sink.Health(); h != engine.HealthOK {
		t.Errorf("health %s", h)
	}

	// The secret expires; a restarted daemon cannot get a token.
	entra.expired.Store(true)
	conn2, err := New(sec, WithRootCAs(pool), WithAuthority(entra.srv.URL), WithRetries(-1), WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	src2 := cloud.NewSyncSource("secret-vault", conn2, time.Hour, nil)
	src2.Attach(sink)
	err = src2.SyncNow(ctx)
	if !errors.Is(err, cloud.ErrCredential) {
		t.Fatalf("sync with an expired secret: %v, want a credential error", err)
	}
	h, reason := sink.Health()
	if h != engine.HealthDegraded || !strings.Contains(reason, "AADSTS7000222") || !strings.Contains(reason, "Entra ID refused the credential") {
		t.Errorf("health %s %q, want degraded naming AADSTS7000222", h, reason)
	}
	t.Logf("degraded reason: %s", reason)
	if strings.Contains(reason, "s3cret") {
		t.Error("the reason leaks the secret")
	}
}
