package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
)

// clientCA is a CA that issues client certificates.
type clientCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newClientCA(t *testing.T, name string) clientCA {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return clientCA{c, k}
}

func (ca clientCA) write(t *testing.T, file string) {
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue makes a client certificate with the clientAuth extended key usage.
func (ca clientCA) issue(t *testing.T, cn string) tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// TestMutualTLSListener: with client_ca_file the proxy answers only clients
// that present a certificate from that CA, in a real TLS handshake.
func TestMutualTLSListener(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	dir := t.TempDir()
	certFile, keyFile, serverPool := selfSigned(t, dir)
	ca, other := newClientCA(t, "clients"), newClientCA(t, "someone else")
	caFile := filepath.Join(dir, "clients.pem")
	ca.write(t, caFile)

	app := crmApp(up.URL)
	app.TLSCert, app.TLSKey, app.ClientCAFile = certFile, keyFile, caFile
	m := startProxy(t, keys.rings, &recorder{}, app)
	u := "https://" + m.Addr("crm") + "/records"
	do := func(certs ...tls.Certificate) (int, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverPool, Certificates: certs}}}
		resp, err := c.Post(u, "application/json", strings.NewReader(`{"ssn":"123-45-6789"}`))
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := do(ca.issue(t, "crm-frontend")); err != nil || code != 200 {
		t.Fatalf("a client with a certificate of the CA: %d %v", code, err)
	}
	if code, err := do(); err == nil {
		t.Fatalf("a client without a certificate got %d", code)
	}
	if code, err := do(other.issue(t, "intruder")); err == nil {
		t.Fatalf("a client with another CA's certificate got %d", code)
	}
	if n := len(up.seen()); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1", n)
	}

	// A bundle with no certificate stops the start with the key's name.
	bad := crmApp(up.URL)
	bad.Listen = "127.0.0.1:0"
	bad.TLSCert, bad.TLSKey, bad.ClientCAFile = certFile, keyFile, keyFile
	bm, err := NewManager(config.Proxy{Apps: []config.ProxyApp{bad}}, keys.rings, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bm.closeApps()
	if err := bm.Listen(); err == nil || !strings.Contains(err.Error(), "client_ca_file") {
		t.Fatalf("a client_ca_file without certificates: %v", err)
	}
}
