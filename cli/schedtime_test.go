package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/schedule"
)

// TestScheduleTimesSayUTC: a schedule in another zone shows its rule in
// that zone ("weekly tue 03:00 Europe/Paris") and its next and last runs
// in UTC; those said no zone ("next run 2026-12-08 02:00"), which read as
// Paris time an hour off.
func TestScheduleTimesSayUTC(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	a := &App{Now: func() time.Time { return now }}
	paris, _ := time.LoadLocation("Europe/Paris")
	next := time.Date(2026, 12, 8, 3, 0, 0, 0, paris)
	s := api.ScheduleInfo{When: "weekly tue 03:00 Europe/Paris", NextRun: &next}
	if got := a.nextRun(s); !strings.HasPrefix(got, "2026-12-08 02:00 UTC (in ") {
		t.Errorf("next run %q, want 2026-12-08 02:00 UTC", got)
	}
	s.Recent = []schedule.Run{{Status: "done", Started: now.Add(-time.Hour)}}
	if got := lastRun(s); got != "done 2026-12-05 00:00 UTC" {
		t.Errorf("last run %q, want done 2026-12-05 00:00 UTC", got)
	}
}
