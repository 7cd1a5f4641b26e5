package pkitest

import (
	"bytes"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyward/keyward/daemon/pki"
)

// The keystore opens under its password to the certificate, the key and
// the chain it was given.
func TestPKCS12(t *testing.T) {
	ca, err := pki.NewCA("Acme Root")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Pair(t, certPEM, keyPEM)
	key, cert, chain, err := pkcs12.DecodeChain(PKCS12(t, certPEM, keyPEM, "s3cret", ca.Cert), "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if key == nil || !bytes.Equal(cert.Raw, want.Raw) || len(chain) != 1 || !bytes.Equal(chain[0].Raw, ca.Cert.Raw) {
		t.Fatalf("keystore holds %T, %s, chain of %d", key, cert.Subject, len(chain))
	}
}
