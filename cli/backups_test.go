package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// keyward key backups lists a pending upload copy (an upload a crash
// interrupted) after the table, in the daemon's words, not as a backup
// row with zero versions.
func TestBackupsListsPendingUploads(t *testing.T) {
	taken := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	backups := []api.BackupInfo{
		{ID: "20261204T180000Z-aaaa0001", Source: "aws-prod", Kind: "aws", Key: "mrk-1", Versions: 1, Created: taken, Actor: "alice"},
		{ID: "20261204T175900Z-bbbb0002", Source: "gcp-prod", Kind: "gcp", Key: "crm-kek", Created: taken.Add(-time.Minute), Actor: "bob",
			Pending: "pending: the upload of crm-kek to gcp-prod was interrupted (the key is not in gcp-prod); upload again"},
	}
	sock := filepath.Join(t.TempDir(), "keyward.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/cloud/backups" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"backups": backups})
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	code, out, errs := run(t, "--socket", sock, "key", "backups")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], backups[0].ID) ||
		lines[2] != backups[1].ID+": "+backups[1].Pending {
		t.Fatalf("key backups:\n%s", out)
	}
	code, out, _ = run(t, "--socket", sock, "key", "backups", "--json")
	var got struct{ Backups []api.BackupInfo }
	if err := json.Unmarshal([]byte(out), &got); code != ExitOK || err != nil || len(got.Backups) != 2 || got.Backups[1].Pending != backups[1].Pending {
		t.Fatalf("key backups --json: %d %v %s", code, err, out)
	}
}
