package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// clock is a pinned, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func at(s string) time.Time          { t, _ := time.Parse(time.RFC3339, s); return t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// vault is a key store that counts rotations: what the scheduler must never
// do twice. Versions move by one per rotation.
type vault struct {
	mu       sync.Mutex
	versions map[string]int
	rotated  map[string]int
	fail     map[string]error
	block    chan struct{} // when set, Do waits on it
	started  chan string
}

func newVault(keys ...string) *vault {
	v := &vault{versions: map[string]int{}, rotated: map[string]int{}, fail: map[string]error{}}
	for _, k := range keys {
		v.versions[k] = 1
	}
	return v
}

func (v *vault) Plan(ctx context.Context, s *schedule.Schedule) ([]schedule.Step, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []schedule.Step
	i := 0
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, ok := v.versions[k]; ok {
			out = append(out, schedule.Step{Seq: i, Target: "vault/" + k, KeyID: "vault/" + k, Status: schedule.StepPending})
			i++
		}
	}
	return out, nil
}

// Check refuses a schedule naming any source but the vault's.
func (v *vault) Check(_ context.Context, s *schedule.Schedule) error {
	for _, src := range s.Sources {
		if src != "vault" {
			return fmt.Errorf("%w: sources: no source %q", schedule.ErrInvalid, src)
		}
	}
	return nil
}

func (v *vault) Before(ctx context.Context, s *schedule.Schedule, run schedule.Run, st schedule.Step) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return fmt.Sprint(v.versions[st.Target[len("vault/"):]]), nil
}

