package demo

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/engine/schedule"
)

// TestScheduleRotatesEndToEnd: through the real daemon of the demo stack, a
// rotation schedule run now rotates exactly the keys it selects — a new
// version of the matching keys in the emulated Azure vault, the next
// generation of the crm application on the embedded KMS — records each
// step and event as schedule:<name>, and the proxy starts encrypting with
// the new KMIP generation. The demo's own two schedules are there.
func TestScheduleRotatesEndToEnd(t *testing.T) {
	ctx := context.Background()
	// The demo KMS makes no generation of its own during the test.
	c := startDemo(t, Options{Poll: time.Second, Rotate: time.Hour, Rate: 2})

	scheds, err := c.Schedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scheds {
		names = append(names, s.Name+"/"+s.Origin)
		if s.NextRun == nil {
			t.Errorf("demo schedule %s has no next run", s.Name)
		}
	}
	if strings.Join(names, " ") != "daily-vault-backup/config weekly-expiring-rotation/config" {
		t.Fatalf("demo schedules %v", names)
	}
	// A config schedule is not edited over the socket.
	if err := c.ScheduleAction(ctx, "weekly-expiring-rotation", "pause"); err == nil || !strings.Contains(err.Error(), "keyward.toml") {
		t.Fatalf("pausing a config schedule: %v", err)
	}

	waitFor(t, "the crm ring and the vault keys", func() bool {
		return newest(t, c, "crm") != "" && versions(t, c, "acme-crm-field-kek") > 0
	})
	// The weekly rotation's dry run: the vault key expiring in 25 days, not
	// the one in 5 (expiring-7d) nor the one in 200.
	dry, err := c.DryRunSchedule(ctx, "weekly-expiring-rotation")
	if err != nil {
		t.Fatal(err)
	}
	if !hasStep(dry.Steps, "key:azure-demo/acme-crm-field-kek", schedule.StepPending) || hasStep(dry.Steps, "key:azure-demo/acme-payments-tokenization", "") ||
		hasStep(dry.Steps, "key:azure-demo/acme-hr-payroll-kek", "") {
		t.Fatalf("dry run of the expiring rotation: %+v", dry.Steps)
	}
	crmBefore := newest(t, c, "crm")
	fieldBefore, exportBefore, payBefore := versions(t, c, "acme-crm-field-kek"), versions(t, c, "acme-crm-export-signing"), versions(t, c, "acme-payments-tokenization")

	if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: "rotate-crm", Kind: schedule.KindRotate, Every: "monthly 1 03:00",
		Sources: []string{"acme-kms", "azure-demo"}, Pattern: "acme?crm*"}); err != nil {
		t.Fatal(err)
	}
	d := runNow(t, c, "rotate-crm")
	if d.Run.Status != schedule.RunDone {
		t.Fatalf("run %+v steps %+v", d.Run, d.Steps)
	}
	if !hasStep(d.Steps, "app:acme-kms/crm", schedule.StepDone) || !hasStep(d.Steps, "key:azure-demo/acme-crm-field-kek", schedule.StepDone) ||
		!hasStep(d.Steps, "key:azure-demo/acme-crm-export-signing", schedule.StepDone) || hasStep(d.Steps, "app:acme-kms/hr", "") {
		t.Fatalf("steps %+v", d.Steps)
	}
	if got := versions(t, c, "acme-crm-field-kek"); got != fieldBefore+1 {
		t.Errorf("acme-crm-field-kek has %d versions, had %d: want one more", got, fieldBefore)
	}
	if got := versions(t, c, "acme-crm-export-signing"); got != exportBefore+1 {
		t.Errorf("acme-crm-export-signing has %d versions, had %d: want one more", got, exportBefore)
	}
	if got := versions(t, c, "acme-payments-tokenization"); got != payBefore {
		t.Errorf("acme-payments-tokenization (not selected) went from %d to %d versions", payBefore, got)
	}
	var newGen string
	for _, st := range d.Steps {
		if st.Target == "app:acme-kms/crm" {
			newGen = st.After
		}
	}
	if newGen == "" || newGen == crmBefore {
		t.Fatalf("the crm rotation made %q after %q", newGen, crmBefore)
	}
	// The proxy encrypts with the new generation.
	waitFor(t, "the proxy to encrypt with "+newGen, func() bool {
		kid := ringKeyID(t, c, "crm", newGen)
		ps, err := c.Proxy(ctx)
		return err == nil && kid != "" && len(ps) == 1 && ps[0].Ring.KeyID == kid
	})
	// Every action is the schedule's.
	ev, err := c.ActivityReport(ctx, api.ReportQuery{Actor: "schedule:rotate-crm", Operation: "rotated"})
	if err != nil || len(ev.Events) != 3 {
		t.Fatalf("rotations recorded as schedule:rotate-crm: %+v %v (want 3: the crm application and two vault keys)", ev, err)
	}
	// Health: the schedule is a row beside the sources, ok.
	srcs, _ := c.Sources(ctx)
	var health string
	for _, s := range srcs {
		if s.Name == "schedule:rotate-crm" {
			health = string(s.Health)
		}
	}
	if health != "ok" {
		t.Fatalf("schedule health row %q, want ok", health)
	}

	// The demo's daily backup, run now (a config schedule may be run, not
	// edited): every backup-capable vault key backed up, as the schedule.
	d = runNow(t, c, "daily-vault-backup")
	if d.Run.Status != schedule.RunDone || !hasStep(d.Steps, "key:azure-demo/acme-crm-field-kek", schedule.StepDone) {
		t.Fatalf("backup run %+v steps %+v", d.Run, d.Steps)
	}
	backups, err := c.CloudBackups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mine := 0
	for _, b := range backups {
		if b.Actor == "schedule:daily-vault-backup" {
			mine++
		}
	}
	if done := countSteps(d.Steps, schedule.StepDone); mine != done || mine == 0 {
		t.Fatalf("%d backups by the schedule, %d steps done", mine, done)
	}

	// A sync schedule syncs its sources, as itself; one naming a source
	// the daemon does not run is refused.
	if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: "vault-sync", Kind: schedule.KindSync, Every: "daily 07:00", Sources: []string{"azure-demo", "nowhere"}}); err == nil ||
		!strings.Contains(err.Error(), `no source "nowhere" is configured (configured: acme-kms, aws-demo, azure-demo, gcp-demo)`) {
		t.Fatalf("a sync of azure-demo and nowhere: %v, want it refused", err)
	}
	if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: "vault-sync", Kind: schedule.KindSync, Every: "daily 07:00", Sources: []string{"azure-demo"}}); err != nil {
		t.Fatal(err)
	}
	d = runNow(t, c, "vault-sync")
	if !hasStep(d.Steps, "source:azure-demo", schedule.StepDone) || len(d.Steps) != 1 {
		t.Fatalf("sync run %+v steps %+v", d.Run, d.Steps)
	}
	if ev, err := c.ActivityReport(ctx, api.ReportQuery{Actor: "schedule:vault-sync", Operation: "synced"}); err != nil || len(ev.Events) != 1 || ev.Events[0].Source != "azure-demo" {
		t.Fatalf("sync events %+v %v", ev, err)
	}

	// A report schedule keeping one: two runs leave one CSV and one JSON,
	// in the columns the front ends export.
	dir := t.TempDir()
	if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: "aging-report", Kind: schedule.KindReport, Every: "daily 06:00",
		Report: "aging", Dir: dir, Keep: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		d = runNow(t, c, "aging-report")
		if d.Run.Status != schedule.RunDone {
			t.Fatalf("report run %+v steps %+v", d.Run, d.Steps)
		}
		time.Sleep(1100 * time.Millisecond) // the next file's name is a second later
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keyward-aging-*"))
	if len(files) != 2 || !strings.HasSuffix(files[0], ".csv") || !strings.HasSuffix(files[1], ".json") {
		t.Fatalf("report files %v, want one csv and one json", files)
	}
	csvText, _ := os.ReadFile(files[0])
	var doc api.AgingReport
	js, _ := os.ReadFile(files[1])
	if !strings.HasPrefix(string(csvText), "date,milestone,key_id,") || !strings.Contains(string(csvText), "acme-crm-field-kek") ||
		json.Unmarshal(js, &doc) != nil || len(doc.Entries) == 0 {
		t.Fatalf("report CSV %.200q, JSON %.200q", csvText, js)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Fatalf("report mode %v, want 0600", fi.Mode().Perm())
	}
}

