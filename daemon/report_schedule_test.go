package daemon

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/schedule"
)

// TestReportScheduleReadsEveryPage: a report schedule writes the whole
// aging and activity report, however many pages the report handler takes
// (here 2 rows a page), with the first page's summary or per-day counts,
// no cursor, and one CSV row per entry — what the socket API answers.
func TestReportScheduleReadsEveryPage(t *testing.T) {
	old := reportPageSize
	reportPageSize = 2
	t.Cleanup(func() { reportPageSize = old })
	r := start(t, nil)
	ctx := context.Background()
	c := api.NewClient(r.socket)
	// run runs a new report schedule of kind once, decodes its JSON file
	// into doc and returns its CSV file.
	run := func(name, kind string, doc any) [][]string {
		t.Helper()
		dir := t.TempDir()
		if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: name, Kind: schedule.KindReport, Every: "daily 06:00", Report: kind, Dir: dir, Keep: 1}); err != nil {
			t.Fatal(err)
		}
		run, err := c.RunSchedule(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var d *api.ScheduleDetail
		testkit.Eventually(t, 30*time.Second, "the "+kind+" report run", func() bool {
			d, err = c.Schedule(ctx, name, run.ID)
			return err == nil && d.Run != nil && d.Run.Status != schedule.RunRunning
		}, nil)
		if d.Run.Status != schedule.RunDone {
			t.Fatalf("%s run %+v steps %+v", kind, d.Run, d.Steps)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "keyward-"+kind+"-*"))
		if len(files) != 2 {
			t.Fatalf("%s report files %v, want a csv and a json", kind, files)
		}
		records := testkit.ReadCSV(t, files[0])
		js, err := os.ReadFile(files[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, doc); err != nil {
			t.Fatal(err)
		}
		return records
	}

	var aging api.AgingReport
	records := run("aging-report", "aging", &aging)
	want, err := c.AgingReport(ctx, api.ReportQuery{Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Entries) <= 2*reportPageSize || want.NextCursor != "" {
		t.Fatalf("the seed gives %d aging entries (cursor %q): too few for three pages", len(want.Entries), want.NextCursor)
	}
	// The default range and the summary's instant are read from the clock
	// at each request.
	if aging.Range.To.Sub(aging.Range.From) != want.Range.To.Sub(want.Range.From) || want.Range.From.Sub(aging.Range.From) > time.Minute {
		t.Fatalf("aging report file range %+v, the socket's %+v", aging.Range, want.Range)
	}
	if aging.Summary == nil || want.Summary == nil || want.Summary.At.Sub(aging.Summary.At) > time.Minute {
		t.Fatalf("aging report file summary %+v, the socket's %+v", aging.Summary, want.Summary)
	}
	want.Range, want.Summary.At = aging.Range, aging.Summary.At
	got, _ := json.Marshal(aging)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("aging report file\n%s\nsocket answer\n%s", got, exp)
	}
	if len(records) != 1+len(want.Entries) || records[0][0] != api.AgingCSVHeader[0] {
		t.Fatalf("aging CSV has %d rows, want a header and %d", len(records), len(want.Entries))
	}

	var act api.ActivityReport
	records = run("activity-report", "activity", &act)
	// The run records events of its own after writing: the file is the
	// tail of today's answer from its newest event on.
	now, err := c.ActivityReport(ctx, api.ReportQuery{Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(act.Events) <= 2*reportPageSize || act.NextCursor != "" || len(act.PerDay) == 0 || now.Range.From.Sub(act.Range.From) > time.Minute {
		t.Fatalf("activity report file: %d events, cursor %q, %d days, range %+v (socket %+v)", len(act.Events), act.NextCursor, len(act.PerDay), act.Range, now.Range)
	}
	i := 0
	for i < len(now.Events) && now.Events[i].ID != act.Events[0].ID {
		i++
	}
	if len(now.Events[i:]) != len(act.Events) {
		t.Fatalf("activity report file has %d events, the socket %d from the same one on", len(act.Events), len(now.Events[i:]))
	}
	for j, e := range act.Events {
		if now.Events[i+j].ID != e.ID {
			t.Fatalf("activity event %d is %d, the socket's %d", j, e.ID, now.Events[i+j].ID)
		}
	}
	if len(records) != 1+len(act.Events) || records[0][0] != api.ActivityCSVHeader[0] {
		t.Fatalf("activity CSV has %d rows, want a header and %d", len(records), len(act.Events))
	}
}

// A report schedule whose directory the daemon cannot write is refused
// when it is added or edited over the socket (400 naming dir and why),
// not accepted to fail at its first run, at night. The directory is
// checked as the daemon's own user, by making it and a file in it.
func TestReportScheduleDirMustBeWritable(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	c := api.NewClient(r.socket)
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(file, "reports"), "/proc/keyward-reports"} {
		_, err := c.CreateSchedule(ctx, schedule.Spec{Name: "nightly", Kind: schedule.KindReport, Every: "daily 06:00", Report: "aging", Dir: dir})
		var ae *api.Error
		if !asAPIErr(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "dir") || !strings.Contains(ae.Message, dir) {
			t.Errorf("report schedule into %s: %v, want 400 naming the directory", dir, err)
		}
	}
	if l, err := c.Schedules(ctx); err != nil || len(l) != 0 {
		t.Fatalf("schedules after refused adds: %+v %v", l, err)
	}
	good := filepath.Join(t.TempDir(), "reports", "weekly")
	if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: "nightly", Kind: schedule.KindReport, Every: "daily 06:00", Report: "aging", Dir: good}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(good); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("the report directory %s: %v %v, want made 0700", good, fi, err)
	}
	if left, _ := os.ReadDir(good); len(left) != 0 {
		t.Errorf("the check left %d files in %s", len(left), good)
	}
	_, err := c.EditSchedule(ctx, schedule.Spec{Name: "nightly", Kind: schedule.KindReport, Every: "daily 06:00", Report: "aging", Dir: filepath.Join(file, "x")})
	if var400 := (*api.Error)(nil); !asAPIErr(err, &var400) || var400.Status != 400 {
		t.Errorf("edit into a file's subdirectory: %v, want 400", err)
	}
}