func (v *vault) Do(ctx context.Context, s *schedule.Schedule, run schedule.Run, st schedule.Step, actor string) (string, string, error) {
	k := st.Target[len("vault/"):]
	if v.started != nil {
		v.started <- k
	}
	if v.block != nil {
		select {
		case <-v.block:
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.fail[k]; err != nil {
		return "", "", err
	}
	if cur := fmt.Sprint(v.versions[k]); cur != st.Before {
		return cur, "already rotated (version " + cur + ")", nil
	}
	v.versions[k]++
	v.rotated[k]++
	return fmt.Sprint(v.versions[k]), "", nil
}

type harness struct {
	t      *testing.T
	st     *store.Store
	clk    *clock
	v      *vault
	mu     sync.Mutex
	events []engine.Event
	health map[string]string
}

func newHarness(t *testing.T, start time.Time, v *vault) *harness {
	return &harness{t: t, st: storetest.New(t), clk: &clock{t: start}, v: v, health: map[string]string{}}
}

// runner is a new runner on the same store: a daemon (re)started.
func (h *harness) runner() *Runner {
	return New(h.st, h.v, Hooks{
		Record: func(ctx context.Context, ev engine.Event) {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		},
		Health: func(ctx context.Context, name string, hl engine.Health, reason string) {
			h.mu.Lock()
			h.health[name] = string(hl) + ": " + reason
			h.mu.Unlock()
		},
	}, nil, h.clk.now, "test-host")
}

func (h *harness) runs(name string) []schedule.Run {
	rs, err := h.st.Runs(context.Background(), name, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func TestMissedRunCatchUpOnceAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, at("2027-01-04T01:00:00Z"), newVault("a", "b"))
	r := h.runner()
	if err := r.LoadConfig(ctx, []schedule.Spec{{Name: "nightly", Kind: schedule.KindRotate, Every: "daily 02:00"}}); err != nil {
		t.Fatal(err)
	}
	r.Tick(ctx)
	r.Wait()
	if n := len(h.runs("nightly")); n != 0 {
		t.Fatalf("%d runs before the first occurrence", n)
	}
	// The daemon is down from 01:00 on the 4th to 05:00 on the 6th: three
	// occurrences missed. The restarted daemon runs once, late.
	h.clk.set(at("2027-01-06T05:00:00Z"))
	r = h.runner()
	if err := r.LoadConfig(ctx, []schedule.Spec{{Name: "nightly", Kind: schedule.KindRotate, Every: "daily 02:00"}}); err != nil {
		t.Fatal(err)
	}
	r.Tick(ctx)
	r.Tick(ctx)
	r.Wait()
	runs := h.runs("nightly")
	if len(runs) != 1 || !runs[0].Late || runs[0].Status != schedule.RunDone || !runs[0].Due.Equal(at("2027-01-04T02:00:00Z")) {
		t.Fatalf("after missing three occurrences: runs %+v, want one late run of the first", runs)
	}
	if h.v.rotated["a"] != 1 || h.v.rotated["b"] != 1 {
		t.Fatalf("rotations %v, want one each", h.v.rotated)
	}
	// Restarted again at the same instant: nothing more.
	r = h.runner()
	_ = r.LoadConfig(ctx, []schedule.Spec{{Name: "nightly", Kind: schedule.KindRotate, Every: "daily 02:00"}})
	r.Tick(ctx)
	r.Wait()
	if n := len(h.runs("nightly")); n != 1 {
		t.Fatalf("a restart ran the occurrence again: %d runs", n)
	}
	row, _ := h.st.Schedule(ctx, "nightly")
	if row.NextDue == nil || !row.NextDue.Equal(at("2027-01-07T02:00:00Z")) {
		t.Fatalf("next due %v, want the 7th 02:00", row.NextDue)
	}
	// On time the next day: not late.
	h.clk.set(at("2027-01-07T02:00:10Z"))
	r.Tick(ctx)
	r.Wait()
	runs = h.runs("nightly")
	if len(runs) != 2 || runs[0].Late {
		t.Fatalf("runs %+v", runs)
	}
}

// Two daemons on one database cannot happen (the data dir is locked), but
// two runners that both see an occurrence due — a daemon restarting while
// the old one's last tick commits — claim it once.
func TestNoDoubleRunAcrossRestart(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, at("2027-01-04T01:00:00Z"), newVault("a"))
	a := h.runner()
	_ = a.LoadConfig(ctx, []schedule.Spec{{Name: "n", Kind: schedule.KindRotate, Every: "daily 02:00"}})
	h.clk.set(at("2027-01-04T02:00:00Z"))
	b := h.runner()
	_ = b.LoadConfig(ctx, []schedule.Spec{{Name: "n", Kind: schedule.KindRotate, Every: "daily 02:00"}})
	var wg sync.WaitGroup
	for _, r := range []*Runner{a, b, a, b} {
		wg.Add(1)
		go func(r *Runner) { defer wg.Done(); r.Tick(ctx) }(r)
	}
	wg.Wait()
	a.Wait()
	b.Wait()
	if n := len(h.runs("n")); n != 1 || h.v.rotated["a"] != 1 {
		t.Fatalf("%d runs, %d rotations; want 1 and 1", n, h.v.rotated["a"])
	}
}

func TestOverlappingRunsRefused(t *testing.T) {
	ctx := context.Background()
	v := newVault("a", "b")
	v.block, v.started = make(chan struct{}), make(chan string, 10)
	h := newHarness(t, at("2027-01-04T01:00:00Z"), v)
	r := h.runner()
	if err := r.Create(ctx, schedule.Spec{Name: "r", Kind: schedule.KindRotate, Every: "daily 02:00"}, "ann"); err != nil {
		t.Fatal(err)
	}
	first, err := r.RunNow(ctx, "r", "ann")
	if err != nil {
		t.Fatal(err)
	}
	<-v.started
	if _, err := r.RunNow(ctx, "r", "ann"); !errors.Is(err, ErrRunning) {
		t.Fatalf("second run now while one runs: %v, want ErrRunning", err)
	}
	// The scheduled occurrence comes while the manual run still runs: it
	// is recorded as skipped, and not run later.
	h.clk.set(at("2027-01-04T02:00:00Z"))
	r.Tick(ctx)
	close(v.block)
	r.Wait()
	runs := h.runs("r")
	if len(runs) != 2 || runs[0].Status != schedule.RunSkipped || runs[1].ID != first.ID || runs[1].Status != schedule.RunDone {
		t.Fatalf("runs %+v", runs)
	}
	r.Tick(ctx)
	r.Wait()
	if len(h.runs("r")) != 2 || v.rotated["a"] != 1 {
		t.Fatalf("the skipped occurrence ran later: %+v, rotations %v", h.runs("r"), v.rotated)
	}
}

func TestOneFailingKeyDoesNotStopTheOthers(t *testing.T) {
	ctx := context.Background()
	v := newVault("a", "b", "c")
	v.fail["b"] = errors.New("access denied by the vault: no rotate permission on b")
	h := newHarness(t, at("2027-01-04T01:00:00Z"), v)
	r := h.runner()
	_ = r.Create(ctx, schedule.Spec{Name: "r", Kind: schedule.KindRotate, Every: "daily 02:00"}, "ann")
	run, err := r.RunNow(ctx, "r", "ann")
	if err != nil {
		t.Fatal(err)
	}
	r.Wait()
	got, _ := h.st.RunByID(ctx, run.ID)
	steps, _ := h.st.Steps(ctx, run.ID)
	if got.Status != schedule.RunPartial || v.rotated["a"] != 1 || v.rotated["c"] != 1 || steps[1].Status != schedule.StepFailed {
		t.Fatalf("run %+v steps %+v rotations %v", got, steps, v.rotated)
	}
	if hl := h.health["r"]; hl == "" || !strings.HasPrefix(hl, "degraded") || !strings.Contains(hl, "no rotate permission on b") {
		t.Fatalf("health %q, want degraded naming the failure", hl)
	}
	var sawFail bool
	for _, e := range h.events {
		if e.Operation == "schedule-step-failed" && e.Actor == "schedule:r" && e.KeyID == "vault/b" {
			sawFail = true
		}
	}
	if !sawFail {
		t.Fatalf("no schedule-step-failed event by schedule:r for vault/b: %+v", h.events)
	}
	// Fixed: the next run brings the health back.
	delete(v.fail, "b")
	_, _ = r.RunNow(ctx, "r", "ann")
	r.Wait()
	if h.health["r"] != "ok: " {
		t.Fatalf("health after a good run: %q", h.health["r"])
	}
}

// A run the daemon stopped in the middle — one step done, one whose call
// may have been sent — resumes: the done one is not touched, the one in
// flight is checked against its recorded version, the rest are done.
func TestResumeInterruptedRun(t *testing.T) {
	ctx := context.Background()
	v := newVault("a", "b", "c")
	h := newHarness(t, at("2027-01-04T01:00:00Z"), v)
	r := h.runner()
	_ = r.Create(ctx, schedule.Spec{Name: "r", Kind: schedule.KindRotate, Every: "daily 02:00"}, "ann")
	run, err := h.st.ClaimRun(ctx, store.Claim{Schedule: "r", Due: h.clk.now(), Trigger: "manual", Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := v.Plan(ctx, nil)
	_ = h.st.AddSteps(ctx, run.ID, plan)
	// a: done before the crash. b: the call went out and the vault rotated,
	// but the daemon died before recording it. c: not started.
	v.versions["a"], v.rotated["a"] = 2, 1
	_ = h.st.SetStep(ctx, run.ID, schedule.Step{Target: "vault/a", Status: schedule.StepDone, Before: "1", After: "2"})
	_ = h.st.SetStep(ctx, run.ID, schedule.Step{Target: "vault/b", Status: schedule.StepCalling, Before: "1"})
	v.versions["b"], v.rotated["b"] = 2, 1

	r = h.runner()
	if err := r.resumeLeft(ctx); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	if v.rotated["a"] != 1 || v.rotated["b"] != 1 || v.rotated["c"] != 1 {
		t.Fatalf("rotations after resuming: %v, want one each", v.rotated)
	}
	got, _ := h.st.RunByID(ctx, run.ID)
	if got.Status != schedule.RunDone || !got.Resumed {
		t.Fatalf("run %+v", got)
	}
}

// A schedule in America/New_York at 02:30 across the spring-forward night
// (02:30 does not exist) and the fall-back night (01:30 happens twice),
// ticking every ten minutes of pinned time: one run a day, at the right
// instant.
func TestDSTRunsOncePerDay(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		every, from string
		want        []string
	}{
		{"daily 02:30", "2027-03-13T00:00:00Z", []string{"2027-03-13T07:30:00Z", "2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"}},
		{"daily 01:30", "2027-11-06T00:00:00Z", []string{"2027-11-06T05:30:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"}},
	} {
		v := newVault("a")
		h := newHarness(t, at(tc.from), v)
		r := h.runner()
		if err := r.Create(ctx, schedule.Spec{Name: "ny", Kind: schedule.KindRotate, Every: tc.every, Zone: "America/New_York"}, "ann"); err != nil {
			t.Fatal(err)
		}
		end := at(tc.from).Add(3 * 24 * time.Hour)
		for h.clk.now().Before(end) {
			r.Tick(ctx)
			r.Wait()
			h.clk.add(10 * time.Minute)
		}
		runs := h.runs("ny")
		var got []string
		for i := len(runs) - 1; i >= 0; i-- {
			got = append(got, runs[i].Due.Format(time.RFC3339))
			if runs[i].Late {
				t.Errorf("%s: run of %s marked late", tc.every, runs[i].Due)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s America/New_York: runs at %v, want %v", tc.every, got, tc.want)
		}
	}
}

// A config schedule removed from keyward.toml while a run of it was left
// in progress (the daemon was killed) does not stop the next start.
func TestRemovedConfigScheduleWithARunLeftInProgress(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, at("2027-01-04T01:00:00Z"), newVault("a"))
	r := h.runner()
	if err := r.LoadConfig(ctx, []schedule.Spec{{Name: "gone", Kind: schedule.KindRotate, Every: "daily 02:00"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.ClaimRun(ctx, store.Claim{Schedule: "gone", Due: h.clk.now(), Trigger: "manual", Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	r = h.runner()
	if err := r.LoadConfig(ctx, nil); err != nil {
		t.Fatalf("start without the schedule: %v", err)
	}
	if _, err := h.st.Schedule(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the removed schedule: %v", err)
	}
	if running, _ := h.st.RunningRuns(ctx); len(running) != 0 {
		t.Fatalf("runs left running: %+v", running)
	}
}
