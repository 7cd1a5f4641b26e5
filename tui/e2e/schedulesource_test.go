package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// A sync schedule whose source left the configuration after it was made
// fails its run, and the Schedules pane (7) says so, in words (no colour
// needed): the schedule is failing, and why — the source is no longer
// configured, and which are.
func TestSchedulesPaneShowsAMissingSource(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	keys := seed.AcmeKeys("acme-kms", now)
	stop := startWith(t, cfg, daemon.Options{Now: func() time.Time { return now },
		Sources: []sources.Source{seed.New("acme-kms", keys), seed.New("edge-kms", seed.AcmeKeys("edge-kms", now))}})
	c := api.NewClient(cfg.SocketPath())
	if _, err := c.CreateSchedule(ctx, schedule.Spec{Name: "edge-sync", Kind: schedule.KindSync, Every: "daily 02:00", Sources: []string{"edge-kms"}}); err != nil {
		t.Fatal(err)
	}
	stop()
	runDaemon(t, cfg, keys) // edge-kms is gone
	if d := daemontest.RunSchedule(t, c, "edge-sync"); d.Run.Status != schedule.RunFailed {
		t.Fatalf("run of edge-sync: %+v %+v", d.Run, d.Steps)
	}
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath(), Now: func() time.Time { return now }}, 80, 24)
	waitFor(t, tm, "acme.crm.key.0")
	tm.Type("7")
	waitFor(t, tm, "edge-sync", "1 failing", "failing   last run failed: 1 failed; first failure: source:edge-kms")
	// enter: the run's steps, the reason whole.
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "edge-sync, run 1", "failed: source:edge-kms", `no source "edge-kms" is configured`, "(configured: acme-kms)")
	view := tuitest.Quit(t, tm, 10*time.Second).View()
	if strings.Contains(view, "done") {
		t.Errorf("the run's steps say done:\n%s", view)
	}
}
