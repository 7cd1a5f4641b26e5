package gcp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/engine/schedule"
)

// Schedules over Google keys, end to end on the Cloud KMS fake: a rotate
// schedule makes a new version of a generated key and makes it primary,
// and skips (saying why) an import-only key Google cannot make versions
// of; a backup schedule backs up only the key keyward uploaded (its kept
// material) and skips the generated one with the reason, instead of
// failing the run on it.
func TestGCPSchedules(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, addr := gcp.ServeFake(t)
	dir := t.TempDir()
	outside := gcp.Console(t, addr)
	if _, err := outside.Create(ctx, cloud.CreateRequest{Name: "tokens", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	cfg := daemontest.Config(t, dir, gcp.ProdSection(addr)+`
[[schedule]]
name = "gcp-rotate"
kind = "rotate"
every = "monthly 1 03:00"
sources = ["gcp-prod"]

[[schedule]]
name = "gcp-backup"
kind = "backup"
every = "daily 02:00"
sources = ["gcp-prod"]
keep = 2
`)
	daemontest.AddKMIPRings(t, cfg, dir)
	sock := daemontest.Start(t, cfg, daemon.Options{})
	c := api.NewClient(sock)
	kw := clitest.Runner(t, sock)
	kw("sync", "--source", "kms")
	kw("key", "upload", "gcp-prod", "crm-byok", "--from-source", "kms", "--from-app", "crm")
	kw("sync", "--source", "gcp-prod")

	run := func(name string) *api.ScheduleDetail { t.Helper(); return daemontest.RunSchedule(t, c, name) }
	step := func(d *api.ScheduleDetail, target string) schedule.Step {
		t.Helper()
		for _, st := range d.Steps {
			if st.Target == target {
				return st
			}
		}
		t.Fatalf("no step %s in %+v", target, d.Steps)
		return schedule.Step{}
	}
	const tokens, byok = "key:gcp-prod/us/legacy/tokens", "key:gcp-prod/europe-west1/payments/crm-byok"

	d := run("gcp-rotate")
	if d.Run.Status != schedule.RunDone {
		t.Fatalf("rotate run %+v steps %+v", d.Run, d.Steps)
	}
	if st := step(d, tokens); st.Status != schedule.StepDone || st.Before != "1" || st.After != "2" {
		t.Errorf("rotation of tokens: %+v, want done from version 1 to 2", st)
	}
	if st := step(d, byok); st.Status != schedule.StepSkipped || !strings.Contains(st.Reason, "import-only") {
		t.Errorf("rotation of the import-only key: %+v, want skipped saying why", st)
	}
	// The new version is the primary one.
	primary := ""
	for _, k := range clitest.Keys(t, sock, "gcp-prod") {
		if k.Name == "us/legacy/tokens" && k.Tags[gcp.TagPrimary] == "true" {
			primary = k.Version
		}
	}
	if primary != "2" {
		t.Errorf("tokens' primary version %q after the rotation, want 2", primary)
	}

	d = run("gcp-backup")
	if d.Run.Status != schedule.RunDone {
		t.Fatalf("backup run %+v steps %+v", d.Run, d.Steps)
	}
	if st := step(d, tokens); st.Status != schedule.StepSkipped || !strings.Contains(st.Reason, "not supported") {
		t.Errorf("backup of the generated key: %+v, want skipped with the reason", st)
	}
	st := step(d, byok)
	if st.Status != schedule.StepDone || st.After == "" {
		t.Errorf("backup of the uploaded key: %+v, want done", st)
	}
	// Google exports nothing: the uploaded key's backup is the copy
	// keyward kept at upload, which the step names.
	backups, err := c.CloudBackups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mine := 0
	for _, b := range backups {
		if b.ID == st.After {
			mine++
			if b.Key != "europe-west1/payments/crm-byok" || b.Source != "gcp-prod" {
				t.Errorf("the schedule's backup %s is of %s/%s", b.ID, b.Source, b.Key)
			}
		}
		if b.Key == "us/legacy/tokens" {
			t.Errorf("a backup of the generated key: %+v", b)
		}
	}
	if mine != 1 {
		t.Errorf("the step names backup %q, stored %d times, want once", st.After, mine)
	}
}
