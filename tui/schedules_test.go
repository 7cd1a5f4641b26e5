package tui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui"
)

// TestSchedulesPaneGolden: the Schedules pane at 80×24 — next run, last
// outcome, the history strip, the selected schedule's details — readable
// without colour (the goldens' Ascii profile, as NO_COLOR).
func TestSchedulesPaneGolden(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	openPane(t, tm, "7", "daily-vault-backup", "crm-rotation", "4 schedules, 1 failing")
	golden(t, tm, 80, 24)
}

// TestSchedulesPaneFlow presses the pane's keys: a dry run lists exactly
// what a run would touch, run now and pause ask first and then call the
// daemon, a config schedule is not paused from here, esc cancels.
func TestSchedulesPaneFlow(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 24)
	openPane(t, tm, "7", "daily-vault-backup")
	// enter: what the latest run did to each key.
	press(tm, "j", "j", "enter")
	waitFor(t, tm, "crm-rotation, run 100", "done: app:acme-kms/crm → acme.crm.key.6", "failed: key:azure-demo/acme-crm-field-kek — rotate", "skipped: key:acme-kms/acme.crm.key.legacy — a KMIP key of")
	press(tm, "esc", "d")
	waitFor(t, tm, "Dry run of crm-rotation", "touches 3 targets", "app:acme-kms/crm", "skips 1", "no application")
	press(tm, "esc", "R")
	waitFor(t, tm, "Run crm-rotation now?")
	press(tm, "esc")
	f.wantCalls(t, "show crm-rotation", "dry-run crm-rotation") // esc sent nothing
	press(tm, "R", "enter")
	waitFor(t, tm, "started run 101 of crm-rotation")
	press(tm, "k", "p")
	waitFor(t, tm, "defined in keyward.toml: pause it there")
	press(tm, "j", "j", "p")
	waitFor(t, tm, "Resume aging-csv?") // paused: p offers to resume
	press(tm, "esc", "k", "p")
	waitFor(t, tm, "Pause crm-rotation?")
	press(tm, "enter")
	waitFor(t, tm, "paused crm-rotation")
	view := golden(t, tm, 80, 24)
	if !strings.Contains(view, "›crm-rotation") || !strings.Contains(view, "paused") {
		t.Errorf("after the pause:\n%s", view)
	}
	f.wantCalls(t, "show crm-rotation", "dry-run crm-rotation", "run crm-rotation", "pause crm-rotation")
}

// Read-only (a user-role caller): run now and pause are not offered; the
// dry run is.
func TestSchedulesPaneReadOnly(t *testing.T) {
	f := newFixture()
	tm := startWith(t, f, 80, 24, tui.Options{ReadOnly: true})
	openPane(t, tm, "7", "daily-vault-backup")
	press(tm, "R", "p", "d")
	waitFor(t, tm, "Dry run of daily-vault-backup")
	view := finalView(t, tm)
	if strings.Contains(view, "R run now") || strings.Contains(view, "p pause") {
		t.Errorf("read-only help offers changes:\n%s", view)
	}
	f.wantCalls(t, "dry-run daily-vault-backup")
}

// A schedule's health row in the Sources pane is no source: y or Y on it
// leads to the schedule in the Schedules pane (where R runs it) and says
// so, K in its view does the same (not an empty Keys pane), and the Keys
// pane does not offer it as a source filter. Nothing is sent to sync.
func TestScheduleHealthRowInSources(t *testing.T) {
	f := newFixture()
	row := engine.Source{Name: "schedule:crm-rotation", Kind: "schedule", Health: engine.HealthDegraded,
		Reason: "last run partial (1 done, 1 failed)"}
	f.sources = append(f.sources, api.SourceInfo{Source: row})
	f.status.Sources = append(f.status.Sources, row)
	tm := start(t, f, 80, 24)
	openPane(t, tm, "5", "schedule:crm-rot")
	press(tm, "j", "j", "j", "Y")
	waitFor(t, tm, "schedule crm-rotation does not sync: R runs it", "›crm-rotation")
	press(tm, "5", "enter")
	waitFor(t, tm, "K: schedule crm-rotation in the Schedules pane")
	press(tm, "K")
	waitFor(t, tm, "4 schedules, 1 failing", "›crm-rotation")
	// The Keys pane's source filter cycles over the sources only: after
	// the three sources, every source again (not the schedule's row).
	press(tm, "1")
	waitFor(t, tm, "acme.crm.key")
	for range len(f.sources) {
		press(tm, "o")
	}
	view := finalView(t, tm)
	if strings.Contains(view, "schedule:crm-rotation") {
		t.Errorf("the Keys pane offers a schedule's health as a source:\n%s", view)
	}
	f.wantCalls(t)
}

// A dry run of a schedule over 10,000 keys: the preview says the counts
// first and the skipped targets with why on its first screen, pages with
// pgdn and G reaches the last target, each key answered at once.
func TestSchedulesDryRunOf10000Keys(t *testing.T) {
	f := newFixture()
	d := &api.DryRun{Schedule: "daily-vault-backup"}
	for i := range 10000 {
		d.Steps = append(d.Steps, schedule.Step{Seq: i, Target: fmt.Sprintf("key:vault/k-%05d", i), Status: schedule.StepPending})
	}
	d.Steps = append(d.Steps, schedule.Step{Seq: 10000, Target: "source:acme-kms", Status: schedule.StepSkipped,
		Reason: "the KMS keeps KMIP keys: keyward does not back them up (9 keys selected)"})
	f.dryRun = d
	tm := start(t, f, 80, 24)
	openPane(t, tm, "7", "daily-vault-backup")
	press(tm, "d")
	waitFor(t, tm, "touches 10000 targets, skips 1", "source:acme-kms — the KMS keeps KMIP keys", "key:vault/k-00000", "(line 1 of 10006)")
	press(tm, "pgdown", "pgdown")
	waitFor(t, tm, "key:vault/k-00030")
	press(tm, "G")
	waitFor(t, tm, "key:vault/k-09999")
	press(tm, "g")
	waitFor(t, tm, "touches 10000 targets, skips 1")
}

// The selection stays on its schedule when the list is fetched again and
// a schedule added before it (another admin) moved the rows: d, enter, R
// and p then act on the schedule the cursor was on, not on the one that
// took its row number.
func TestSchedulesSelectionFollowsItsSchedule(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 24)
	openPane(t, tm, "7", "daily-vault-backup")
	press(tm, "j", "j")
	waitFor(t, tm, "›crm-rotation")
	f.mu.Lock()
	added := f.scheduleList()[0]
	added.Name, added.Recent, added.Running = "aaa-added", nil, nil
	f.scheds = append([]api.ScheduleInfo{added}, f.scheds...)
	f.mu.Unlock()
	f.notes <- notification(api.NoteSchedules, "")
	waitFor(t, tm, "aaa-added")
	press(tm, "d")
	waitFor(t, tm, "Dry run of crm-rotation")
	f.wantCalls(t, "dry-run crm-rotation")
}
