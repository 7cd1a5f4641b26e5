package cli

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/engine"
)

// TestAgingReportVersions: two versions of one Azure key (32-hex versions)
// expiring in the range come from a real daemon as two rows told apart by
// their version — short in the table, as the Keys pane shows it, whole in
// the CSV and the JSON.
func TestAgingReportVersions(t *testing.T) {
	const v1, v2 = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	var keys []engine.Key
	for i, v := range []string{v1, v2} {
		created, expires := fixedNow.AddDate(0, 0, -20), fixedNow.AddDate(0, 0, 40+i)
		keys = append(keys, engine.Key{ID: engine.KeyID("vault", "orders-kek", v), Source: "vault", Name: "orders-kek",
			Version: v, Algorithm: "AES", Length: 256, State: engine.StateActive, Created: &created, Expires: &expires})
	}
	sock := runDaemon(t, daemontest.NewConfig(t.TempDir()), daemon.Options{Now: func() time.Time { return fixedNow },
		Sources: []sources.Source{seed.New("vault", keys)}})
	var out string
	for range 200 {
		var code int
		if code, out, _ = runAt(t, "--socket", sock, "report", "aging", "--width", "80"); code == ExitOK && strings.Count(out, "orders-kek") == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "orders-kek") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 2 || !strings.Contains(out, " VER ") || !strings.Contains(rows[0], " 0a1b2c3… ") || !strings.Contains(rows[1], " 9f8e7d6… ") {
		t.Fatalf("the two versions do not read apart:\n%s", out)
	}

	code, out, errs := runAt(t, "--socket", sock, "report", "aging", "--format", "csv")
	if code != ExitOK {
		t.Fatalf("report aging --format csv: exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("CSV (%v):\n%s", err, out)
	}
	if h := recs[0]; h[len(h)-1] != "version" || recs[1][len(h)-1] != v1 || recs[2][len(h)-1] != v2 {
		t.Errorf("CSV's version column:\n%s", out)
	}

	code, out, errs = runAt(t, "--socket", sock, "report", "aging", "--format", "json")
	if code != ExitOK {
		t.Fatalf("report aging --format json: exit %d: %s", code, errs)
	}
	var doc struct {
		Entries []struct {
			Version string `json:"version"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Entries) != 2 || doc.Entries[0].Version != v1 || doc.Entries[1].Version != v2 {
		t.Errorf("JSON entries' versions (%v):\n%s", err, out)
	}
}
