package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cloud/backups", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"backups": backups})
	})
	sock := testkit.ServeUnix(t, mux)

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
