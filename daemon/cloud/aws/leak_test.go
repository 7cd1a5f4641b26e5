package aws_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestUploadedAWSMaterialNeverLeaves uploads a known 256-bit key from a
// key file into AWS KMS (local-kms) through the real CLI and daemon, which
// keeps its sealed copy as the key's backup, then searches every socket
// answer, the daemon's debug log and the SQLite files for the material's
// raw, hex and base64 spellings: none may hold it.
func TestUploadedAWSMaterialNeverLeaves(t *testing.T) {
	lk := aws.StartLocalKMS(t)
	dir := t.TempDir()
	cfg := awsConfig(t, dir, lk, "")
	cfg.LogLevel = "debug"
	logs := &testkit.Buffer{}
	sock := daemontest.Start(t, cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	kw := clitest.Runner(t, sock)

	planted := make([]byte, 32)
	rand.Read(planted)
	keyFile := filepath.Join(dir, "planted.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(planted)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kw("key", "upload", "aws-prod", "planted", "--from-file", keyFile)
	kw("sync", "--source", "aws-prod")

	hay := testkit.SocketAnswers(t, sock, "/v1/status", "/v1/keys", "/v1/keys?source=aws-prod", "/v1/sources", "/v1/activity", "/v1/backups",
		"/v1/reports/aging", "/v1/reports/activity", "/v1/reports/usage", "/v1/metrics", "/v1/schedules")
	if !bytes.Contains(hay["GET /v1/keys?source=aws-prod"], []byte("planted")) {
		t.Fatalf("the uploaded key is not listed: the search below would prove nothing: %s", hay["GET /v1/keys?source=aws-prod"])
	}
	hay["daemon log"] = logs.Bytes()
	for name, b := range testkit.DataFiles(t, cfg.DataDir) {
		hay[name] = b
	}
	testkit.NoLeak(t, "the uploaded material", testkit.Spellings(planted), hay)
}
