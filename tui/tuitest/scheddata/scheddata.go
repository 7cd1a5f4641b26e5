// Package scheddata is the sample schedules the TUI tests serve (test data
// only; it imports nothing of the TUI, so the pane's own tests can use it).
package scheddata

import (
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/schedule"
)

// SampleSchedules are the schedules test backends serve at now: the
// demo's two (config), one made over the socket whose last run failed in
// part, and a paused report.
func SampleSchedules(now time.Time) []api.ScheduleInfo {
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	runs := func(name string, statuses ...string) []schedule.Run {
		var out []schedule.Run
		for i, s := range statuses { // newest first
			started := now.Add(-time.Duration(i+1) * 24 * time.Hour)
			fin := started.Add(2 * time.Second)
			out = append(out, schedule.Run{ID: int64(100 - i), Schedule: name, Due: started, Trigger: "schedule", Actor: "schedule:" + name,
				Started: started, Finished: &fin, Status: s, Summary: summary(s)})
		}
		return out
	}
	return []api.ScheduleInfo{
		{Spec: schedule.Spec{Name: "daily-vault-backup", Kind: schedule.KindBackup, Every: "daily 01:30", Sources: []string{"azure-demo"}, Keep: 7},
			Origin: schedule.OriginConfig, When: "daily 01:30 UTC", NextRun: at(13*time.Hour + 30*time.Minute), Health: "ok",
			Recent: runs("daily-vault-backup", "done", "done", "done", "skipped", "done", "done", "done")},
		{Spec: schedule.Spec{Name: "weekly-expiring-rotation", Kind: schedule.KindRotate, Every: "weekly mon 02:00", Aging: "expiring-30d", Jitter: "30m"},
			Origin: schedule.OriginConfig, When: "weekly mon 02:00 UTC", NextRun: at(14*time.Hour + 12*time.Minute), Health: "unknown"},
		{Spec: schedule.Spec{Name: "crm-rotation", Kind: schedule.KindRotate, Every: "monthly 1 03:00", Zone: "Europe/Paris", Sources: []string{"acme-kms", "azure-demo"}, Pattern: "acme?crm*"},
			Origin: schedule.OriginAPI, When: "monthly 1 03:00 Europe/Paris", NextRun: at(7*24*time.Hour + 14*time.Hour), Health: "degraded",
			Reason: "last run partial: 2 done, 1 failed", Recent: runs("crm-rotation", "partial", "done", "failed", "done")},
		{Spec: schedule.Spec{Name: "aging-csv", Kind: schedule.KindReport, Every: "weekly fri 18:00", Report: "aging", Dir: "/var/lib/keyward/reports", Keep: 12},
			Origin: schedule.OriginAPI, Paused: true, When: "weekly fri 18:00 UTC", Health: "ok", Recent: runs("aging-csv", "done", "done")},
	}
}

func summary(status string) string {
	switch status {
	case schedule.RunDone:
		return "3 done"
	case schedule.RunPartial:
		return "2 done, 1 failed"
	case schedule.RunFailed:
		return "1 failed"
	}
	return "skipped: the previous run was still running (runs never overlap)"
}

// SampleDryRun is the dry run of crm-rotation.
func SampleDryRun(name string) *api.DryRun {
	return &api.DryRun{Schedule: name, Steps: []schedule.Step{
		{Seq: 0, Target: "app:acme-kms/crm", KeyID: "acme-kms/acme.crm.key.5", Status: schedule.StepPending},
		{Seq: 1, Target: "key:azure-demo/acme-crm-export-signing", KeyID: "azure-demo/acme-crm-export-signing/1", Status: schedule.StepPending},
		{Seq: 2, Target: "key:azure-demo/acme-crm-field-kek", KeyID: "azure-demo/acme-crm-field-kek/4", Status: schedule.StepPending},
		{Seq: 3, Target: "key:acme-kms/acme.crm.key.legacy", Status: schedule.StepSkipped, Reason: "a KMIP key of no application"},
	}}
}

// SampleDetail is s with the steps of its latest run: for crm-rotation,
// one rotated, one skipped and one failed.
func SampleDetail(s api.ScheduleInfo) *api.ScheduleDetail {
	d := &api.ScheduleDetail{Schedule: s, Steps: []schedule.Step{}}
	if len(s.Recent) == 0 {
		return d
	}
	run := s.Recent[0]
	d.Run = &run
	if s.Name == "crm-rotation" {
		d.Steps = []schedule.Step{
			{Seq: 0, Target: "app:acme-kms/crm", Status: schedule.StepDone, Before: "acme.crm.key.5", After: "acme.crm.key.6"},
			{Seq: 1, Target: "key:azure-demo/acme-crm-field-kek", Status: schedule.StepFailed, Before: "4c1f09",
				Reason: "rotate acme-crm-field-kek in azure-demo: access denied by the vault: no keys/rotate permission"},
			{Seq: 2, Target: "key:acme-kms/acme.crm.key.legacy", Status: schedule.StepSkipped, Reason: "a KMIP key of no application"},
		}
	}
	return d
}
