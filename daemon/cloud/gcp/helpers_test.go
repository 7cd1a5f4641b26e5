package gcp

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/demo/gcpkms"
)

// TestProject is the project the tests' fakes serve.
const TestProject = "acme-prod-kms"

// ServeFake serves keyward's Cloud KMS fake of TestProject on a loopback
// port until the test ends, and returns it with its address.
func ServeFake(t testing.TB) (*gcpkms.Server, string) {
	t.Helper()
	fake := gcpkms.New(TestProject)
	addr, stop, err := fake.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return fake, addr
}

// startFake serves keyward's Cloud KMS fake on a loopback port for one
// test and returns it with a connector talking to it through the real
// client and real gRPC.
func startFake(t testing.TB, cfg Settings) (*gcpkms.Server, *Project) {
	t.Helper()
	fake, addr := ServeFake(t)
	if cfg.Name == "" {
		cfg.Name = "gcp-test"
	}
	if cfg.Project == "" {
		cfg.Project = TestProject
	}
	cfg.Endpoint, cfg.Credential = addr, CredNone
	if errs := cfg.Validate("gcp"); len(errs) > 0 {
		t.Fatal(errs)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.importWait = 10 * time.Millisecond
	t.Cleanup(func() { _ = p.Close() })
	return fake, p
}
