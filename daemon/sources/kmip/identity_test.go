package kmip

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/pki/pkitest"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// waitHealth waits up to within for the source's health (as the store
// records it) to be h, and returns its reason.
func (e *env) waitHealth(h engine.Health, within time.Duration) string {
	e.t.Helper()
	var srcs []engine.Source
	var err error
	testkit.Eventually(e.t, within, fmt.Sprintf("the source's health to be %s", h), func() bool {
		srcs, err = e.st.Sources(context.Background())
		return err == nil && len(srcs) > 0 && srcs[0].Health == h
	}, func() string { return fmt.Sprintf("%+v (%v)", srcs, err) })
	return srcs[0].Reason
}

// TestNewIdentityTakesEffectAtOnce: a running source (poll interval one
// hour) is given an identity the KMS rejects, then the good one back, by
// keyward cert import; each time its health says so within seconds, with no
// restart. Reports the time from the import to the first poll that
// presented the new identity.
func TestNewIdentityTakesEffectAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		certPEM, _ := os.ReadFile(b.certFile)
		keyPEM, _ := os.ReadFile(b.keyFile)
		good := pkitest.PKCS12(t, certPEM, keyPEM, "changeit")
		other, _ := pki.NewCA("a CA the KMS does not trust")
		sc, sk, _ := other.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
		stranger := pkitest.PKCS12(t, sc, sk, "changeit")

		e := newEnv(t, b, "", nil, crmApp)
		e.cfg.CertFile, e.cfg.KeyFile = "", ""
		e.cfg.PollInterval = engine.Duration(time.Hour)
		e.deps.DataDir = t.TempDir()
		f := pki.Paths(e.deps.DataDir, "kms")
		if _, err := pki.Import(f, good, []byte("changeit"), time.Now(), false); err != nil {
			t.Fatal(err)
		}
		src := e.rebuild()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = src.Run(ctx, e.sink) }()
		t.Cleanup(func() { cancel(); <-done })
		e.waitHealth(engine.HealthOK, 15*time.Second)

		swap := func(ks []byte) time.Time {
			t.Helper()
			start := time.Now()
			if _, err := pki.Import(f, ks, []byte("changeit"), time.Now(), true); err != nil {
				t.Fatal(err)
			}
			imported := time.Now()
			src.IdentityChanged()
			t.Logf("%s: the import itself (keystore opened, files written) took %s, IdentityChanged %s", b.name,
				imported.Sub(start).Round(time.Millisecond), time.Since(imported).Round(time.Millisecond))
			return start
		}
		start := swap(stranger)
		reason := e.waitHealth(engine.HealthDegraded, 5*time.Second)
		if !strings.Contains(reason, "a CA the KMS does not trust") {
			t.Fatalf("degraded, but the reason does not name the rejected identity: %s", reason)
		}
		t.Logf("%s: import of a rejected identity to degraded health: %s", b.name, time.Since(start).Round(time.Millisecond))
		start = swap(good)
		e.waitHealth(engine.HealthOK, 5*time.Second)
		p := src.LastPoll()
		if p.Err != "" || p.Started.Before(start) || !src.ident.lastPresented().Equal(src.ident.leaf()) {
			t.Fatalf("last poll %+v", p)
		}
		t.Logf("%s: import of the good identity to the first poll with it done: %s (poll itself %s)", b.name,
			p.Started.Add(p.Duration).Sub(start).Round(time.Millisecond), p.Duration.Round(time.Millisecond))
		if got := src.ClientIdentity(); got.Origin != "installed" || !strings.Contains(got.Issuer, b.ca.Cert.Subject.CommonName) {
			t.Fatalf("identity in use %+v", got)
		}
	})
}

// TestReconnectPresentsTheCurrentIdentity: the dialer kmip-go keeps for its
// own reconnects, made before the identity changed, presents the new one.
func TestReconnectPresentsTheCurrentIdentity(t *testing.T) {
	b := embeddedBackend(t)
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.CertFile, e.cfg.KeyFile = "", ""
	e.deps.DataDir = t.TempDir()
	f := pki.Paths(e.deps.DataDir, "kms")
	certPEM, _ := os.ReadFile(b.certFile)
	keyPEM, _ := os.ReadFile(b.keyFile)
	if _, err := pki.Import(f, pkitest.PKCS12(t, certPEM, keyPEM, "changeit"), []byte("changeit"), time.Now(), false); err != nil {
		t.Fatal(err)
	}
	src, err := New(e.cfg, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.loadTLS(); err != nil {
		t.Fatal(err)
	}
	dial := tlsDialer(b.addr, src.tlsCfg.Clone())
	c, err := dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	first := src.ident.lastPresented()
	renewedCert, renewedKey, _ := b.ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	if _, err := pki.Import(f, pkitest.PKCS12(t, renewedCert, renewedKey, "changeit"), []byte("changeit"), time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if changed, err := src.ident.refresh(false, time.Now()); !changed || err != nil {
		t.Fatalf("the replaced files were not seen: %v %v", changed, err)
	}
	c, err = dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := src.ident.lastPresented(); got == nil || got.Equal(first) || pki.Serial(got) != pki.Serial(src.ident.leaf()) {
		t.Fatal("a dialer made before the change still presents the old certificate")
	}
}
