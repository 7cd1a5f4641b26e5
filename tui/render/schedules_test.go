package render

import (
	"testing"

	"github.com/keyward/keyward/engine/schedule"
)

// A schedule's selection reads the same every time, its tags in order
// (a map's order is random), and says what a backup keeps.
func TestScheduleSelection(t *testing.T) {
	s := schedule.Spec{Kind: schedule.KindBackup, Sources: []string{"azure-demo", "aws-demo"}, Pattern: "orders-*",
		Tags: map[string]string{"team": "payments", "env": "prod", "cost": "eu-1"}, Keep: 7}
	want := "sources azure-demo, aws-demo; names orders-*; tags cost=eu-1, env=prod, team=payments; keeping 7"
	for range 20 {
		if got := ScheduleSelection(s); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
	if got := ScheduleSelection(schedule.Spec{Kind: schedule.KindRotate}); got != "" {
		t.Errorf("a schedule of everything: %q", got)
	}
}
