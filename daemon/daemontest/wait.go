package daemontest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/schedule"
)

// WaitTimeout bounds the waits of this file: a schedule's run over a
// cloud stand-in, a first sync, on a loaded machine.
const WaitTimeout = 90 * time.Second

// RunSchedule runs schedule name now through c (POST /v1/schedules/{name}/run)
// and returns the run with its steps once it has ended (WaitRun).
func RunSchedule(t testing.TB, c *api.Client, name string) *api.ScheduleDetail {
	t.Helper()
	run, err := c.RunSchedule(context.Background(), name)
	if err != nil {
		t.Fatalf("run schedule %s: %v", name, err)
	}
	return WaitRun(t, c, name, run.ID)
}

// WaitRun waits until run (0: the latest) of schedule name is no longer
// running, and returns it with its steps; a run still going after
// WaitTimeout fails the test with its state.
func WaitRun(t testing.TB, c *api.Client, name string, run int64) *api.ScheduleDetail {
	t.Helper()
	var d *api.ScheduleDetail
	var err error
	testkit.Eventually(t, WaitTimeout, fmt.Sprintf("run %d of schedule %s to end", run, name), func() bool {
		d, err = c.Schedule(context.Background(), name, run)
		return err == nil && d.Run != nil && d.Run.Status != schedule.RunRunning
	}, func() string { return fmt.Sprintf("%+v (%v)", d, err) })
	return d
}

// WaitKeys waits until c lists at least n keys of source (its first sync).
func WaitKeys(t testing.TB, c *api.Client, source string, n int) {
	t.Helper()
	var got int
	var err error
	testkit.Eventually(t, WaitTimeout, fmt.Sprintf("%d keys of %s", n, source), func() bool {
		var p *api.KeysPage
		if p, err = c.Keys(context.Background(), api.KeyQuery{Source: source}); err == nil {
			got = len(p.Keys)
		}
		return err == nil && got >= n
	}, func() string { return fmt.Sprintf("%d keys (%v)", got, err) })
}
