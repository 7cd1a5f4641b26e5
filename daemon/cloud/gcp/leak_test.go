package gcp_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestUploadedGCPMaterialNeverLeaves uploads a known 256-bit key from a
// key file into a Google key through the real CLI and daemon (the Cloud
// KMS fake behind real gRPC), backs it up (keyward's sealed copy) and
// reads every socket answer about it, then searches the answers, the
// daemon's debug log and the SQLite files for the material's raw, hex and
// base64 spellings: none may hold it.
func TestUploadedGCPMaterialNeverLeaves(t *testing.T) {
	fake := gcpkms.New("acme-prod-kms")
	addr, stop, err := fake.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	cfg := daemontest.Config(t, dir, fmt.Sprintf(`[[gcp]]
name = "gcp-prod"
project = "acme-prod-kms"
locations = ["europe-west1"]
credential = "none"
endpoint = %q
create_in = "europe-west1/payments"
`, addr))
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
	kw("key", "upload", "gcp-prod", "planted", "--from-file", keyFile)
	kw("key", "backup", "gcp-prod", "europe-west1/payments/planted")
	kw("sync", "--source", "gcp-prod")

	hay := testkit.SocketAnswers(t, sock, "/v1/status", "/v1/keys", "/v1/keys?source=gcp-prod", "/v1/sources", "/v1/activity", "/v1/backups",
		"/v1/reports/aging", "/v1/reports/activity", "/v1/reports/usage", "/v1/metrics", "/v1/schedules")
	if !bytes.Contains(hay["GET /v1/keys?source=gcp-prod"], []byte("planted")) {
		t.Fatalf("the uploaded key is not listed: the search below would prove nothing: %s", hay["GET /v1/keys?source=gcp-prod"])
	}
	hay["daemon log"] = logs.Bytes()
	for name, b := range testkit.DataFiles(t, cfg.DataDir) {
		hay[name] = b
	}
	testkit.NoLeak(t, "the uploaded material", testkit.Spellings(planted), hay)
}
