package gcp_test

import (
	"fmt"
	"testing"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/daemontest"
)

// TestUploadedGCPMaterialNeverLeaves uploads a known 256-bit key from a
// key file into a Google key through the real CLI and daemon (the Cloud
// KMS fake behind real gRPC), backs it up (keyward's sealed copy) and
// reads every socket answer about it, then searches the answers, the
// daemon's debug log and the SQLite files for the material's raw, hex and
// base64 spellings: none may hold it.
func TestUploadedGCPMaterialNeverLeaves(t *testing.T) {
	_, addr := gcp.ServeFake(t)
	cfg := daemontest.Config(t, t.TempDir(), fmt.Sprintf(`[[gcp]]
name = "gcp-prod"
project = "acme-prod-kms"
locations = ["europe-west1"]
credential = "none"
endpoint = %q
create_in = "europe-west1/payments"
`, addr))
	daemontest.UploadNeverLeaks(t, cfg, "gcp-prod", clitest.Runner,
		[]string{"key", "backup", "gcp-prod", "europe-west1/payments/planted"})
}
