package gcp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
)

// TestBackupScheduleTrimsUploadCopies: a backup schedule keeping 1 over a
// Google key whose three uploaded versions left three copies (the same
// material twice, then another) deletes the older duplicate — saying so
// in its step and as a backup-deleted event of the schedule — and keeps
// the copy that is the only one of the first material, which then
// restores through the CLI.
func TestBackupScheduleTrimsUploadCopies(t *testing.T) {
	ctx := context.Background()
	_, addr := gcp.ServeFake(t)
	dir := t.TempDir()
	cfg := daemontest.Config(t, dir, gcp.ProdSection(addr)+`
[[schedule]]
name = "gcp-backup"
kind = "backup"
every = "daily 02:00"
sources = ["gcp-prod"]
keep = 1
`)
	sock := daemontest.Start(t, cfg, daemon.Options{})
	c := api.NewClient(sock)
	kw := clitest.Runner(t, sock)
	files := map[string]string{}
	for _, n := range []string{"first", "second"} {
		m := make([]byte, 32)
		_, _ = rand.Read(m)
		files[n] = testkit.WriteFile(t, dir, n+".key", []byte(hex.EncodeToString(m)))
	}
	for _, n := range []string{"first", "first", "second"} {
		kw("key", "upload", "gcp-prod", "crm-byok", "--from-file", files[n])
		time.Sleep(1100 * time.Millisecond) // each copy its own second: newest first is upload order
	}
	kw("sync", "--source", "gcp-prod")
	const key = "europe-west1/payments/crm-byok"
	copies := func() []string {
		t.Helper()
		bs, err := c.CloudBackups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range bs {
			if b.Key == key {
				ids = append(ids, b.ID)
			}
		}
		return ids
	}
	before := copies()
	if len(before) != 3 {
		t.Fatalf("copies kept at upload: %v", before)
	}
	newest, only, dup := before[0], before[1], before[2]

	r, err := c.RunSchedule(ctx, "gcp-backup")
	if err != nil {
		t.Fatal(err)
	}
	var d *api.ScheduleDetail
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if d, err = c.Schedule(ctx, "gcp-backup", r.ID); err == nil && d.Run != nil && d.Run.Status != schedule.RunRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backup run did not finish: %v", err)
		}
	}
	i := slices.IndexFunc(d.Steps, func(s schedule.Step) bool { return s.Target == "key:gcp-prod/"+key })
	if d.Run.Status != schedule.RunDone || i < 0 || d.Steps[i].After != newest ||
		!strings.Contains(d.Steps[i].Reason, "deleted "+dup+" (a copy kept holds the same material)") ||
		!strings.Contains(d.Steps[i].Reason, "kept "+only+" beyond the last 1: the only copy of its material") {
		t.Fatalf("backup run %+v, steps %+v", d.Run, d.Steps)
	}
	if got := copies(); !slices.Equal(got, []string{newest, only}) {
		t.Fatalf("copies after the run: %v, want %s and %s", got, newest, only)
	}
	rep, err := c.ActivityReport(ctx, api.ReportQuery{Source: "gcp-prod", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, ev := range rep.Events {
		if ev.Operation == engine.OpBackupDeleted {
			deleted++
			if ev.Actor != "schedule:gcp-backup" || !strings.Contains(ev.Details, dup) {
				t.Errorf("the trim's event: %+v", ev)
			}
		}
	}
	if deleted != 1 {
		t.Errorf("%d backup-deleted events, want 1", deleted)
	}
	if out := kw("key", "restore", only); !strings.Contains(out, "restored") {
		t.Errorf("restore of the copy that stayed:\n%s", out)
	}
}
