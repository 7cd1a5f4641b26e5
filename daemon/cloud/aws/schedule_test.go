package aws_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/schedule"
)

// A rotation schedule's daemon dies right after AWS accepted its
// RotateKeyOnDemand, before the answer reached it. AWS rotates
// asynchronously: when the daemon comes back the key's material is still
// the old one and the rotation is in progress (the stand-in refuses a
// second one with ConflictException, as AWS does). The resumed run must
// see the rotation it asked for — in progress now, then done — and never
// ask for another.
func TestAWSScheduleRotationCrashAfterCall(t *testing.T) {
	lk := aws.StartLocalKMS(t)
	ctx := context.Background()
	dir := t.TempDir()
	outside, err := aws.New(ctx, aws.Settings{Name: "console", Region: aws.TestRegion, StaticKeysFile: aws.WriteStaticKeys(t, dir), Endpoint: lk.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := outside.Create(ctx, cloud.CreateRequest{Name: "sched-rot", Type: "oct", Size: 256})
	if err != nil {
		t.Fatal(err)
	}
	cfg := awsConfig(t, dir, lk, `
[[schedule]]
name = "rot"
kind = "rotate"
every = "monthly 1 03:00"
sources = ["aws-prod"]
`)
	// The first daemon is stopped (its context ends) the moment AWS has
	// accepted the rotation, before the answer is sent: what the store
	// holds then is what a kill -9 right after the call leaves.
	var mu sync.Mutex
	var crash context.CancelFunc
	crashed := make(chan struct{})
	lk.SetAsyncRotation(func() {
		mu.Lock()
		defer mu.Unlock()
		if crash != nil {
			crash()
			crash = nil
			close(crashed)
		}
	})
	start := func() *testkit.Running {
		return testkit.Start(t, "the daemon", 30*time.Second, func(ctx context.Context, ready func(string)) error {
			ctx, cancel := context.WithCancel(ctx)
			mu.Lock()
			if crash == nil {
				select {
				case <-crashed:
				default:
					crash = cancel
				}
			}
			mu.Unlock()
			defer cancel()
			return daemon.Run(ctx, cfg, daemon.Options{Ready: ready, Logger: slog.New(slog.DiscardHandler)})
		})
	}
	first := start()
	c := api.NewClient(first.Addr)
	daemontest.WaitKeys(t, c, "aws-prod", 1)
	if _, err := c.RunSchedule(ctx, "rot"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-crashed:
	case <-time.After(60 * time.Second):
		t.Fatal("the run never asked AWS to rotate")
	}
	_ = first.Stop()
	if n := lk.Asked(); n != 1 {
		t.Fatalf("%d RotateKeyOnDemand calls before the crash, want 1", n)
	}

	// The rotation is still in progress when the daemon comes back.
	second := start()
	c = api.NewClient(second.Addr)
	d := daemontest.WaitRun(t, c, "rot", 0)
	if n := lk.Asked(); n != 1 {
		t.Fatalf("the resumed run asked AWS to rotate again: %d RotateKeyOnDemand calls", n)
	}
	if d.Run.Status != schedule.RunDone || !d.Run.Resumed || len(d.Steps) != 1 || d.Steps[0].Status != schedule.StepDone ||
		!strings.Contains(d.Steps[0].Reason, "in progress") {
		t.Fatalf("resumed run %+v, steps %+v: want done, resumed, the rotation seen in progress", d.Run, d.Steps)
	}
	lk.CompleteRotations()
	if got := lk.Rotations(kv.Name); got != 1 {
		t.Fatalf("%d on-demand rotations of %s, want 1", got, kv.Name)
	}
}
