package demo

import (
	"fmt"
	"time"

	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
)

// startGCP serves keyward's Cloud KMS fake seeded with the demo project
// and returns the [[gcp]] section that points the daemon at it, and the
// fake's address.
func startGCP(now time.Time) (*gcp.Settings, string, func(), error) {
	fake := gcpkms.New(gcpkms.DemoProject)
	if err := fake.SeedDemo(now); err != nil {
		return nil, "", nil, fmt.Errorf("demo Google Cloud KMS: %w", err)
	}
	addr, stop, err := fake.Listen()
	if err != nil {
		return nil, "", nil, fmt.Errorf("demo Google Cloud KMS: %w", err)
	}
	return &gcp.Settings{Name: "gcp-demo", Project: gcpkms.DemoProject, Locations: []string{"europe-west1", "us"},
		Credential: gcp.CredNone, Endpoint: addr, CreateIn: "europe-west1/acme-payments"}, addr, stop, nil
}
