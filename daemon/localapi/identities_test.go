package localapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/pki/pkitest"
)

func TestIdentityCSRInstallShow(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(asAdmin(New(Services{Identities: pki.NewService(dir, []string{"kms"}, pki.ServiceOptions{})})))
	defer srv.Close()
	post := func(path string, in any) (*http.Response, []byte) {
		b, _ := json.Marshal(in)
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	if resp, body := post("/v1/kmip/nope/csr", api.CSRRequest{CommonName: "x"}); resp.StatusCode != 404 || !strings.Contains(string(body), "no KMIP source") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, body := post("/v1/kmip/kms/csr", api.CSRRequest{}); resp.StatusCode != 400 || !strings.Contains(string(body), "common name") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body := post("/v1/kmip/kms/csr", api.CSRRequest{CommonName: "proxy"})
	var csr api.CSRResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &csr) != nil || !strings.Contains(csr.CSR, "CERTIFICATE REQUEST") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := post("/v1/kmip/kms/csr", api.CSRRequest{CommonName: "proxy"}); resp.StatusCode != 409 {
		t.Fatalf("replacing the key without force: %d", resp.StatusCode)
	}
	ca, _ := pki.NewCA("root")
	signed, _ := ca.SignCSR([]byte(csr.CSR), false)
	if resp, body := post("/v1/kmip/kms/install", api.InstallCertRequest{CertPEM: string(signed), RootPEM: string(ca.PEM)}); resp.StatusCode != 400 || !strings.Contains(string(body), "clientAuth") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	signed, _ = ca.SignCSR([]byte(csr.CSR), true)
	if resp, body := post("/v1/kmip/kms/install", api.InstallCertRequest{CertPEM: string(signed), RootPEM: string(ca.PEM)}); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	r, err := http.Get(srv.URL + "/v1/kmip/kms/cert")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var info api.CertInfo
	json.NewDecoder(r.Body).Decode(&info)
	if r.StatusCode != 200 || !strings.Contains(info.Subject, "proxy") || !info.ClientAuth {
		t.Fatalf("cert info %+v", info)
	}
}

// p12For issues a client certificate with a new key and packs both into a
// PKCS#12 keystore under password.
func p12For(t *testing.T, ca *pki.CA, cn, password string) []byte {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(pki.IssueOptions{CommonName: cn, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	return pkitest.PKCS12(t, certPEM, keyPEM, password, ca.Cert)
}

// TestHandlerImportConflict: an import that would replace a different
// private key is refused with 409 conflict unless forced, like a CSR; the
// same keystore again is not a replacement; a wrong password is reported as
// such even when a key exists; the config's warning goes with the answer.
func TestIdentityImportConflict(t *testing.T) {
	dir := t.TempDir()
	const warning = `[[kmip]] "kms" sets cert_file = /etc/keyward/client.pem: ...`
	srv := httptest.NewServer(asAdmin(New(Services{Identities: pki.NewService(dir, []string{"kms"}, pki.ServiceOptions{Warnings: map[string]string{"kms": warning}})})))
	defer srv.Close()
	post := func(in api.ImportKeystoreRequest) (int, api.CertInfo, api.Error) {
		t.Helper()
		b, _ := json.Marshal(in)
		resp, err := http.Post(srv.URL+"/v1/kmip/kms/import", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var ci api.CertInfo
		var ae api.Error
		if resp.StatusCode == 200 {
			json.Unmarshal(buf.Bytes(), &ci)
		} else {
			json.Unmarshal(buf.Bytes(), &ae)
		}
		return resp.StatusCode, ci, ae
	}
	f := pki.Paths(dir, "kms")
	ca, _ := pki.NewCA("root")
	first, second := p12For(t, ca, "first", "pw"), p12For(t, ca, "second", "pw")

	code, ci, _ := post(api.ImportKeystoreRequest{Keystore: first, Password: "pw"})
	if code != 200 || !strings.Contains(ci.Subject, "first") || ci.KeyFile != f.Key || ci.Warning != warning {
		t.Fatalf("first import: %d %+v", code, ci)
	}
	firstKey, _ := os.ReadFile(f.Key)
	if code, _, ae := post(api.ImportKeystoreRequest{Keystore: second, Password: "wrong"}); code != 400 || !strings.Contains(ae.Message, "password") {
		t.Fatalf("wrong password with a key in place: %d %+v", code, ae)
	}
	code, _, ae := post(api.ImportKeystoreRequest{Keystore: second, Password: "pw"})
	if code != 409 || ae.Code != api.CodeConflict || !strings.Contains(ae.Message, "already has a different private key") {
		t.Fatalf("replacing the key without force: %d %+v", code, ae)
	}
	if b, _ := os.ReadFile(f.Key); !bytes.Equal(b, firstKey) {
		t.Fatal("the refused import replaced the private key")
	}
	if b, _ := os.ReadFile(f.Cert); !strings.Contains(string(b), "CERTIFICATE") {
		t.Fatal("the refused import removed the certificate")
	}
	if code, ci, ae := post(api.ImportKeystoreRequest{Keystore: first, Password: "pw"}); code != 200 || !strings.Contains(ci.Subject, "first") {
		t.Fatalf("the same keystore again (same key): %d %+v %+v", code, ci, ae)
	}
	if code, ci, ae := post(api.ImportKeystoreRequest{Keystore: second, Password: "pw", Force: true}); code != 200 || !strings.Contains(ci.Subject, "second") {
		t.Fatalf("forced import: %d %+v %+v", code, ci, ae)
	}
	if b, _ := os.ReadFile(f.Key); bytes.Equal(b, firstKey) {
		t.Fatal("the forced import kept the old private key")
	}
}

// asAdmin serves h with every caller an admin.
func asAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(api.WithCaller(r.Context(), api.Caller{User: "root", Role: api.RoleAdmin})))
	})
}
