package daemon

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
)

// A schedule that names a source the daemon does not run is refused when
// it is added or edited (400, naming the source and the ones there are),
// and one whose source left keyward.toml after it was made fails each run
// saying so — run status, step, activity event, the schedule's health —
// instead of ending "done" having done nothing.
func TestScheduleNamingAMissingSource(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	extra := func() Options {
		return Options{Sources: []sources.Source{seed.New("extra-kms", seed.AcmeKeys("extra-kms", time.Now()))}}
	}
	r := startOpts(t, cfg, extra())
	c := api.NewClient(r.socket)

	refused := func(sp schedule.Spec, edit bool) {
		t.Helper()
		var err error
		if edit {
			_, err = c.EditSchedule(ctx, sp)
		} else {
			_, err = c.CreateSchedule(ctx, sp)
		}
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Fatalf("%s schedule %s naming source nope: %v, want a 400", sp.Kind, sp.Name, err)
		}
		for _, want := range []string{`"nope"`, "acme-kms", "extra-kms"} {
			if !strings.Contains(ae.Message, want) {
				t.Fatalf("%s schedule naming source nope: %q does not say %s", sp.Kind, ae.Message, want)
			}
		}
	}
	for _, kind := range []schedule.Kind{schedule.KindSync, schedule.KindBackup, schedule.KindRotate} {
		refused(schedule.Spec{Name: "bad-" + string(kind), Kind: kind, Every: "daily 02:00", Sources: []string{"acme-kms", "nope"}}, false)
	}
	for _, sp := range []schedule.Spec{
		{Name: "sync-extra", Kind: schedule.KindSync, Every: "daily 02:00", Sources: []string{"extra-kms"}},
		{Name: "backup-extra", Kind: schedule.KindBackup, Every: "daily 02:00", Sources: []string{"extra-kms"}},
	} {
		if _, err := c.CreateSchedule(ctx, sp); err != nil {
			t.Fatalf("create %s over a configured source: %v", sp.Name, err)
		}
	}
	refused(schedule.Spec{Name: "sync-extra", Kind: schedule.KindSync, Every: "daily 02:00", Sources: []string{"nope"}}, true)
	if in, _ := c.Schedules(ctx); len(in) != 2 {
		t.Fatalf("schedules after the refusals: %+v", in)
	}
	if d := runNow(t, c, "sync-extra"); d.Run.Status != schedule.RunDone || len(d.Steps) != 1 || d.Steps[0].Status != schedule.StepDone {
		t.Fatalf("sync of a configured source: %+v %+v", d.Run, d.Steps)
	}

	// extra-kms leaves the configuration: the same data directory, the
	// daemon started again without it.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r = startOpts(t, cfg, Options{})
	c = api.NewClient(r.socket)
	for _, name := range []string{"sync-extra", "backup-extra"} {
		d := runNow(t, c, name)
		if d.Run.Status != schedule.RunFailed || len(d.Steps) != 1 || d.Steps[0].Status != schedule.StepFailed ||
			d.Steps[0].Target != "source:extra-kms" || !strings.Contains(d.Steps[0].Reason, `no source "extra-kms" is configured (configured: acme-kms)`) {
			t.Fatalf("%s run over a source no longer configured: %+v %+v", name, d.Run, d.Steps)
		}
		in, err := c.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range in {
			if s.Name == name && (s.Health != string(engine.HealthDegraded) || !strings.Contains(s.Reason, `no source "extra-kms"`)) {
				t.Fatalf("%s health %q %q", name, s.Health, s.Reason)
			}
		}
		ev, err := c.ActivityReport(ctx, api.ReportQuery{Operation: engine.OpScheduleStepFail, Actor: "schedule:" + name})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Events) != 1 || !strings.Contains(ev.Events[0].Details, `source:extra-kms failed: no source "extra-kms" is configured`) {
			t.Fatalf("%s step-failed events: %+v", name, ev.Events)
		}
	}
	// The dry run says so too.
	steps, err := c.DryRunSchedule(ctx, "sync-extra")
	if err != nil || len(steps.Steps) != 1 || steps.Steps[0].Status != schedule.StepFailed {
		t.Fatalf("dry run: %+v %v", steps, err)
	}
}

// runNow runs schedule name now and returns the run once it has ended.
func runNow(t *testing.T, c *api.Client, name string) *api.ScheduleDetail {
	t.Helper()
	ctx := context.Background()
	run, err := c.RunSchedule(ctx, name)
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	var d *api.ScheduleDetail
	testkit.Eventually(t, 30*time.Second, "the run of "+name, func() bool {
		d, err = c.Schedule(ctx, name, run.ID)
		return err == nil && d.Run != nil && d.Run.Status != schedule.RunRunning
	}, nil)
	return d
}

// A [[schedule]] of keyward.toml naming a source the file does not
// configure stops the start, naming it and the configured ones, as a
// malformed one does: it would never touch what it names.
func TestConfigScheduleNamingAMissingSourceStopsTheStart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Schedules = []schedule.Spec{{Name: "nightly", Kind: schedule.KindSync, Every: "daily 02:00", Sources: []string{"acme-kmz"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Run(ctx, cfg, Options{Logger: discardLogger(), Sources: []sources.Source{seed.New("acme-kms", seed.AcmeKeys("acme-kms", time.Now()))}})
	if err == nil || !strings.Contains(err.Error(), `schedule "nightly"`) || !strings.Contains(err.Error(), `no source "acme-kmz" is configured (configured: acme-kms)`) {
		t.Fatalf("start with a schedule of no source: %v", err)
	}
}
