package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/engine/schedule"
)

func TestScheduleRunsOnceAndNeverOverlap(t *testing.T) {
	ctx := context.Background()
	st := openFile(t, filepath.Join(t.TempDir(), "k.db"))
	defer st.Close()
	due := time.Date(2027, 1, 4, 2, 0, 0, 0, time.UTC)
	next := due.AddDate(0, 0, 7)
	spec := schedule.Spec{Name: "rot", Kind: schedule.KindRotate, Every: "weekly mon 02:00"}
	if err := st.PutSchedule(ctx, ScheduleRow{Spec: spec, Origin: schedule.OriginAPI, NextDue: &due}, true); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSchedule(ctx, ScheduleRow{Spec: spec, Origin: schedule.OriginAPI, NextDue: &due}, true); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	r, err := st.ClaimRun(ctx, Claim{Schedule: "rot", Due: due, Trigger: "schedule", Actor: "schedule:rot", Next: &next})
	if err != nil {
		t.Fatal(err)
	}
	// The same occurrence again (a second loop, a restarted daemon): never.
	if _, err := st.ClaimRun(ctx, Claim{Schedule: "rot", Due: due, Trigger: "schedule", Actor: "schedule:rot", Next: &next}); !errors.Is(err, ErrClaimed) {
		t.Fatalf("claiming an occurrence twice: %v, want ErrClaimed", err)
	}
	// A manual run while one runs: refused.
	if _, err := st.ClaimRun(ctx, Claim{Schedule: "rot", Due: due.Add(time.Hour), Trigger: "manual", Actor: "ann"}); !errors.Is(err, ErrRunning) {
		t.Fatalf("overlapping run: %v, want ErrRunning", err)
	}
	if err := st.DeleteSchedule(ctx, "rot"); !errors.Is(err, ErrRunning) {
		t.Fatalf("delete while running: %v, want ErrRunning", err)
	}
	steps := []schedule.Step{{Seq: 0, Target: "v/a", Status: schedule.StepPending}, {Seq: 1, Target: "v/b", Status: schedule.StepPending}}
	if err := st.AddSteps(ctx, r.ID, steps); err != nil {
		t.Fatal(err)
	}
	if err := st.SetStep(ctx, r.ID, schedule.Step{Target: "v/a", Status: schedule.StepCalling, Before: "1"}); err != nil {
		t.Fatal(err)
	}
	// Recording the targets again (a resumed run) keeps what they say.
	if err := st.AddSteps(ctx, r.ID, steps); err != nil {
		t.Fatal(err)
	}
	got, err := st.Steps(ctx, r.ID)
	if err != nil || len(got) != 2 || got[0].Status != schedule.StepCalling || got[0].Before != "1" {
		t.Fatalf("steps %+v %v", got, err)
	}
	running, _ := st.RunningRuns(ctx)
	if len(running) != 1 || running[0].ID != r.ID {
		t.Fatalf("running %+v", running)
	}
	if err := st.FinishRun(ctx, r.ID, schedule.RunDone, "2 rotated"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimRun(ctx, Claim{Schedule: "rot", Due: due.Add(time.Hour), Trigger: "manual", Actor: "ann"}); err != nil {
		t.Fatalf("manual run after the first finished: %v", err)
	}
	sc, _ := st.Schedule(ctx, "rot")
	if sc.NextDue == nil || !sc.NextDue.Equal(next) {
		t.Fatalf("next due %v, want %v", sc.NextDue, next)
	}
}
