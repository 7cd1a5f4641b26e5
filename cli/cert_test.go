package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/pki/pkitest"
)

func certConfig(t *testing.T) (cfgPath, dataDir string) {
	// The socket comes from --socket or the config, never from a daemon the
	// environment points at.
	t.Setenv("KEYWARD_SOCKET", "")
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	cfgPath = filepath.Join(dir, "keyward.toml")
	cfg := "data_dir = \"" + dataDir + "\"\n[[kmip]]\nname = \"kms\"\naddresses = [\"127.0.0.1:5696\"]\n[[kmip.application]]\nname = \"crm\"\npattern = \"acme.crm.key.*\"\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dataDir
}

func TestCertCSRThenInstall(t *testing.T) {
	cfg, data := certConfig(t)
	code, csr, stderr := run(t, "--config", cfg, "cert", "csr", "--source", "kms", "--cn", "proxy.acme.example", "--o", "Acme")
	if code != 0 || !strings.Contains(csr, "BEGIN CERTIFICATE REQUEST") || !strings.Contains(stderr, "keyward cert install") {
		t.Fatalf("csr: %d %q %q", code, csr, stderr)
	}
	// No daemon on the config's socket: the files are written here, in one line.
	fallback := "keyward: no daemon answers at " + filepath.Join(data, "keyward.sock") + ": writing the identity files in " + filepath.Join(data, "kmip", "kms") + " directly\n"
	if !strings.HasPrefix(stderr, fallback) {
		t.Errorf("csr without a daemon does not say so first: %q", stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "kmip", "kms", "client.key.pending")); err != nil {
		t.Fatal(err)
	}
	// Twice without --force is refused: the key behind the CSR must not change silently.
	if code, _, stderr := run(t, "--config", cfg, "cert", "csr", "--source", "kms", "--cn", "x"); code != 1 || !strings.Contains(stderr, "--force") {
		t.Fatalf("second csr: %d %q", code, stderr)
	}
	ca, _ := pki.NewCA("Acme Root")
	other, _ := pki.NewCA("Other Root")
	signed, err := ca.SignCSR([]byte(csr), true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(n string, b []byte) string { p := filepath.Join(dir, n); os.WriteFile(p, b, 0o600); return p }
	certF, rootF, otherF := write("signed.pem", signed), write("root.pem", ca.PEM), write("other.pem", other.PEM)

	code, _, stderr = run(t, "--config", cfg, "cert", "install", "--source", "kms", "--cert", certF, "--ca", otherF)
	if code != 1 || !strings.Contains(stderr, "does not chain to the given root CA") {
		t.Fatalf("install with the wrong root: %d %q", code, stderr)
	}
	code, out, stderr := run(t, "--config", cfg, "cert", "install", "--source", "kms", "--cert", certF, "--ca", rootF)
	if code != 0 || !strings.Contains(out, "proxy.acme.example") {
		t.Fatalf("install: %d %q %q", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "kmip", "kms", "client.crt")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "--config", cfg, "cert", "csr", "--source", "nope", "--cn", "x"); code != 2 || !strings.Contains(stderr, `no [[kmip]] source named "nope"`) {
		t.Fatalf("unknown source: %d %q", code, stderr)
	}
}

func TestCertImportPKCS12(t *testing.T) {
	cfg, data := certConfig(t)
	ca, _ := pki.NewCA("Acme Root")
	certPEM, keyPEM, _ := ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	p12 := pkitest.PKCS12(t, certPEM, keyPEM, "s3cret", ca.Cert)
	dir := t.TempDir()
	ks := filepath.Join(dir, "client.p12")
	os.WriteFile(ks, p12, 0o600)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	if code, _, stderr := run(t, "--config", cfg, "cert", "import", "--source", "kms", ks, "--password-file", pw); code != 1 || !strings.Contains(stderr, "wrong password") {
		t.Fatalf("wrong password: %d %q", code, stderr)
	}
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	code, out, stderr := run(t, "--config", cfg, "cert", "import", "--source", "kms", ks, "--password-file", pw)
	if code != 0 || !strings.Contains(out, "PKCS#12 keystore") || !strings.Contains(out, "chain of 2") {
		t.Fatalf("import: %d %q %q", code, out, stderr)
	}
	keyFile := filepath.Join(data, "kmip", "kms", "client.key")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("imported key: %v", err)
	}
	imported, _ := os.ReadFile(keyFile)
	// The same keystore again replaces nothing: no --force needed.
	if code, _, stderr := run(t, "--config", cfg, "cert", "import", "--source", "kms", ks, "--password-file", pw); code != 0 {
		t.Fatalf("the same keystore again: %d %q", code, stderr)
	}
	// Another keystore would replace the key: refused without --force, like csr.
	other := keystore(t, ca, dir, "other", "s3cret")
	code, _, stderr = run(t, "--config", cfg, "cert", "import", "--source", "kms", other, "--password-file", pw)
	if code != 1 || !strings.Contains(stderr, keyFile+" already holds a private key other than the keystore's; pass --force") {
		t.Fatalf("import over another key: %d %q", code, stderr)
	}
	if b, _ := os.ReadFile(keyFile); !bytes.Equal(b, imported) {
		t.Fatal("the refused import replaced the key")
	}
	if code, _, stderr := run(t, "--config", cfg, "cert", "import", "--source", "kms", other, "--password-file", pw, "--force"); code != 0 {
		t.Fatalf("import --force: %d %q", code, stderr)
	}
	if b, _ := os.ReadFile(keyFile); bytes.Equal(b, imported) {
		t.Fatal("the forced import kept the old key")
	}
}

// TestCertLocalWarnsOwnIdentity: without a daemon, a source whose section
// names its own keystore gets the identity all the same, with a one-line
// warning that the daemon will not present it.
func TestCertLocalWarnsOwnIdentity(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keyward.toml")
	toml := "data_dir = \"" + filepath.Join(dir, "data") + "\"\n[[kmip]]\nname = \"kms\"\naddresses = [\"127.0.0.1:5696\"]\n" +
		"keystore_file = \"/etc/keyward/client.p12\"\npassword_file = \"/etc/keyward/p12.pw\"\n[[kmip.application]]\nname = \"crm\"\npattern = \"acme.crm.key.*\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "--config", cfg, "cert", "csr", "--source", "kms", "--cn", "proxy")
	want := `keyward: warning: [[kmip]] "kms" sets keystore_file = /etc/keyward/client.p12: the daemon presents that identity, not the one installed here`
	if code != 0 || strings.Count(stderr, "warning") != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("csr: %d %q", code, stderr)
	}
}

// TestCertLocalRefusesASymlinkedDirectory: without a daemon, the identity
// is written only into a real <data_dir>/kmip/<source> directory, never
// through a link to somewhere else.
func TestCertLocalRefusesASymlinkedDirectory(t *testing.T) {
	cfg, data := certConfig(t)
	elsewhere := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "kmip"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(data, "kmip", "kms")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "--config", cfg, "cert", "csr", "--source", "kms", "--cn", "proxy.acme.example")
	if code == 0 || !strings.Contains(stderr, "is a symbolic link") {
		t.Fatalf("csr through a symlinked directory: exit %d %q", code, stderr)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("files were written through the link: %v", entries)
	}
}
