package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

func TestCSRThenInstall(t *testing.T) {
	f := Paths(t.TempDir(), "kms")
	csr, err := GenerateCSR(f, CSROptions{CommonName: "proxy.acme.example", Organization: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f.PendingKey)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file mode: %v", err)
	}
	blk, _ := pem.Decode(csr)
	req, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || req.Subject.CommonName != "proxy.acme.example" || req.Subject.Organization[0] != "Acme" {
		t.Fatalf("csr %+v %v", req, err)
	}
	if _, ok := req.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Fatalf("default key is %T, want ECDSA", req.PublicKey)
	}
	ca, _ := NewCA("Acme Root")
	other, _ := NewCA("Other Root")
	now := time.Now()

	signed, _ := ca.SignCSR(csr, true)
	noEKU, _ := ca.SignCSR(csr, false)
	foreign, _, _ := ca.Issue(IssueOptions{CommonName: "someone else", Client: true})
	expired, _, _ := ca.Issue(IssueOptions{CommonName: "proxy", Client: true, PublicKey: req.PublicKey,
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	cases := []struct {
		name       string
		cert, root []byte
		want       string
	}{
		{"different key", foreign, ca.PEM, "not issued for the key of this source's CSR"},
		{"other root", signed, other.PEM, "does not chain to the given root CA"},
		{"no clientAuth", noEKU, ca.PEM, "lacks the clientAuth extended key usage"},
		{"expired", expired, ca.PEM, "expired on"},
		{"not a certificate", []byte("hello"), ca.PEM, "neither PEM"},
		{"the CSR itself", csr, ca.PEM, "this is the CSR"},
		{"leaf as its own root", signed, signed, "the root given is the client certificate itself"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Install(f, c.cert, c.root, now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want %q", err, c.want)
			}
			if _, err := os.Stat(f.Cert); !os.IsNotExist(err) {
				t.Fatal("a rejected certificate was installed")
			}
		})
	}
	leaf, err := Install(f, signed, ca.PEM, now)
	if err != nil || leaf.Subject.CommonName != "proxy.acme.example" {
		t.Fatalf("install: %v", err)
	}
	// The installed identity loads for TLS.
	if _, err := LoadIdentity(f.Cert, f.Key, "", ""); err != nil {
		t.Fatal(err)
	}
}

func TestInstallWithoutCSR(t *testing.T) {
	f := Paths(t.TempDir(), "kms")
	ca, _ := NewCA("r")
	c, _, _ := ca.Issue(IssueOptions{CommonName: "x", Client: true})
	if _, err := Install(f, c, ca.PEM, time.Now()); err == nil || !strings.Contains(err.Error(), "keyward cert csr first") {
		t.Fatalf("error %v", err)
	}
}

