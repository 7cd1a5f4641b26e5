package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/engine/schedule"
)

// keyward schedule against a real daemon: a config schedule is listed as
// such and refused edits (exit 1), one added over the socket is shown,
// paused, resumed, run (waiting for it) and removed, the dry run lists the
// keys it would touch and why others are skipped, --json is the wire
// contract, and a malformed schedule is a usage error with no daemon.
func TestScheduleCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := daemontest.NewConfig(dir)
	cfg.Schedules = []schedule.Spec{{Name: "weekly-expiring-rotation", Kind: schedule.KindRotate, Every: "weekly mon 02:00", Aging: "expiring-30d"}}
	sock := runAcme(t, cfg, daemon.Options{}, time.Now())

	code, out, errs := run(t, "--socket", sock, "schedule", "list")
	if code != ExitOK || !strings.Contains(out, "weekly-expiring-rotation") || !strings.Contains(out, "config (keyward.toml)") || !strings.Contains(out, "never") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errs)
	}
	// keyward status lists the schedule's health beside the sources;
	// syncing it says what it is and how to run it.
	code, _, errs = run(t, "--socket", sock, "sync", "--source", "schedule:weekly-expiring-rotation")
	if code != ExitUsage || !strings.Contains(errs, "the health of schedule weekly-expiring-rotation, not a source") ||
		!strings.Contains(errs, "keyward schedule run weekly-expiring-rotation") {
		t.Fatalf("syncing a schedule's health row: exit %d, %q", code, errs)
	}
	if code, _, errs = run(t, "--socket", sock, "sync", "--source", "schedule:none"); code != ExitError || !strings.Contains(errs, `no source named "schedule:none"`) {
		t.Fatalf("syncing no schedule: exit %d, %q", code, errs)
	}
	code, _, errs = run(t, "--socket", sock, "schedule", "edit", "weekly-expiring-rotation", "--keep", "3")
	if code != ExitError || !strings.Contains(errs, "defined in keyward.toml") {
		t.Fatalf("editing a config schedule: exit %d, %q", code, errs)
	}
	code, _, errs = run(t, "--socket", sock, "schedule", "rm", "weekly-expiring-rotation")
	if code != ExitError || !strings.Contains(errs, "keyward.toml") {
		t.Fatalf("removing a config schedule: exit %d, %q", code, errs)
	}

	code, out, errs = run(t, "--socket", sock, "schedule", "add", "crm", "--kind", "rotate", "--every", "monthly 1 03:00",
		"--zone", "America/New_York", "--source", "acme-kms", "--pattern", "acme.crm.key.*")
	if code != ExitOK || !strings.Contains(out, "added crm: rotate keys, monthly 1 03:00 America/New_York") {
		t.Fatalf("add: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = run(t, "--socket", sock, "schedule", "add", "crm", "--kind", "rotate", "--every", "daily 01:00")
	if code != ExitError || !strings.Contains(errs, "already exists") {
		t.Fatalf("adding it twice: exit %d, %q", code, errs)
	}
	// A source the daemon does not run: refused, naming it and the ones
	// there are.
	code, _, errs = run(t, "--socket", sock, "schedule", "add", "nightly", "--kind", "sync", "--every", "daily 01:00", "--source", "acme-kmz")
	if code != ExitUsage || !strings.Contains(errs, `no source "acme-kmz" is configured (configured: acme-kms)`) {
		t.Fatalf("adding a sync of no source: exit %d, %q", code, errs)
	}
	// The dry run names every selected key and why it is skipped: the seed
	// source has no rotation.
	code, out, errs = run(t, "--socket", sock, "schedule", "run", "crm", "--dry-run", "--json")
	var dry api.DryRun
	if code != ExitOK || json.Unmarshal([]byte(out), &dry) != nil || len(dry.Steps) == 0 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	// A source that cannot rotate is one skipped target, whatever the
	// number of its keys selected (the acme.crm.key.N not retired).
	if st := dry.Steps[0]; len(dry.Steps) != 1 || st.Target != "source:acme-kms" || st.Status != schedule.StepSkipped ||
		!strings.Contains(st.Reason, "cannot rotate its keys (4 keys selected)") {
		t.Fatalf("dry run steps %+v", dry.Steps)
	}
	code, out, errs = run(t, "--socket", sock, "schedule", "run", "crm", "--dry-run")
	if code != ExitOK || !strings.HasPrefix(out, "a run of crm now would touch 0 targets, skip 1:\n") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	// A KMIP application is rotated directly too (this daemon has no KMIP
	// source: the daemon says so, exit 1); a missing name is a usage error.
	if code, _, errs = run(t, "--socket", sock, "key", "rotate-app", "acme-kms", "crm"); code != ExitError || !strings.Contains(errs, `no KMIP source named "acme-kms"`) {
		t.Fatalf("key rotate-app with no KMIP source: exit %d, %q", code, errs)
	}
	if code, _, _ = run(t, "--socket", sock, "key", "rotate-app", "acme-kms"); code != ExitUsage {
		t.Fatalf("key rotate-app with no application: exit %d, want %d", code, ExitUsage)
	}
	code, out, _ = run(t, "--socket", sock, "schedule", "pause", "crm")
	if code != ExitOK || out != "paused crm\n" {
		t.Fatalf("pause: %d %q", code, out)
	}
	if _, out, _ = run(t, "--socket", sock, "schedule", "list"); !strings.Contains(out, "paused") {
		t.Fatalf("list after pause:\n%s", out)
	}
	if code, _, _ = run(t, "--socket", sock, "schedule", "resume", "crm"); code != ExitOK {
		t.Fatal("resume failed")
	}
	code, out, errs = run(t, "--socket", sock, "schedule", "run", "crm", "--wait")
	if code != ExitOK || !strings.Contains(out, "done (") || !strings.Contains(out, "skipped") {
		t.Fatalf("run --wait: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "--socket", sock, "schedule", "show", "crm", "--json")
	var d api.ScheduleDetail
	if code != ExitOK || json.Unmarshal([]byte(out), &d) != nil || d.Run == nil || d.Run.Trigger != "manual" || len(d.Schedule.Recent) != 1 {
		t.Fatalf("show --json: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "--socket", sock, "schedule", "edit", "crm", "--every", "weekly fri 18:00")
	if code != ExitOK || !strings.Contains(out, "changed crm: rotate keys, weekly fri 18:00 America/New_York") {
		t.Fatalf("edit: %d %q", code, out)
	}
	// Completion suggests the daemon's schedules.
	if code, out, _ = run(t, "--socket", sock, "__complete", "schedule", "run", "cr"); code != ExitOK || !strings.HasPrefix(out, "crm\n") {
		t.Fatalf("completion: %d %q", code, out)
	}
	if code, out, _ = run(t, "--socket", sock, "schedule", "rm", "crm"); code != ExitOK || out != "deleted crm\n" {
		t.Fatalf("rm: %d %q", code, out)
	}
	if code, _, errs = run(t, "--socket", sock, "schedule", "show", "crm"); code != ExitError || !strings.Contains(errs, "not found") {
		t.Fatalf("show after rm: %d %q", code, errs)
	}

	// Usage mistakes, with or without a daemon.
	nowhere := filepath.Join(dir, "none.sock")
	for _, args := range [][]string{
		{"schedule", "add", "x", "--kind", "rotate", "--every", "hourly"},
		{"schedule", "add", "x", "--kind", "rotate", "--every", "daily 02:00", "--zone", "Mars/Base"},
		{"schedule", "add", "x", "--every", "daily 02:00"},
		{"schedule", "add", "x", "--kind", "report", "--every", "daily 02:00", "--report", "aging", "--dir", "reports"},
		{"schedule", "add", "x", "--kind", "rotate", "--every", "daily 02:00", "--tag", "novalue"},
		{"schedule", "show"},
	} {
		if code, _, errs := run(t, append([]string{"--socket", nowhere}, args...)...); code != ExitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errs, ExitUsage)
		}
	}
	if code, _, _ := run(t, "--socket", nowhere, "schedule", "list"); code != ExitUnreachable {
		t.Errorf("list with no daemon: exit %d, want %d", code, ExitUnreachable)
	}
}

// A step's target and reason come from vaults others write to: printed
// cleaned, so an escape sequence in a key name never reaches the terminal.
func TestScheduleStepsPrintCleaned(t *testing.T) {
	var out strings.Builder
	printSteps(&App{Out: &out}, []schedule.Step{{Target: "key:vault/evil\x1b]52;c;aGk=\a", Status: schedule.StepFailed,
		Reason: "rotate evil\x1b[2J: access denied"}})
	if strings.ContainsAny(out.String(), "\x1b\a") || !strings.Contains(out.String(), "access denied") {
		t.Fatalf("printed %q", out.String())
	}
}

// keyward schedule list and show after a schedule's source left the
// configuration and its run failed: the health says degraded and why —
// the source is not configured, and which are — not "ok".
func TestScheduleListShowsAMissingSource(t *testing.T) {
	cfg := daemontest.NewConfig(t.TempDir())
	extra := seed.New("edge-kms", seed.AcmeKeys("edge-kms", time.Now()))
	r := daemontest.Run(t, cfg, daemon.Options{Sources: []sources.Source{extra}})
	code, out, errs := run(t, "--socket", r.Addr, "schedule", "add", "edge-sync", "--kind", "sync", "--every", "daily 01:00", "--source", "edge-kms")
	if code != ExitOK {
		t.Fatalf("add: exit %d\n%s%s", code, out, errs)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	sock := daemontest.Start(t, cfg, daemon.Options{Sources: []sources.Source{seed.New("acme-kms", seed.AcmeKeys("acme-kms", time.Now()))}})
	if code, out, errs = run(t, "--socket", sock, "schedule", "run", "edge-sync", "--wait"); code == ExitOK {
		t.Fatalf("run --wait of a sync of no source: exit 0\n%s%s", out, errs)
	}
	for _, args := range [][]string{{"schedule", "list"}, {"schedule", "show", "edge-sync"}} {
		code, out, errs = run(t, append([]string{"--socket", sock}, args...)...)
		if code != ExitOK || !strings.Contains(out, "degraded: last run failed") ||
			!strings.Contains(out, `no source "edge-kms" is configured (configured: acme-kms)`) {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
}
