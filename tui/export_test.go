package tui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// manyExpiring adds n keys that expire within the aging pane's default range.
func manyExpiring(f *fixture, n int) {
	base := f.keys[3]
	th := engine.DefaultThresholds()
	for i := range n {
		k := base
		k.Name = fmt.Sprintf("bulk.key.%03d", i)
		k.ID = engine.KeyID(k.Source, k.Name, "1")
		k.Expires = at(10 + i%60)
		a := engine.Classify(k, fixedNow, th)
		k.Aging = &a
		f.keys = append(f.keys, k)
	}
}

// exportFixture is newFixture with 40 more keys expiring (an Aging report
// of more than two export pages of 16 rows) whose report pages after the
// first wait for f.laterPages to close, and a directory to export to.
func exportFixture(t *testing.T) (dir string, f *fixture) {
	f = newFixture()
	manyExpiring(f, 40)
	f.laterPages = make(chan struct{})
	return t.TempDir(), f
}

// At 80×24 the Aging pane shows 14 rows; e exports the whole report for the
// range and filters, asked of the daemon a page at a time with the progress
// in the status line, to the export directory, and says the full path.
func TestExportWholeReport(t *testing.T) {
	dir, f := exportFixture(t)
	tm := startWith(t, f, 80, 24, tui.Options{ExportDir: dir, ExportPage: 16})
	openPane(t, tm, "2", "bulk.key.000")
	press(tm, "e")
	waitFor(t, tm, "exporting… 16 rows so far")
	close(f.laterPages)
	waitFor(t, tm, "exported the Aging report", dir)
	view := finalView(t, tm)

	all, err := f.AgingReport(context.Background(), api.ReportQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keyward-aging-*.csv"))
	if len(files) != 1 {
		t.Fatalf("export files in %s: %v", dir, files)
	}
	if !strings.Contains(strings.Join(strings.Fields(view), ""), files[0]) {
		t.Errorf("the status line does not give the full path %s:\n%s", files[0], view)
	}
	recs := testkit.ReadCSV(t, files[0])
	if got, want := len(recs)-1, len(all.Entries); got != want || want <= 32 {
		t.Errorf("exported %d rows, the report has %d (the screen shows 14)", got, want)
	}
	if recs[0][0] != "date" {
		t.Errorf("header %v", recs[0])
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", st.Mode().Perm())
	}
	if parts, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(parts) != 0 {
		t.Errorf("left behind: %v", parts)
	}
}

// An export the daemon cannot finish says why, and leaves no partial file.
// The daemon never answers the second page; the TUI's request timeout ends
// the wait. It bounds every request of the TUI, so it is long enough for
// the pane's own fetches on a loaded machine: at 300 ms a refresh of the
// pane timed out there, and the e held until it landed was dropped.
func TestExportFailureLeavesNothing(t *testing.T) {
	dir, f := exportFixture(t)
	tm := startWith(t, f, 80, 24, tui.Options{ExportDir: dir, ExportPage: 16, RequestTimeout: 2 * time.Second})
	openPane(t, tm, "2", "bulk.key.000")
	press(tm, "e")
	tuitest.WaitFor(t, tm, 20*time.Second, "report failed:")
	view := strings.Join(strings.Fields(finalView(t, tm)), " ")
	if !strings.Contains(view, "export of the Aging report failed: read the report from the daemon: no answer from the daemon in time") {
		t.Errorf("the failure is not said in words:\n%s", view)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("a failed export left %v", files)
	}
}

// Quitting the TUI while an export is under way removes the file it was
// writing: no .part is left in the export directory, and no CSV.
func TestQuitDuringExportLeavesNoFile(t *testing.T) {
	dir, f := exportFixture(t)
	// The second page comes only once the TUI has quit.
	f.deaf = true
	m := tui.New(context.Background(), f, tui.Options{Title: "keyward demo", Now: func() time.Time { return fixedNow },
		ExportDir: dir, ExportPage: 16})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	openPane(t, tm, "2", "bulk.key.000")
	press(tm, "e")
	waitFor(t, tm, "exporting… 16 rows so far")
	if parts, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(parts) != 1 {
		t.Fatalf("no export under way: %v", parts)
	}
	finalView(t, tm)
	m.Close() // as tui.Run does once the program has ended
	close(f.laterPages)
	time.Sleep(50 * time.Millisecond) // the page's answer, written nowhere
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("the TUI quit during an export and left %v", left)
	}
}