func countSteps(steps []schedule.Step, status string) int {
	n := 0
	for _, s := range steps {
		if s.Status == status {
			n++
		}
	}
	return n
}

func hasStep(steps []schedule.Step, target, status string) bool {
	for _, s := range steps {
		if s.Target == target && (status == "" || s.Status == status) {
			return true
		}
	}
	return false
}

// runNow runs a schedule now and waits until the run is over.
func runNow(t *testing.T, c *api.Client, name string) *api.ScheduleDetail {
	t.Helper()
	return daemontest.RunSchedule(t, c, name)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("waited 60 s for %s", what)
}

// newest is the name of the newest generation of app's ring.
func newest(t *testing.T, c *api.Client, app string) string {
	srcs, err := c.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		for _, r := range s.Rings {
			if r.Application == app && len(r.Generations) > 0 {
				return r.Generations[0].Name
			}
		}
	}
	return ""
}

func ringKeyID(t *testing.T, c *api.Client, app, name string) string {
	srcs, _ := c.Sources(context.Background())
	for _, s := range srcs {
		for _, r := range s.Rings {
			for _, g := range r.Generations {
				if r.Application == app && g.Name == name {
					return g.KeyID
				}
			}
		}
	}
	return ""
}

// versions counts the inventory's versions of a vault key.
func versions(t *testing.T, c *api.Client, name string) int {
	p, err := c.Keys(context.Background(), api.KeyQuery{Source: "azure-demo", Text: name, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range p.Keys {
		if k.Name == name {
			n++
		}
	}
	return n
}
