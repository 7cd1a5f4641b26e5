// Package pkitest is what tests of client identities share: a PEM
// certificate and key (as pki.CA.Issue makes them) parsed, or packed into
// the PKCS#12 keystore an administrator brings.
package pkitest

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// Pair parses a PEM certificate and its PEM PKCS#8 private key: the
// certificate, and the key's DER.
func Pair(tb testing.TB, certPEM, keyPEM []byte) (*x509.Certificate, []byte) {
	tb.Helper()
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		tb.Fatal("pkitest.Pair: the certificate or the key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, kb.Bytes
}

// PKCS12 packs a PEM certificate and its PEM PKCS#8 private key into a
// PKCS#12 keystore under password, with chain after the certificate.
func PKCS12(tb testing.TB, certPEM, keyPEM []byte, password string, chain ...*x509.Certificate) []byte {
	tb.Helper()
	cert, keyDER := Pair(tb, certPEM, keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		tb.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(key, cert, chain, password)
	if err != nil {
		tb.Fatal(err)
	}
	return p12
}
