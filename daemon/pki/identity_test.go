package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCSRKeepsTheLiveIdentity: a new CSR's key waits as pending; the live
// key and certificate load as before until the certificate signed for the
// new key is installed, which makes it live.
func TestCSRKeepsTheLiveIdentity(t *testing.T) {
	dir := t.TempDir()
	f := Paths(dir, "kms")
	ca, _ := NewCA("Acme Root")
	csr1, err := GenerateCSR(f, CSROptions{CommonName: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if Pending(f) == nil || !strings.Contains(Pending(f).Subject, "first") {
		t.Fatalf("pending %+v", Pending(f))
	}
	signed1, _ := ca.SignCSR(csr1, true)
	if _, err := Install(f, signed1, ca.PEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	if Pending(f) != nil {
		t.Fatal("the installed key is still pending")
	}
	spec := Spec{Installed: f}
	live := func() string {
		t.Helper()
		c, err := spec.Load()
		if err != nil {
			t.Fatalf("the live identity does not load: %v", err)
		}
		return c.Leaf.Subject.CommonName
	}
	if live() != "first" {
		t.Fatal("not the first identity")
	}
	// A second CSR (csr --force): the first identity keeps working.
	csr2, err := GenerateCSR(f, CSROptions{CommonName: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if live() != "first" {
		t.Fatal("a new CSR replaced the live identity before its certificate was installed")
	}
	if p := Pending(f); p == nil || !strings.Contains(p.Subject, "second") || p.KeyType != "ECDSA P-256" {
		t.Fatalf("pending %+v", p)
	}
	// A renewal of the live key is still accepted while a key is pending.
	blk, _ := pem.Decode(csr1)
	req1, _ := x509.ParseCertificateRequest(blk.Bytes)
	renewed, _, _ := ca.Issue(IssueOptions{CommonName: "first", Client: true, PublicKey: req1.PublicKey})
	if _, err := Install(f, renewed, ca.PEM, time.Now()); err != nil {
		t.Fatalf("renewal of the live key: %v", err)
	}
	if live() != "first" || Pending(f) == nil {
		t.Fatal("a renewal touched the pending key")
	}
	signed2, _ := ca.SignCSR(csr2, true)
	if _, err := Install(f, signed2, ca.PEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	if live() != "second" || Pending(f) != nil {
		t.Fatalf("after installing the second certificate: live %s, pending %+v", live(), Pending(f))
	}
}

// caVariant makes a self-signed "root" with the given constraints.
func caVariant(t *testing.T, cn string, isCA bool, usage x509.KeyUsage) (*CA, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour * 24), IsCA: isCA, BasicConstraintsValid: true, KeyUsage: usage}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, der
}

func TestInstallRootMustBeACA(t *testing.T) {
	notCA, _ := caVariant(t, "not a CA", false, x509.KeyUsageCertSign)
	noSign, _ := caVariant(t, "no certSign", true, x509.KeyUsageDigitalSignature)
	for _, c := range []struct {
		name string
		ca   *CA
		want string
	}{
		{"no CA basic constraint", notCA, "is not a CA certificate"},
		{"key usage without certSign", noSign, "may not sign certificates"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Paths(t.TempDir(), "kms")
			csr, _ := GenerateCSR(f, CSROptions{CommonName: "p"})
			signed, err := c.ca.SignCSR(csr, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Install(f, signed, c.ca.PEM, time.Now()); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want %q", err, c.want)
			}
		})
	}
}

// TestInstallReadsDER: certificates in DER (one, or a chain concatenated)
// are read and stored as PEM; other binary files are named.
func TestInstallReadsDER(t *testing.T) {
	f := Paths(t.TempDir(), "kms")
	ca, _ := NewCA("Acme Root")
	csr, _ := GenerateCSR(f, CSROptions{CommonName: "der"})
	signed, _ := ca.SignCSR(csr, true)
	blk, _ := pem.Decode(signed)
	rootBlk, _ := pem.Decode(ca.PEM)
	keyDER, _, _ := testIdentity(t, true)
	csrBlk, _ := pem.Decode(csr)
	for _, c := range []struct {
		name       string
		cert, root []byte
		want       string
	}{
		{"a private key", keyDER, rootBlk.Bytes, "a private key in DER"},
		{"the CSR", csrBlk.Bytes, rootBlk.Bytes, "certificate signing request in DER"},
		{"a PKCS#7 bundle", pkcs7Stub(), rootBlk.Bytes, "PKCS#7 bundle"},
		{"random bytes", []byte{0x01, 0x02}, rootBlk.Bytes, "neither PEM"},
	} {
		if _, err := Install(f, c.cert, c.root, time.Now()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: error %v; want %q", c.name, err, c.want)
		}
	}
	chain := append(append([]byte{}, blk.Bytes...), rootBlk.Bytes...)
	leaf, err := Install(f, chain, rootBlk.Bytes, time.Now())
	if err != nil || leaf.Subject.CommonName != "der" {
		t.Fatalf("DER install: %v", err)
	}
	stored, _ := os.ReadFile(f.Cert)
	if !strings.HasPrefix(string(stored), "-----BEGIN CERTIFICATE-----") || strings.Count(string(stored), "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("stored certificate is not the PEM chain:\n%s", stored)
	}
	if _, err := LoadIdentity(f.Cert, f.Key, "", ""); err != nil {
		t.Fatal(err)
	}
}

// pkcs7Stub is the start of a PKCS#7 SignedData (what a .p7b holds).
func pkcs7Stub() []byte {
	return []byte{0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x02, 0x30, 0x00}
}

// keytool runs the JDK's keytool (the tool that writes the JKS and PKCS#12
// files administrators bring); skipped where it is not installed.
func keytool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("keytool")
	if err != nil {
		t.Skip("keytool (a JDK) is not installed")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("keytool %v: %v\n%s", args, err, out)
	}
}

// TestKeytoolKeystoresWithAliasesAndKeyPasswords: keystores written by
// keytool with two private keys need an alias; a JKS entry with a password
// of its own needs that password, and the error says so.
func TestKeytoolKeystoresWithAliasesAndKeyPasswords(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []string{"JKS", "PKCS12"} {
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join(dir, "two."+typ)
			for _, alias := range []string{"old", "new"} {
				keytool(t, "-genkeypair", "-storetype", typ, "-keystore", path, "-storepass", "storepw", "-keypass", "storepw",
					"-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN="+alias+"-client", "-validity", "30")
			}
			data, _ := os.ReadFile(path)
			_, _, err := OpenKeystore(data, []byte("storepw"), KeystoreOptions{})
			if err == nil || !strings.Contains(err.Error(), `"old"`) || !strings.Contains(err.Error(), "--alias") {
				t.Fatalf("two keys without an alias: %v", err)
			}
			info, cert, err := OpenKeystore(data, []byte("storepw"), KeystoreOptions{Alias: "new"})
			if err != nil || cert.Leaf.Subject.CommonName != "new-client" || info.Alias != "new" {
				t.Fatalf("alias new: %+v %v", info, err)
			}
			if _, _, err := OpenKeystore(data, []byte("storepw"), KeystoreOptions{Alias: "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
				t.Fatalf("unknown alias: %v", err)
			}
		})
	}
	t.Run("JKS key password", func(t *testing.T) {
		path := filepath.Join(dir, "own.jks")
		keytool(t, "-genkeypair", "-storetype", "JKS", "-keystore", path, "-storepass", "storepw", "-keypass", "keypass1",
			"-alias", "client", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=own-password", "-validity", "30")
		data, _ := os.ReadFile(path)
		if _, _, err := OpenKeystore(data, []byte("storepw"), KeystoreOptions{}); err == nil || !strings.Contains(err.Error(), "--key-password-file") {
			t.Fatalf("own key password not given: %v", err)
		}
		if _, _, err := OpenKeystore(data, []byte("storepw"), KeystoreOptions{KeyPassword: []byte("wrong")}); err == nil || !strings.Contains(err.Error(), "wrong key password") {
			t.Fatalf("wrong key password: %v", err)
		}
		_, cert, err := OpenKeystore(data, []byte("storepw"), KeystoreOptions{KeyPassword: []byte("keypass1")})
		if err != nil || cert.Leaf.Subject.CommonName != "own-password" {
			t.Fatalf("with the key password: %v", err)
		}
		// The same from files, as keystore_file, key_password_file and keystore_alias do.
		os.WriteFile(filepath.Join(dir, "pw"), []byte("storepw\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "kpw"), []byte("keypass1\n"), 0o600)
		c, err := Spec{KeystoreFile: path, PasswordFile: filepath.Join(dir, "pw"), KeyPasswordFile: filepath.Join(dir, "kpw"), Alias: "client"}.Load()
		if err != nil || c.Leaf.Subject.CommonName != "own-password" {
			t.Fatalf("spec: %v", err)
		}
	})
}

func FuzzParseCerts(f *testing.F) {
	ca, _ := NewCA("r")
	blk, _ := pem.Decode(ca.PEM)
	f.Add(ca.PEM)
	f.Add(blk.Bytes)
	f.Add(pkcs7Stub())
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCerts(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("success without a certificate")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error without words")
		}
	})
}

// TestLoadIdentityFiles: cert_file and key_file in DER are read; an empty
// or foreign key file is an error naming the file, never a panic.
func TestLoadIdentityFiles(t *testing.T) {
	dir := t.TempDir()
	keyDER, cert, _ := testIdentity(t, true)
	write := func(n string, b []byte) string {
		p := filepath.Join(dir, n)
		os.WriteFile(p, b, 0o600)
		return p
	}
	c, err := LoadIdentity(write("c.der", cert.Raw), write("k.der", keyDER), "", "")
	if err != nil || c.Leaf.Subject.CommonName != "keyward" {
		t.Fatalf("DER identity: %v", err)
	}
	otherDER, _, _ := testIdentity(t, true)
	for name, key := range map[string][]byte{"empty": nil, "garbage": []byte("not a key"), "another key": otherDER} {
		p := write(name+".key", key)
		if _, err := LoadIdentity(filepath.Join(dir, "c.der"), p, "", ""); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
