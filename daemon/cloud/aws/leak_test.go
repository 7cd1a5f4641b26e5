package aws_test

import (
	"testing"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/daemontest"
)

// TestUploadedAWSMaterialNeverLeaves uploads a known 256-bit key from a
// key file into AWS KMS (local-kms) through the real CLI and daemon, which
// keeps its sealed copy as the key's backup, then searches every socket
// answer, the daemon's debug log and the SQLite files for the material's
// raw, hex and base64 spellings: none may hold it.
func TestUploadedAWSMaterialNeverLeaves(t *testing.T) {
	lk := aws.StartLocalKMS(t)
	daemontest.UploadNeverLeaks(t, awsConfig(t, t.TempDir(), lk, ""), "aws-prod", clitest.Runner)
}
