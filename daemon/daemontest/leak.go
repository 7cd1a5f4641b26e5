package daemontest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/testkit"
)

// UploadNeverLeaks is a cloud connector's leak test: it starts the daemon
// on cfg with its debug log kept, uploads a fresh 256-bit key from a key
// file as key "planted" of source through the CLI that runner drives on
// the socket (clitest.Runner), runs each command of then (a backup, …),
// syncs the source, then searches every socket answer, the daemon's log
// and the files of its data directory for the material's raw, hex and
// base64 spellings: none may hold it.
func UploadNeverLeaks(t *testing.T, cfg *config.Config, source string, runner func(testing.TB, string) func(...string) string, then ...[]string) {
	t.Helper()
	cfg.LogLevel = "debug"
	logs := &testkit.Buffer{}
	sock := Start(t, cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	kw := runner(t, sock)

	planted := make([]byte, 32)
	rand.Read(planted)
	keyFile := filepath.Join(t.TempDir(), "planted.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(planted)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kw("key", "upload", source, "planted", "--from-file", keyFile)
	for _, args := range then {
		kw(args...)
	}
	kw("sync", "--source", source)

	listing := "GET /v1/keys?source=" + source
	hay := testkit.SocketAnswers(t, sock, "/v1/status", "/v1/keys", "/v1/keys?source="+source, "/v1/sources", "/v1/activity", "/v1/backups",
		"/v1/reports/aging", "/v1/reports/activity", "/v1/reports/usage", "/v1/metrics", "/v1/schedules")
	if !bytes.Contains(hay[listing], []byte("planted")) {
		t.Fatalf("the uploaded key is not listed: the search below would prove nothing: %s", hay[listing])
	}
	hay["daemon log"] = logs.Bytes()
	for name, b := range testkit.DataFiles(t, cfg.DataDir) {
		hay[name] = b
	}
	testkit.NoLeak(t, "the uploaded material", testkit.Spellings(planted), hay)
}
