package gcp

import (
	"context"
	"fmt"
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

// Console is a connector to the fake at addr acting as Google's console:
// what it changes, it changes behind keyward's back (it creates in
// us/legacy). It is closed when the test ends.
func Console(t testing.TB, addr string) *Project {
	t.Helper()
	p, err := New(context.Background(), Settings{Name: "console", Project: TestProject, Endpoint: addr, Credential: CredNone, CreateIn: "us/legacy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// ProdSection is the end-to-end tests' [[gcp]] section: source gcp-prod
// on the fake at addr, syncing europe-west1 and us, creating in
// europe-west1/payments, describing every key at each sync.
func ProdSection(addr string) string {
	return fmt.Sprintf(`[[gcp]]
name = "gcp-prod"
project = %q
locations = ["europe-west1", "us"]
credential = "none"
endpoint = %q
create_in = "europe-west1/payments"
full_refresh_every = 1
`, TestProject, addr)
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
