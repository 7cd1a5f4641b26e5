package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestPyKMIPWithRSAServerCert: PyKMIP with an RSA server certificate offers
// only TLS_RSA_WITH_AES_128_CBC_SHA256 of what Go knows. The error says what
// keyward offered, what the KMS chose and what to set; with that
// cipher_suites the source polls, and status warns that it is weaker.
func TestPyKMIPWithRSAServerCert(t *testing.T) {
	t.Parallel()
	b := pykmipBackendOpts(t, true)
	b.create(t, "acme.crm.key.1")
	e := newEnv(t, b, "", nil, crmApp)
	err := e.poll()
	for _, want := range []string{"no cipher suite in common", "keyward offered TLS 1.2 and 1.3, with Go's default TLS 1.2 suites",
		"the KMS (certificate RSA 3072, CN=localhost) chose TLS 1.2 with TLS_RSA_WITH_AES_128_CBC_SHA256",
		`set cipher_suites = ["TLS_RSA_WITH_AES_128_CBC_SHA256"] (weaker`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v\nwant it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ECDHE-ECDSA") {
		t.Fatalf("the error still blames ECDSA-only suites: %v", err)
	}
	e.cfg.CipherSuites = []string{"TLS_RSA_WITH_AES_128_CBC_SHA256"}
	src := e.rebuild()
	e.mustPoll()
	if got := e.ringNames("crm"); len(got) != 1 {
		t.Fatalf("ring %v", got)
	}
	if w := src.Client().Warning; !strings.Contains(w, "TLS_RSA_WITH_AES_128_CBC_SHA256, weaker than the default") || !strings.Contains(w, "forward secrecy") {
		t.Fatalf("status warning %q", w)
	}
}

// tlsServer listens with cfg and a server certificate from ca for
// 127.0.0.1 (o sets its key type and dates) and completes handshakes; it
// returns a backend for newEnv, with a client identity from ca.
func tlsServer(t *testing.T, ca *pki.CA, o pki.IssueOptions, cfg *tls.Config) *backend {
	t.Helper()
	o.CommonName, o.IPs, o.Server = "kms.test", []net.IP{net.ParseIP("127.0.0.1")}, true
	certPEM, keyPEM, _ := ca.Issue(o)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Accept(t, ln, func(c net.Conn) {
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	})
	dir := t.TempDir()
	cliCert, cliKey, _ := ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	b := &backend{addr: ln.Addr().String(), caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "c.pem"), keyFile: filepath.Join(dir, "c.key")}
	os.WriteFile(b.caFile, ca.PEM, 0o600)
	os.WriteFile(b.certFile, cliCert, 0o600)
	os.WriteFile(b.keyFile, cliKey, 0o600)
	return b
}

// TestNegotiationErrorsSayWhatToChange: real TLS servers that speak only
// TLS 1.1, only TLS 1.2 (against tls_min_version 1.3), or only a CBC-SHA256
// suite; each error names what keyward offered, what the server chose, and
// the setting to change.
func TestNegotiationErrorsSayWhatToChange(t *testing.T) {
	ca, _ := pki.NewCA("root")
	for _, tc := range []struct {
		name    string
		rsa     bool
		server  *tls.Config
		min     string
		suites  []string
		want    []string
		connect bool // with the advice applied, the handshake succeeds
	}{
		{"server speaks TLS 1.1 at most", false, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "", nil,
			[]string{"no TLS version in common", "chose TLS 1.1", "the KMS must be upgraded"}, false},
		{"tls_min_version 1.3 against a TLS 1.2 server", false, &tls.Config{MaxVersion: tls.VersionTLS12}, "1.3", nil,
			[]string{"no TLS version in common", "keyward offered TLS 1.3 only", "chose TLS 1.2", `set tls_min_version = "1.2"`}, false},
		{"server offers only ECDHE-RSA CBC-SHA256", true, &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}}, "", nil,
			[]string{"no cipher suite in common", "certificate RSA 3072, CN=kms.test", `set cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"]`}, false},
		{"the suite named in cipher_suites", true, &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}}, "", []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvCfg := tc.server.Clone()
			b := tlsServer(t, ca, pki.IssueOptions{RSA: tc.rsa}, srvCfg)
			e := newEnv(t, b, "", nil, crmApp)
			e.cfg.TLSMinVersion, e.cfg.CipherSuites = tc.min, tc.suites
			src, err := New(e.cfg, e.deps)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = src.connect(ctx)
			if tc.connect {
				// The handshake passed; what fails is KMIP (this server
				// says nothing), not TLS.
				if err != nil && negotiationFailed(errors.Unwrap(err)) {
					t.Fatalf("still no agreement: %v", err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("error %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}

// TestHandshakeFailureWithAgreeableSettingsBlamesTheCertificate: when the
// probe shows the KMS accepts what keyward offers, a handshake failure is
// about the client certificate, and says so.
func TestHandshakeFailureWithAgreeableSettingsBlamesTheCertificate(t *testing.T) {
	ca, _ := pki.NewCA("Acme Root")
	certPEM, _, _ := ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	leaf, _ := pki.Leaf(certPEM)
	srv := serverTLS{version: tls.VersionTLS12, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, certKey: "ECDSA P-256", subject: "CN=kms"}
	got := negotiationAdvice(errors.New("remote error: tls: handshake failure"), offer{min: tls.VersionTLS12}, srv, leaf)
	for _, w := range []string{"although it accepts what keyward offers", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", `does not accept the client certificate "keyward" issued by "Acme Root"`} {
		if !strings.Contains(got, w) {
			t.Fatalf("%s\nwant %q", got, w)
		}
	}
	// A KMS that chose nothing at all.
	got = negotiationAdvice(errors.New("remote error: tls: handshake failure"), offer{min: tls.VersionTLS12}, serverTLS{err: errors.New("EOF")}, (*x509.Certificate)(nil))
	if !strings.Contains(got, "the KMS still chose none (EOF)") {
		t.Fatal(got)
	}
}
