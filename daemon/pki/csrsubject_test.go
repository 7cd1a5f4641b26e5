package pki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCSRSubjectIsOneCASigns: a CSR's common name and organization are at
// most 64 characters (RFC 5280's upper bounds, which OpenSSL enforces:
// "string too long: maxsize=64", and Microsoft's CA refuses) and hold no
// control characters (a newline or an escape in a subject forges lines
// wherever it is shown). Such a subject is refused before any key is made,
// naming the field; a pending key made before stays. Keyward used to make
// the CSR, which the CA then refused.
func TestCSRSubjectIsOneCASigns(t *testing.T) {
	f := Paths(t.TempDir(), "kms")
	if _, err := GenerateCSR(f, CSROptions{CommonName: "keyward.acme.example"}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(f.PendingKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    CSROptions
		want string
	}{
		{CSROptions{CommonName: strings.Repeat("a", 65)}, "common name (--cn) is 65 characters"},
		{CSROptions{CommonName: "ok", Organization: strings.Repeat("ü", 65)}, "organization (--o) is 65 characters"},
		{CSROptions{CommonName: "evil\nCN=admin"}, "common name (--cn) holds a control character"},
		{CSROptions{CommonName: "evil\x1b[2J"}, "common name (--cn) holds a control character"},
		{CSROptions{CommonName: "ok", Organization: "ACME\tCorp"}, "organization (--o) holds a control character"},
		{CSROptions{CommonName: "ok\xff"}, "not UTF-8"},
	} {
		_, err := GenerateCSR(f, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q / %q: %v, want an error saying %q", tc.o.CommonName, tc.o.Organization, err, tc.want)
		}
	}
	if after, err := os.ReadFile(f.PendingKey); err != nil || string(after) != string(before) {
		t.Errorf("a refused CSR replaced the pending key (%v)", err)
	}
	// 64 characters is a subject OpenSSL reads and would write itself.
	csr, err := GenerateCSR(f, CSROptions{CommonName: strings.Repeat("k", 64), Organization: strings.Repeat("ö", 64)})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := filepath.Join(t.TempDir(), "k.csr")
	if err := os.WriteFile(p, csr, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "req", "-in", p, "-noout", "-verify", "-subject").CombinedOutput(); err != nil || !strings.Contains(string(out), strings.Repeat("k", 64)) {
		t.Errorf("openssl req -verify: %v\n%s", err, out)
	}
}
