package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/generate"
	"github.com/keyward/keyward/store/storetest"
)

// TestKeysListJSONShape: the streamed --json prints, byte for byte, what
// printing the whole {"keys", "total"} object did before it streamed.
func TestKeysListJSONShape(t *testing.T) {
	sock := startFixed(t)
	for _, args := range [][]string{{}, {"--state", "active"}, {"--filter", "no-such-key"}, {"--limit", "2"}} {
		code, out, errs := run(t, append([]string{"--socket", sock, "keys", "list", "--json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		var list KeysListJSON
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		if list.Keys == nil {
			list.Keys = []engine.Key{}
		}
		var whole bytes.Buffer
		if err := printJSON(&whole, list); err != nil {
			t.Fatal(err)
		}
		if out != whole.String() {
			t.Fatalf("%v: streamed JSON differs from the whole object's:\n%s\nwant:\n%s", args, out, whole.String())
		}
		if len(args) > 0 && args[0] == "--limit" && (len(list.Keys) != 2 || list.Total != 12) {
			t.Fatalf("--limit 2: %d keys of %d, want 2 of 12", len(list.Keys), list.Total)
		}
	}
}

// startGenerated runs a daemon on a generated inventory of n keys (more
// than one export page).
func startGenerated(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	cfg := daemontest.NewConfig(dir)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, filepath.Join(cfg.DataDir, "keyward.db"))
	if err := generate.Run(context.Background(), st, generate.Options{Keys: n, Now: fixedNow, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	runDaemon(t, cfg, daemon.Options{Now: func() time.Time { return fixedNow }})
	return cfg.Socket
}

// TestKeysExportFormats: every format lists every key once, in order,
// across the daemon's pages; csv is read back by a CSV parser.
func TestKeysExportFormats(t *testing.T) {
	const n = 4500 // three pages of the daemon's export
	sock := startGenerated(t, n)

	code, out, errs := run(t, "--socket", sock, "keys", "list", "--format", "ndjson")
	if code != ExitOK {
		t.Fatalf("ndjson: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	ids := map[string]bool{}
	for i, l := range lines {
		var k struct {
			ID    string `json:"id"`
			Aging *struct {
				Bucket string `json:"bucket"`
			} `json:"aging"`
		}
		if err := json.Unmarshal([]byte(l), &k); err != nil || k.ID == "" || k.Aging == nil {
			t.Fatalf("ndjson line %d: %v: %q", i+1, err, l)
		}
		ids[k.ID] = true
	}
	if len(lines) != n || len(ids) != n {
		t.Fatalf("ndjson: %d lines, %d distinct ids, want %d", len(lines), len(ids), n)
	}

	code, out, errs = run(t, "--socket", sock, "keys", "list", "--format", "csv", "--sort", "-created")
	if code != ExitOK {
		t.Fatalf("csv: exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v", err)
	}
	if len(recs) != n+1 || strings.Join(recs[0], ",") != strings.Join(api.KeyCSVHeader, ",") {
		t.Fatalf("csv: %d records (want %d with the header), header %v", len(recs), n+1, recs[0])
	}
	created := 11 // column of created
	for i := 2; i < len(recs); i++ {
		if recs[i][created] != "" && recs[i-1][created] != "" && recs[i][created] > recs[i-1][created] {
			t.Fatalf("csv row %d: created %s after %s, want newest first", i, recs[i][created], recs[i-1][created])
		}
		if !ids[recs[i][0]] {
			t.Fatalf("csv row %d: id %q not in the ndjson export", i, recs[i][0])
		}
	}

	code, out, errs = run(t, "--socket", sock, "keys", "list", "--json", "--limit", "2500", "--source", "kms-prod")
	if code != ExitOK {
		t.Fatalf("json --limit: exit %d: %s", code, errs)
	}
	var list KeysListJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) > 2500 || list.Total < len(list.Keys) {
		t.Fatalf("json --limit 2500: %d keys of %d", len(list.Keys), list.Total)
	}
	for _, k := range list.Keys {
		if k.Source != "kms-prod" {
			t.Fatalf("--source kms-prod listed %s", k.ID)
		}
	}

	// The socket API refuses what it does not know, before streaming.
	c := api.NewClient(sock)
	if _, err := c.ExportKeys(context.Background(), api.KeyQuery{}, "xml", 0); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Fatalf("format=xml: %v", err)
	}
	if _, err := c.ExportKeys(context.Background(), api.KeyQuery{Sort: "colour"}, "csv", 0); err == nil || !strings.Contains(err.Error(), "cannot sort") {
		t.Fatalf("sort=colour: %v", err)
	}

	for _, bad := range [][]string{{"--format", "xml"}, {"--json", "--format", "csv"}} {
		if code, _, errs := run(t, append([]string{"--socket", sock, "keys", "list"}, bad...)...); code != ExitUsage {
			t.Fatalf("%v: exit %d, want usage: %s", bad, code, errs)
		}
	}
}

// TestKeysExportCutShort: an export the daemon cuts off (no final chunk)
// is an error naming how far it got, never a complete-looking list.
func TestKeysExportCutShort(t *testing.T) {
	sock := testkit.ServeUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, `{"id":"s/k%d","source":"s","name":"k%d","algorithm":"AES","state":"active","updated":"2026-11-23T00:00:00Z"}`+"\n", i, i)
		}
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	for _, format := range []string{"json", "table", "ndjson", "csv"} {
		code, _, errs := run(t, "--socket", sock, "keys", "list", "--format", format)
		if code != ExitError || !strings.Contains(errs, "export ended early") {
			t.Fatalf("%s: exit %d, want an error saying the export ended early: %s", format, code, errs)
		}
		if format == "json" && !strings.Contains(errs, "after 3 keys") {
			t.Fatalf("json: the error does not say how far it got: %s", errs)
		}
	}
}

// FuzzWriteKeysJSON: whatever the socket sends, the streamed --json either
// fails with an error or prints one valid JSON document holding each
// line's object, never panicking.
func FuzzWriteKeysJSON(f *testing.F) {
	f.Add([]byte(`{"id":"s/k","state":"active"}` + "\n" + `{"id":"s/j","tags":{"a":"<b>"}}` + "\n"))
	f.Add([]byte(""))
	f.Add([]byte("[1,2]\n"))
	f.Add([]byte(`{"id":"x"`))
	f.Add([]byte("{}\n\n{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := writeKeysJSON(&out, bytes.NewReader(in), -1); err != nil {
			return
		}
		var doc struct {
			Keys  []map[string]any `json:"keys"`
			Total int              `json:"total"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("accepted %q but printed invalid JSON: %v\n%s", in, err, out.String())
		}
		if doc.Total != len(doc.Keys) {
			t.Fatalf("total %d for %d keys", doc.Total, len(doc.Keys))
		}
	})
}
