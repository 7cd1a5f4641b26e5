package gcp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
)

// TestValidate: each wrong value is named with what to write instead.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		s    Settings
		want string // "" = valid
	}{
		{Settings{Project: "acme-prod-kms"}, ""},
		{Settings{Project: "123456789012", Locations: []string{"europe-west1", "us"}, KeyRings: []string{"us/signing", "payments"}}, ""},
		{Settings{}, "project: is required"},
		{Settings{Project: "Acme"}, "is not a project ID"},
		{Settings{Project: "acme-prod-kms", Locations: []string{"all", "us"}}, "\"all\" must be alone"},
		{Settings{Project: "acme-prod-kms", Locations: []string{"Europe West"}}, "is not a Cloud KMS location"},
		{Settings{Project: "acme-prod-kms", Locations: []string{"us"}, KeyRings: []string{"europe-west1/r"}}, "which locations leaves out"},
		{Settings{Project: "acme-prod-kms", KeyRings: []string{"bad ring"}}, "key ring ID is 1 to 63"},
		{Settings{Project: "acme-prod-kms", Credential: CredServiceAccount}, "credentials_file: is required"},
		{Settings{Project: "acme-prod-kms", Credential: CredDefault, CredentialsFile: "/x"}, "is not read with credential \"default\""},
		{Settings{Project: "acme-prod-kms", Credential: CredNone}, "only for a loopback endpoint"},
		{Settings{Project: "acme-prod-kms", Credential: CredNone, Endpoint: "127.0.0.1:9"}, ""},
		{Settings{Project: "acme-prod-kms", Credential: CredNone, Endpoint: "cloudkms.googleapis.com:443"}, "only for a loopback endpoint"},
		{Settings{Project: "acme-prod-kms", Credential: "token"}, "is not one of service-account"},
		{Settings{Project: "acme-prod-kms", Endpoint: "cloudkms.googleapis.com"}, "is not host:port"},
		{Settings{Project: "acme-prod-kms", HTTPSProxy: "proxy:3128"}, "is not a proxy URL"},
		{Settings{Project: "acme-prod-kms", CreateIn: "ring"}, "is not location/ring"},
		{Settings{Project: "acme-prod-kms", FullRefreshEvery: -1}, "must not be negative"},
	} {
		errs := c.s.Validate("gcp[0]")
		got := strings.Join(errs, "\n")
		if c.want == "" && len(errs) > 0 || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%+v: got %q, want %q", c.s, got, c.want)
		}
	}
}

func serviceAccountJSON(t testing.TB) []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	b, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "acme-prod-kms", "private_key_id": "abc",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": "keyward@acme-prod-kms.iam.gserviceaccount.com",
		"token_uri": "https://oauth2.googleapis.com/token"})
	return b
}

// TestCredentialsFile: a service-account key readable by others is
// refused with the fix, a file of the other type is named, and no error
// shows the private key.
func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	sa := serviceAccountJSON(t)
	path := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(path, sa, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Settings{Name: "g", Project: "acme-prod-kms", CredentialsFile: path}
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a 0644 key file: %v", err)
	}
	os.Chmod(path, 0o600)
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("a 0600 key file: %v", err)
	}
	p.Close()
	if _, err := ParseCredentials(CredWorkloadIdentity, sa); err == nil || !strings.Contains(err.Error(), "use credential \"service-account\"") {
		t.Errorf("a key file as workload identity: %v", err)
	}
	var m map[string]string
	json.Unmarshal(sa, &m)
	m["private_key"] = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
	bad, _ := json.Marshal(m)
	_, err = ParseCredentials(CredServiceAccount, bad)
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") || !strings.Contains(err.Error(), "not a PKCS#8 private key") {
		t.Errorf("a broken private key: %v", err)
	}
	ext := []byte(`{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","credential_source":{"file":"/var/run/token"}}`)
	if _, err := ParseCredentials(CredWorkloadIdentity, ext); err != nil {
		t.Errorf("a workload identity configuration: %v", err)
	}
}

// FuzzParseCredentials: no input panics, and an error never repeats a
// private key's text.
func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte(serviceAccountJSON(f)))
	f.Add([]byte(`{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"t","credential_source":{}}`))
	f.Add([]byte(`{"type":"service_account","private_key":"SECRETSECRET","client_email":"a@b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []string{CredServiceAccount, CredWorkloadIdentity} {
			_, err := ParseCredentials(kind, b)
			var m struct {
				PrivateKey string `json:"private_key"`
			}
			if err != nil && json.Unmarshal(b, &m) == nil && len(m.PrivateKey) >= 8 && strings.Contains(err.Error(), m.PrivateKey) {
				t.Fatalf("the error shows the private key: %v", err)
			}
		}
	})
}

// FuzzParseName: no input panics, and a name that parses builds back
// into itself.
func FuzzParseName(f *testing.F) {
	f.Add(gcpname.KindVersion, "projects/acme-prod-kms/locations/europe-west1/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3")
	f.Add(gcpname.KindImportJob, "projects/1/locations/us/keyRings/r/importJobs/j")
	f.Add(gcpname.KindCryptoKey, "projects//locations/x")
	f.Fuzz(func(t *testing.T, kind, s string) {
		n, err := gcpname.ParseName(kind, s)
		if err != nil {
			return
		}
		if kind == gcpname.KindCryptoKey && gcpname.CryptoKeyName(n.Project, n.Location, n.KeyRing, n.CryptoKey) != s {
			t.Fatalf("%q parsed as %+v", s, n)
		}
	})
}

// FuzzLabels: a tag value survives the trip through Google's label
// alphabet, and what is written is a valid label value.
func FuzzLabels(f *testing.F) {
	f.Add("kms/acme.crm.key.5")
	f.Add("_zz_4")
	f.Fuzz(func(t *testing.T, v string) {
		e := escapeLabel(v)
		for i := 0; i < len(e); i++ {
			c := e[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				t.Fatalf("%q escaped to %q", v, e)
			}
		}
		if got := unescapeLabel(e); got != v {
			t.Fatalf("%q → %q → %q", v, e, got)
		}
		_ = unescapeLabel(v)
	})
}
