package kms

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/engine"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // kmipserver logs every connection
	os.Exit(m.Run())
}

func start(t *testing.T, o Options) (*Server, *kmipclient.Client) {
	t.Helper()
	o.Dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); s.Stop() })
	c, err := kmipclient.Dial(s.Addr(), kmipclient.WithRootCAFile(s.CAFile), kmipclient.WithClientCertFiles(s.CertFile, s.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

func locate(t *testing.T, c *kmipclient.Client, name string) []string {
	t.Helper()
	r, err := c.Locate().WithName(name).Exec()
	if err != nil {
		t.Fatal(err)
	}
	return r.UniqueIdentifier
}

func state(t *testing.T, c *kmipclient.Client, uid string) (string, kmip.State) {
	t.Helper()
	r, err := c.GetAttributes(uid, kmip.AttributeNameName, kmip.AttributeNameState).Exec()
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var st kmip.State
	for _, a := range r.Attribute {
		switch v := a.AttributeValue.(type) {
		case kmip.Name:
			name = v.NameValue
		case kmip.State:
			st = v
		}
	}
	return name, st
}

func TestSeededApplicationsAndRotation(t *testing.T) {
	s, c := start(t, Options{Apps: DemoApps})
	if c.Version() != kmip.V1_4 {
		t.Fatalf("negotiated %v, want 1.4", c.Version())
	}
	crm := locate(t, c, "acme.crm.key.*")
	if len(crm) != 5 || len(locate(t, c, "acme.hr.key.*")) != 3 {
		t.Fatalf("seeded %d crm keys", len(crm))
	}
	active := 0
	for _, uid := range crm {
		name, st := state(t, c, uid)
		if st == kmip.StateActive {
			active++
			if name != "acme.crm.key.5" {
				t.Fatalf("active key is %s", name)
			}
		}
	}
	if active != 1 {
		t.Fatalf("%d active keys", active)
	}
	name, err := s.Rotate("crm")
	if err != nil || name != "acme.crm.key.6" {
		t.Fatalf("rotate: %s %v", name, err)
	}
	for _, uid := range locate(t, c, "acme.crm.key.*") {
		n, st := state(t, c, uid)
		if (n == "acme.crm.key.6") != (st == kmip.StateActive) {
			t.Fatalf("after rotation %s is %v", n, st)
		}
	}
	if _, err := s.Rotate("nope"); err == nil {
		t.Fatal("rotating an unknown application must fail")
	}
	g, err := c.Get(locate(t, c, "acme.crm.key.6")[0]).Exec()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := g.SymmetricKey(); err != nil || len(m) != 32 {
		t.Fatalf("material %d %v", len(m), err)
	}
}

// TestRequiresAClientCertificate: a TLS client that trusts the KMS but
// has no certificate is refused. It speaks plain crypto/tls, not kmip-go:
// kmip-go v0.8.1's client closes its send channel from its read loop
// while a request is being sent on it, so a refused Dial raced there
// (-race reported it in CI's run of this package; a send that loses
// that race panics).
func TestRequiresAClientCertificate(t *testing.T) {
	s, _ := start(t, Options{})
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	host, _, _ := net.SplitHostPort(s.Addr())
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addr(), &tls.Config{RootCAs: roots, ServerName: host})
	if err == nil {
		// Under TLS 1.3 the server's refusal comes after the client's
		// handshake ends: it is the first read's error.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") && !strings.Contains(err.Error(), "bad certificate") {
		t.Fatalf("a client without a certificate: %v, want the KMS to refuse it with a TLS certificate alert", err)
	}
}

func TestBatchLifecycle(t *testing.T) {
	s, c := start(t, Options{})
	// Create + Activate in one batch through the ID placeholder.
	res, err := c.Create().AES(256, kmip.CryptographicUsageEncrypt).WithName("k.1").
		Then(func(c *kmipclient.Client) kmipclient.PayloadBuilder { return c.Activate("") }).Exec()
	if err != nil {
		t.Fatal(err)
	}
	pls, err := res.Unwrap()
	if err != nil {
		t.Fatal(err)
	}
	uid := pls[0].(*payloads.CreateResponsePayload).UniqueIdentifier
	if _, st := state(t, c, uid); st != kmip.StateActive {
		t.Fatalf("state %v", st)
	}
	if _, err := c.Destroy(uid).Exec(); err == nil || !strings.Contains(err.Error(), "revoke it first") {
		t.Fatalf("destroying an active key: %v", err)
	}
	if _, err := c.Revoke(uid).WithRevocationReasonCode(kmip.RevocationReasonCodeKeyCompromise).Exec(); err != nil {
		t.Fatal(err)
	}
	if _, st := state(t, c, uid); st != kmip.StateCompromised {
		t.Fatalf("state %v", st)
	}
	if _, err := c.Destroy(uid).Exec(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(uid).Exec(); err == nil {
		t.Fatal("a destroyed key's material was served")
	}
	if s.Counts()[kmip.OperationCreate] != 1 {
		t.Fatalf("counts %v", s.Counts())
	}
	// Register keeps the given material.
	mat := []byte("0123456789abcdef0123456789abcdef")
	r, err := c.Register().WithKeyFormat(kmipclient.RAW).SymmetricKey(kmip.CryptographicAlgorithmAES, kmip.CryptographicUsageEncrypt, append([]byte(nil), mat...)).WithName("k.2").Exec()
	if err != nil {
		t.Fatal(err)
	}
	g, _ := c.Get(r.UniqueIdentifier).Exec()
	if m, _ := g.SymmetricKey(); string(m) != string(mat) {
		t.Fatal("registered material changed")
	}
}

func TestExactNamesAndStopResume(t *testing.T) {
	s, c := start(t, Options{Apps: DemoApps, ExactNames: true})
	if n := len(locate(t, c, "acme.crm.key.*")); n != 0 {
		t.Fatalf("ExactNames server expanded a wildcard: %d", n)
	}
	if n := len(locate(t, c, "acme.crm.key.2")); n != 1 {
		t.Fatalf("exact name: %d", n)
	}
	addr := s.Addr()
	s.Stop()
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("resumed on %s, want %s", s.Addr(), addr)
	}
	c2, err := kmipclient.Dial(addr, kmipclient.WithRootCAFile(s.CAFile), kmipclient.WithClientCertFiles(s.CertFile, s.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if n := len(locate(t, c2, "acme.hr.key.3")); n != 1 {
		t.Fatal("objects lost across stop/resume")
	}
	if fi, err := os.Stat(s.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("client key file mode %v", fi.Mode())
	}
}

func TestSourceConfigIsValidAndRotateEvery(t *testing.T) {
	s, c := start(t, Options{Apps: DemoApps})
	sc := s.SourceConfig("kms", time.Minute)
	cfg := config.Default()
	cfg.KMIP = []config.KMIPSource{sc}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("demo source config invalid: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 1)
	s.RotateEvery(ctx, 10*time.Millisecond, func(app, name string, err error) {
		if err == nil {
			select {
			case done <- name:
			default:
			}
		}
	})
	select {
	case name := <-done:
		if len(locate(t, c, name)) != 1 {
			t.Fatalf("rotated key %s not in the KMS", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no rotation")
	}
}

func TestStartDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, sc, err := StartDemo(ctx, t.TempDir(), "kms", 10*time.Second, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if sc.Addresses[0] != s.Addr() || len(sc.Applications) != 2 || sc.Applications[0].Pattern != "acme.crm.key.*" {
		t.Fatalf("demo source config %+v", sc)
	}
}

// A rotation never leaves an application without an Active key, even for
// an instant: the new generation is Active before the ones before it are
// deactivated, as a KMS administrator rotating a live key does (a poll in
// between would otherwise find nothing to encrypt with).
func TestRotationKeepsAnActiveKey(t *testing.T) {
	s, _ := start(t, Options{Apps: DemoApps})
	done := make(chan struct{})
	gaps := make(chan int, 1)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				gaps <- n
				return
			default:
			}
			s.mu.Lock()
			active := 0
			for _, o := range s.objects {
				if p, _, ok := engine.SplitVersion(o.name); ok && p == "acme.crm.key." && o.state == kmip.StateActive {
					active++
				}
			}
			s.mu.Unlock()
			if active == 0 {
				n++
			}
		}
	}()
	for range 300 {
		if _, err := s.Rotate("crm"); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if n := <-gaps; n > 0 {
		t.Fatalf("crm had no Active key %d times during 300 rotations", n)
	}
}

// TestConcurrentRotationsMakeDistinctGenerations: rotations of one
// application at the same time (the demo's rotation ticker and a test's,
// or two) each make their own next generation: no name twice, one Active
// key left.
func TestConcurrentRotationsMakeDistinctGenerations(t *testing.T) {
	s, _ := start(t, Options{Apps: DemoApps})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := s.Rotate("crm"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	names, active := map[string]int{}, 0
	for _, o := range s.objects {
		if p, _, ok := engine.SplitVersion(o.name); ok && p == "acme.crm.key." {
			names[o.name]++
			if o.state == kmip.StateActive {
				active++
			}
		}
	}
	for n, c := range names {
		if c > 1 {
			t.Errorf("%s made %d times", n, c)
		}
	}
	if active != 1 {
		t.Errorf("%d Active crm keys after the rotations, want 1", active)
	}
}