func TestRSACSR(t *testing.T) {
	f := Paths(t.TempDir(), "kms")
	csr, err := GenerateCSR(f, CSROptions{CommonName: "p", RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(csr)
	req, _ := x509.ParseCertificateRequest(blk.Bytes)
	if KeyType(req.PublicKey) != "RSA 3072" {
		t.Fatalf("key %s", KeyType(req.PublicKey))
	}
}

// testIdentity returns a client key (PKCS#8 DER), its certificate and the CA.
func testIdentity(t testing.TB, client bool) ([]byte, *x509.Certificate, *CA) {
	ca, _ := NewCA("Acme Root")
	certPEM, keyPEM, err := ca.Issue(IssueOptions{CommonName: "keyward", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	cert, _ := x509.ParseCertificate(cb.Bytes)
	return kb.Bytes, cert, ca
}

func makeJKS(t testing.TB, keyDER []byte, chain []*x509.Certificate, pw []byte, trusted bool) []byte {
	ks := keystore.New()
	if keyDER != nil {
		var certs []keystore.Certificate
		for _, c := range chain {
			certs = append(certs, keystore.Certificate{Type: "X509", Content: c.Raw})
		}
		if err := ks.SetPrivateKeyEntry("client", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: keyDER, CertificateChain: certs}, pw); err != nil {
			t.Fatal(err)
		}
	}
	if trusted {
		if err := ks.SetTrustedCertificateEntry("root", keystore.TrustedCertificateEntry{CreationTime: time.Now(),
			Certificate: keystore.Certificate{Type: "X509", Content: chain[len(chain)-1].Raw}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, pw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportJKSAndPKCS12(t *testing.T) {
	keyDER, cert, ca := testIdentity(t, true)
	pw := []byte("changeit")
	key, _ := x509.ParsePKCS8PrivateKey(keyDER)
	jks := makeJKS(t, bytes.Clone(keyDER), []*x509.Certificate{cert, ca.Cert}, pw, true)
	p12, err := pkcs12.Modern.Encode(key, cert, []*x509.Certificate{ca.Cert}, string(pw))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"JKS": jks, "PKCS#12": p12} {
		t.Run(name, func(t *testing.T) {
			f := Paths(t.TempDir(), "kms")
			info, err := Import(f, data, pw, time.Now(), false)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != name || info.ChainLen != 2 || !info.ClientAuth || info.KeyType != "ECDSA P-256" || !strings.Contains(info.Subject, "keyward") {
				t.Fatalf("info %+v", info)
			}
			if name == "JKS" && (info.Alias != "client" || len(info.Other) != 1) {
				t.Fatalf("jks entries %+v", info)
			}
			if fi, _ := os.Stat(f.Key); fi.Mode().Perm() != 0o600 {
				t.Fatalf("key mode %v", fi.Mode())
			}
			c, err := LoadIdentity(f.Cert, f.Key, "", "")
			if err != nil || len(c.Certificate) != 2 {
				t.Fatalf("imported identity: %v", err)
			}
			// Wrong password says so.
			if _, _, err := ParseKeystore(data, []byte("wrong-password")); err == nil || !strings.Contains(err.Error(), "password") {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
	// Loaded straight from the keystore file with a password file.
	dir := t.TempDir()
	os.WriteFile(dir+"/ks.jks", jks, 0o600)
	os.WriteFile(dir+"/pw", []byte("changeit\n"), 0o600)
	c, err := LoadIdentity("", "", dir+"/ks.jks", dir+"/pw")
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf == nil || c.Leaf.Subject.CommonName != "keyward" {
		t.Fatal("identity from the keystore has no leaf certificate")
	}
}

func TestKeystoreProblemsAreExplained(t *testing.T) {
	keyDER, cert, ca := testIdentity(t, true)
	pw := []byte("changeit")
	otherDER, _, _ := testIdentity(t, true)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"only trusted certificates", makeJKS(t, nil, []*x509.Certificate{ca.Cert}, pw, true), "no private key entry"},
		{"certificate for another key", makeJKS(t, otherDER, []*x509.Certificate{cert}, pw, false), "not for the keystore's private key"},
		{"key without chain", makeJKS(t, keyDER, nil, pw, false), "no certificate chain"},
		{"PEM instead", []byte("-----BEGIN CERTIFICATE-----"), "not a JKS or PKCS#12"},
		{"empty", nil, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseKeystore(c.data, pw)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want %q", err, c.want)
			}
		})
	}
}

func FuzzParseKeystore(f *testing.F) {
	keyDER, cert, ca := testIdentity(f, true)
	key, _ := x509.ParsePKCS8PrivateKey(keyDER)
	f.Add(makeJKS(f, keyDER, []*x509.Certificate{cert, ca.Cert}, []byte("changeit"), true))
	p12, _ := pkcs12.Modern.Encode(key, cert, nil, "changeit")
	f.Add(p12)
	f.Add([]byte{0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 1})
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, c, err := ParseKeystore(data, []byte("changeit"))
		if err == nil && (info == nil || c.PrivateKey == nil || len(c.Certificate) == 0) {
			t.Fatal("success without an identity")
		}
		// By alias: the JKS entry walk, and the PKCS#12 reader by friendly
		// name (every bag, not only one key and its chain).
		info, c, err = OpenKeystore(data, []byte("changeit"), KeystoreOptions{Alias: "client", KeyPassword: []byte("keypass1")})
		if err == nil && (info == nil || info.Alias != "client" || c.PrivateKey == nil || len(c.Certificate) == 0) {
			t.Fatal("success by alias without that entry's identity")
		}
	})
}

// Each private key encoding parses under its PEM type, and a block of
// another type is not taken for a key.
func TestParseKeyBlock(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	p8, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	for _, c := range []struct {
		typ  string
		der  []byte
		want crypto.PublicKey
	}{{"PRIVATE KEY", p8, ec.Public()}, {"EC PRIVATE KEY", sec1, ec.Public()}, {"RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk), rk.Public()}} {
		k, ok, err := ParseKeyBlock(&pem.Block{Type: c.typ, Bytes: c.der})
		if s, _ := k.(crypto.Signer); !ok || err != nil || s == nil || !samePublicKey(s.Public(), c.want) {
			t.Errorf("%s: %T %v %v", c.typ, k, ok, err)
		}
		if k, ok, err := ParseKeyBlock(&pem.Block{Type: c.typ, Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}); !ok || err == nil || k != nil {
			t.Errorf("%s of garbage: %T %v %v", c.typ, k, ok, err)
		}
	}
	if k, ok, err := ParseKeyBlock(&pem.Block{Type: "CERTIFICATE", Bytes: p8}); ok || err != nil || k != nil {
		t.Errorf("a certificate block: %T %v %v", k, ok, err)
	}
}
