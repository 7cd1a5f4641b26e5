package pki

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

func TestHandlerCSRInstallShow(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(Handler(dir, []string{"kms"}, nil))
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
	ca, _ := NewCA("root")
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
