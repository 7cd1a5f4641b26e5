// Package scheduler runs keyward's schedules inside the daemon: it claims
// each due occurrence in the store before running it (so a restarted daemon
// runs a missed occurrence once, never twice, never zero times), records
// every target's step before and after its remote call (so a run stopped
// in the middle, even by kill -9, resumes without doing anything twice),
// keeps runs of one schedule from overlapping, and reports each schedule's
// health like a source's. What a step does is the daemon's Actions.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/store"
)

// Actions do what a schedule's steps say; the daemon implements them with
// its cloud manager, KMIP sources, syncers and reports.
type Actions interface {
	// Check refuses (schedule.ErrInvalid) a schedule that names what the
	// daemon does not have — a source not configured — when it is added,
	// edited or read from keyward.toml.
	Check(ctx context.Context, s *schedule.Schedule) error
	// Plan lists the targets a run of s touches, in order: each pending,
	// or skipped with the reason. It changes nothing (it is the dry run).
	Plan(ctx context.Context, s *schedule.Schedule) ([]schedule.Step, error)
	// Before reads the target's version before its remote call, recorded
	// so that Do, called again after a crash, can tell whether the call was
	// made (for a rotation: the current version, or the newest generation).
	Before(ctx context.Context, s *schedule.Schedule, run schedule.Run, step schedule.Step) (string, error)
	// Do makes the step's remote call as actor, unless the target shows it
	// was already made after step.Before (then it says so in note): it
	// must be idempotent given step.Before. after is the new version.
	Do(ctx context.Context, s *schedule.Schedule, run schedule.Run, step schedule.Step, actor string) (after, note string, err error)
}

// Hooks tell the daemon what the runner did.
type Hooks struct {
	// Record writes an activity event (through the daemon's sink).
	Record func(ctx context.Context, ev engine.Event)
	// Health reports a schedule's health like a source's (HealthDegraded
	// with the reason when its last run failed in part or whole).
	Health func(ctx context.Context, schedule string, h engine.Health, reason string)
	// Changed is told when a schedule or a run changed (event stream).
	Changed func(schedule string)
	// Deleted is told when a schedule is gone (its health row goes too).
	Deleted func(ctx context.Context, schedule string)
}

// Runner runs the schedules of one daemon.
type Runner struct {
	st    *store.Store
	act   Actions
	hooks Hooks
	log   *slog.Logger
	now   func() time.Time
	seed  string
	// Grace is how far past its time (and delay) an occurrence may start
	// without being called late.
	Grace time.Duration

	wake    chan struct{}
	mu      sync.Mutex
	running map[string]bool // schedules with a run going in this process
	ctx     context.Context // the Run context: runs stop with the daemon
	wg      sync.WaitGroup
}

// Errors callers branch on.
var (
	ErrReadOnly = errors.New("defined in keyward.toml")
	ErrNotFound = store.ErrNotFound
	ErrRunning  = store.ErrRunning
	ErrExists   = store.ErrExists
)

// Actor is who a schedule's actions are recorded as.
func Actor(name string) string { return "schedule:" + name }

// New returns a runner. seed spreads the random delays of a fleet (the
// host name and data dir, say); now is the clock.
func New(st *store.Store, act Actions, hooks Hooks, log *slog.Logger, now func() time.Time, seed string) *Runner {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Runner{st: st, act: act, hooks: hooks, log: log, now: now, seed: seed, Grace: time.Minute,
		wake: make(chan struct{}, 1), running: map[string]bool{}, ctx: context.Background()}
}

// LoadConfig puts the schedules of keyward.toml in the store (config
// origin) and removes config schedules no longer there. A schedule whose
// spec is unchanged keeps its next occurrence, so a restart neither skips
// nor repeats one.
func (r *Runner) LoadConfig(ctx context.Context, specs []schedule.Spec) error {
	have, err := r.st.Schedules(ctx)
	if err != nil {
		return err
	}
	byName := map[string]store.ScheduleRow{}
	for _, h := range have {
		byName[h.Spec.Name] = h
	}
	want := map[string]bool{}
	for _, sp := range specs {
		sc, err := schedule.Parse(sp)
		if err == nil {
			err = r.act.Check(ctx, sc)
		}
		if err != nil {
			return fmt.Errorf("schedule %q: %w", sp.Name, err)
		}
		want[sp.Name] = true
		old, ok := byName[sp.Name]
		if ok && old.Origin == schedule.OriginAPI {
			return fmt.Errorf("schedule %q of keyward.toml: a schedule of that name was created over the socket; delete it (keyward schedule rm %s) or rename this one", sp.Name, sp.Name)
		}
		if ok && specEqual(old.Spec, sp) {
			continue
		}
		row := store.ScheduleRow{Spec: sp, Origin: schedule.OriginConfig, NextDue: r.firstDue(sc)}
		if err := r.st.PutSchedule(ctx, row, !ok); err != nil {
			return err
		}
	}
	for _, h := range have {
		if h.Origin == schedule.OriginConfig && !want[h.Spec.Name] {
			// A run the daemon left in progress cannot resume without its
			// schedule: it ends as failed, saying why, so the start goes on.
			running, err := r.st.RunningRuns(ctx)
			if err != nil {
				return err
			}
			for _, run := range running {
				if run.Schedule == h.Spec.Name {
					if err := r.st.FinishRun(ctx, run.ID, schedule.RunFailed, "not resumed: its schedule left keyward.toml while it ran"); err != nil {
						return err
					}
				}
			}
			if err := r.st.DeleteSchedule(ctx, h.Spec.Name); err != nil {
				return fmt.Errorf("schedule %q left keyward.toml: %w", h.Spec.Name, err)
			}
			if r.hooks.Deleted != nil {
				r.hooks.Deleted(ctx, h.Spec.Name)
			}
		}
	}
	return nil
}

func specEqual(a, b schedule.Spec) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func (r *Runner) firstDue(sc *schedule.Schedule) *time.Time {
	if n, ok := sc.Next(r.now()); ok {
		return &n
	}
	return nil
}

// reportDir checks, as the daemon's own user, that a report schedule can
// write its directory — made (0700) if missing, and a file made and
// removed in it — so one that cannot is refused when it is added, not at
// its first run.
func reportDir(sp schedule.Spec) error {
	if sp.Kind != schedule.KindReport || sp.Dir == "" {
		return nil
	}
	bad := func(err error) error {
		return fmt.Errorf("%w: dir: the daemon cannot write reports into %s: %v", schedule.ErrInvalid, sp.Dir, err)
	}
	if err := os.MkdirAll(sp.Dir, 0o700); err != nil {
		return bad(err)
	}
	f, err := os.CreateTemp(sp.Dir, ".keyward-report-check-*")
	if err != nil {
		return bad(err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// parse checks a spec added or edited over the socket: that it holds
// together, that what it names exists here, and that its report
// directory can be written.
func (r *Runner) parse(ctx context.Context, sp schedule.Spec) (*schedule.Schedule, error) {
	sc, err := schedule.Parse(sp)
	if err != nil {
		return nil, err
	}
	if err := r.act.Check(ctx, sc); err != nil {
		return nil, err
	}
	return sc, reportDir(sp)
}

// Create adds a schedule over the socket.
func (r *Runner) Create(ctx context.Context, sp schedule.Spec, actor string) error {
	sc, err := r.parse(ctx, sp)
	if err != nil {
		return err
	}
	if err := r.st.PutSchedule(ctx, store.ScheduleRow{Spec: sp, Origin: schedule.OriginAPI, NextDue: r.firstDue(sc)}, true); err != nil {
		return err
	}
	r.changed(ctx, sp.Name, engine.OpScheduleCreated, actor, "created: "+sc.Kind.Describe()+", "+sc.Describe())
	return nil
}

// Edit replaces a schedule created over the socket; its next occurrence
// is computed anew.
func (r *Runner) Edit(ctx context.Context, sp schedule.Spec, actor string) error {
	old, err := r.editable(ctx, sp.Name)
	if err != nil {
		return err
	}
	sc, err := r.parse(ctx, sp)
	if err != nil {
		return err
	}
	if err := r.st.PutSchedule(ctx, store.ScheduleRow{Spec: sp, Origin: old.Origin, Paused: old.Paused, NextDue: r.firstDue(sc)}, false); err != nil {
		return err
	}
	r.changed(ctx, sp.Name, engine.OpScheduleEdited, actor, "edited: "+sc.Kind.Describe()+", "+sc.Describe())
	return nil
}

// Pause stops a schedule's occurrences until Resume.
func (r *Runner) Pause(ctx context.Context, name, actor string) error {
	if _, err := r.editable(ctx, name); err != nil {
		return err
	}
	if err := r.st.SetPaused(ctx, name, true, nil); err != nil {
		return err
	}
	r.changed(ctx, name, engine.OpSchedulePaused, actor, "paused")
	return nil
}

// Resume starts a paused schedule again from its next occurrence after
// now (occurrences missed while paused are not run).
func (r *Runner) Resume(ctx context.Context, name, actor string) error {
	row, err := r.editable(ctx, name)
	if err != nil {
		return err
	}
	sc, err := schedule.Parse(row.Spec)
	if err != nil {
		return err
	}
	if err := r.st.SetPaused(ctx, name, false, r.firstDue(sc)); err != nil {
		return err
	}
	r.changed(ctx, name, engine.OpScheduleResumed, actor, "resumed")
	return nil
}

// Delete removes a schedule made over the socket, and its history.
func (r *Runner) Delete(ctx context.Context, name, actor string) error {
	if _, err := r.editable(ctx, name); err != nil {
		return err
	}
	if err := r.st.DeleteSchedule(ctx, name); err != nil {
		return err
	}
	if r.hooks.Deleted != nil {
		r.hooks.Deleted(ctx, name)
	}
	r.changed(ctx, name, engine.OpScheduleDeleted, actor, "deleted with its history")
	return nil
}

// editable is the schedule called name if it may change over the socket.
func (r *Runner) editable(ctx context.Context, name string) (store.ScheduleRow, error) {
	row, err := r.st.Schedule(ctx, name)
	if err != nil {
		return row, err
	}
	if row.Origin == schedule.OriginConfig {
		return row, fmt.Errorf("schedule %q is %w: change it there and restart the daemon", name, ErrReadOnly)
	}
	return row, nil
}

func (r *Runner) changed(ctx context.Context, name, op, actor, details string) {
	if r.hooks.Record != nil {
		r.hooks.Record(ctx, engine.Event{Operation: op, Actor: actor, Origin: engine.OriginKeyward, Details: "schedule " + name + " " + details})
	}
	if r.hooks.Changed != nil {
		r.hooks.Changed(name)
	}
	r.poke()
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// DryRun lists what a run of the schedule would touch now, changing nothing.
func (r *Runner) DryRun(ctx context.Context, name string) ([]schedule.Step, error) {
	row, err := r.st.Schedule(ctx, name)
	if err != nil {
		return nil, err
	}
	sc, err := schedule.Parse(row.Spec)
	if err != nil {
		return nil, err
	}
	return r.act.Plan(ctx, sc)
}

// RunNow starts a run of the schedule at once (ErrRunning while one runs).
func (r *Runner) RunNow(ctx context.Context, name, actor string) (schedule.Run, error) {
	row, err := r.st.Schedule(ctx, name)
	if err != nil {
		return schedule.Run{}, err
	}
	sc, err := schedule.Parse(row.Spec)
	if err != nil {
		return schedule.Run{}, err
	}
	if !r.reserve(name) {
		return schedule.Run{}, fmt.Errorf("schedule %q: %w; wait for it to finish (keyward schedule show %s)", name, ErrRunning, name)
	}
	run, err := r.st.ClaimRun(ctx, store.Claim{Schedule: name, Due: r.now(), Trigger: "manual", Actor: actor})
	if err != nil {
		r.release(name)
		if errors.Is(err, store.ErrRunning) {
			return run, fmt.Errorf("schedule %q: %w; wait for it to finish (keyward schedule show %s)", name, ErrRunning, name)
		}
		return run, err
	}
	r.start(sc, run, false)
	return run, nil
}

func (r *Runner) reserve(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name] {
		return false
	}
	r.running[name] = true
	return true
}

func (r *Runner) release(name string) {
	r.mu.Lock()
	delete(r.running, name)
	r.mu.Unlock()
}

// Run resumes the runs a stopped daemon left in progress, then runs every
// occurrence as it comes due, until ctx ends. Runs in progress stop at
// their next step and are resumed at the next start.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	defer r.wg.Wait()
	if err := r.resumeLeft(ctx); err != nil {
		r.log.Error("cannot resume the schedule runs left in progress", "err", err)
	}
	for {
		wait := r.Tick(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-r.wake:
			t.Stop()
		}
	}
}

// resumeLeft takes up the runs left in progress by a daemon that stopped.
func (r *Runner) resumeLeft(ctx context.Context) error {
	runs, err := r.st.RunningRuns(ctx)
	if err != nil {
		return err
	}
	for _, run := range runs {
		row, err := r.st.Schedule(ctx, run.Schedule)
		if err != nil {
			_ = r.st.FinishRun(ctx, run.ID, schedule.RunFailed, "its schedule is gone")
			continue
		}
		sc, err := schedule.Parse(row.Spec)
		if err != nil {
			_ = r.st.FinishRun(ctx, run.ID, schedule.RunFailed, err.Error())
			continue
		}
		if !r.reserve(run.Schedule) {
			continue // already being run in this process
		}
		if err := r.st.ResumeRun(ctx, run.ID); err != nil {
			r.release(run.Schedule)
			return err
		}
		run.Resumed = true
		r.log.Info("resuming a schedule run the daemon left in progress", "schedule", run.Schedule, "run", run.ID)
		r.start(sc, run, true)
	}
	return nil
}

// Tick starts every occurrence that is due (each once, however many were
// missed) and says how long to wait for the next.
func (r *Runner) Tick(ctx context.Context) time.Duration {
	wait := time.Minute
	rows, err := r.st.Schedules(ctx)
	if err != nil {
		r.log.Error("cannot read the schedules", "err", err)
		return wait
	}
	now := r.now()
	for _, row := range rows {
		if row.Paused || row.NextDue == nil {
			continue
		}
		sc, err := schedule.Parse(row.Spec)
		if err != nil {
			r.health(ctx, row.Spec.Name, engine.HealthDegraded, "its definition no longer reads: "+err.Error())
			continue
		}
		due := *row.NextDue
		fire := due.Add(sc.Delay(r.seed, due))
		if now.Before(fire) {
			wait = min(wait, fire.Sub(now))
			continue
		}
		r.fire(ctx, sc, due, fire, now)
	}
	return max(wait, 10*time.Millisecond)
}

// fire claims the occurrence due at due and starts its run: once, even
// when the daemon missed many (the next is the first after now), and
// marked late when the daemon was not there to start it on time.
func (r *Runner) fire(ctx context.Context, sc *schedule.Schedule, due, fire, now time.Time) {
	var next *time.Time
	if n, ok := sc.Next(now); ok {
		next = &n
	}
	late := now.Sub(fire) > r.Grace
	summary := ""
	if late {
		summary = fmt.Sprintf("late: due %s, started %s (the daemon was not running)", due.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	claim := store.Claim{Schedule: sc.Name, Due: due, Trigger: "schedule", Actor: Actor(sc.Name), Late: late, Next: next, Summary: summary}
	if !r.reserve(sc.Name) {
		claim.Skip, claim.Summary = true, "skipped: the previous run was still running (runs never overlap)"
		if _, err := r.st.ClaimRun(ctx, claim); err != nil && !errors.Is(err, store.ErrClaimed) {
			r.log.Error("cannot record a skipped occurrence", "schedule", sc.Name, "err", err)
		}
		r.notify(sc.Name)
		return
	}
	run, err := r.st.ClaimRun(ctx, claim)
	if errors.Is(err, store.ErrRunning) {
		r.release(sc.Name)
		claim.Skip, claim.Summary = true, "skipped: the previous run was still running (runs never overlap)"
		_, err = r.st.ClaimRun(ctx, claim)
	}
	if err != nil {
		r.release(sc.Name)
		if !errors.Is(err, store.ErrClaimed) {
			r.log.Error("cannot start a schedule run", "schedule", sc.Name, "err", err)
		}
		return
	}
	if run.Status == schedule.RunSkipped {
		r.notify(sc.Name)
		return
	}
	r.start(sc, run, false)
}

func (r *Runner) start(sc *schedule.Schedule, run schedule.Run, resumed bool) {
	r.mu.Lock()
	ctx := r.ctx
	r.mu.Unlock()
	r.wg.Add(1)
	r.notify(sc.Name)
	go func() {
		defer r.wg.Done()
		defer r.release(sc.Name)
		r.execute(ctx, sc, run, resumed)
	}()
}

// Wait waits for the runs started so far (tests).
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) notify(name string) {
	if r.hooks.Changed != nil {
		r.hooks.Changed(name)
	}
}

func (r *Runner) health(ctx context.Context, name string, h engine.Health, reason string) {
	if r.hooks.Health != nil {
		r.hooks.Health(ctx, name, h, reason)
	}
}

func (r *Runner) record(ctx context.Context, ev engine.Event) {
	if r.hooks.Record != nil {
		r.hooks.Record(context.WithoutCancel(ctx), ev)
	}
}

// execute runs (or resumes) one run: its targets are planned once and
// recorded before any is touched, so a resumed run works on the same
// targets even though the rotations already done changed their aging.
func (r *Runner) execute(ctx context.Context, sc *schedule.Schedule, run schedule.Run, resumed bool) {
	actor := Actor(sc.Name)
	steps, err := r.st.Steps(ctx, run.ID)
	if err == nil && len(steps) == 0 {
		var planned []schedule.Step
		if planned, err = r.act.Plan(ctx, sc); err == nil {
			if len(planned) == 0 {
				// Nothing selected: the run is done with no steps (recorded
				// so a resume does not plan again).
				planned = nil
			}
			if err = r.st.AddSteps(ctx, run.ID, planned); err == nil {
				steps, err = r.st.Steps(ctx, run.ID)
			}
			if err == nil {
				// A target failed as planned (a source no longer
				// configured) is in the activity log like one that failed
				// when called: once, when the plan is recorded.
				for _, st := range planned {
					if st.Status == schedule.StepFailed {
						r.record(ctx, stepFailEvent(sc, st))
					}
				}
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: resumed at the next start
		}
		r.finish(ctx, sc, run, schedule.RunFailed, "could not plan the run: "+err.Error(), err.Error())
		return
	}
	for i := range steps {
		if ctx.Err() != nil {
			return // stopping: the run stays in progress and resumes at the next start
		}
		st := &steps[i]
		switch st.Status {
		case schedule.StepDone, schedule.StepSkipped, schedule.StepFailed:
			continue
		case schedule.StepPending:
			before, err := r.act.Before(ctx, sc, run, *st)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.stepFailed(ctx, sc, run, st, err)
				continue
			}
			st.Status, st.Before = schedule.StepCalling, before
			if err := r.st.SetStep(ctx, run.ID, *st); err != nil {
				r.log.Error("cannot record a step; stopping the run", "schedule", sc.Name, "target", st.Target, "err", err)
				return
			}
		}
		after, note, err := r.act.Do(ctx, sc, run, *st, actor)
		if err != nil {
			if ctx.Err() != nil {
				return // the call may or may not have been made: Do checks at resume
			}
			r.stepFailed(ctx, sc, run, st, err)
			continue
		}
		st.Status, st.After, st.Reason = schedule.StepDone, after, note
		if err := r.st.SetStep(ctx, run.ID, *st); err != nil {
			r.log.Error("cannot record a step; stopping the run", "schedule", sc.Name, "target", st.Target, "err", err)
			return
		}
	}
	var statuses []string
	counts := map[string]int{}
	firstFail := ""
	for _, st := range steps {
		statuses = append(statuses, st.Status)
		counts[st.Status]++
		if st.Status == schedule.StepFailed && firstFail == "" {
			firstFail = st.Target + ": " + st.Reason
		}
	}
	status := schedule.Outcome(statuses)
	var parts []string
	for _, s := range []string{schedule.StepDone, schedule.StepSkipped, schedule.StepFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	summary := strings.Join(parts, ", ")
	if summary == "" {
		summary = "nothing selected"
	}
	if run.Summary != "" {
		summary += "; " + run.Summary
	}
	if resumed {
		summary += "; resumed after a daemon restart"
	}
	if firstFail != "" {
		// The summary says why, so the history, the activity event and
		// the schedule's health (Infos) all do.
		summary += "; first failure: " + firstFail
	}
	reason := ""
	if status != schedule.RunDone {
		reason = fmt.Sprintf("last run %s: %s", status, summary)
	}
	r.finish(ctx, sc, run, status, summary, reason)
}

func (r *Runner) stepFailed(ctx context.Context, sc *schedule.Schedule, run schedule.Run, st *schedule.Step, err error) {
	st.Status, st.Reason = schedule.StepFailed, err.Error()
	if err := r.st.SetStep(ctx, run.ID, *st); err != nil {
		r.log.Error("cannot record a failed step", "schedule", sc.Name, "target", st.Target, "err", err)
	}
	r.record(ctx, stepFailEvent(sc, *st))
}

// stepFailEvent is the activity event of a failed step.
func stepFailEvent(sc *schedule.Schedule, st schedule.Step) engine.Event {
	return engine.Event{KeyID: st.KeyID, Operation: engine.OpScheduleStepFail, Actor: Actor(sc.Name), Origin: engine.OriginKeyward,
		Severity: engine.SeverityWarn, Details: fmt.Sprintf("%s %s failed: %s", sc.Kind, st.Target, st.Reason)}
}

func (r *Runner) finish(ctx context.Context, sc *schedule.Schedule, run schedule.Run, status, summary, reason string) {
	ctx = context.WithoutCancel(ctx)
	// The health first: whoever sees the run finished sees its health.
	if status == schedule.RunDone {
		r.health(ctx, sc.Name, engine.HealthOK, "")
	} else {
		r.health(ctx, sc.Name, engine.HealthDegraded, reason)
	}
	sev := engine.SeverityInfo
	if status != schedule.RunDone {
		sev = engine.SeverityWarn
	}
	r.record(ctx, engine.Event{Operation: engine.OpScheduleRun, Actor: Actor(sc.Name), Origin: engine.OriginKeyward, Severity: sev,
		Details: fmt.Sprintf("run %d (%s) %s: %s", run.ID, run.Trigger, status, summary)})
	if err := r.st.FinishRun(ctx, run.ID, status, summary); err != nil {
		r.log.Error("cannot record the end of a schedule run", "schedule", sc.Name, "err", err)
	}
	r.notify(sc.Name)
}

// Info is a schedule as front ends see it.
type Info struct {
	Row     store.ScheduleRow
	When    string
	NextRun *time.Time
	Health  engine.Health
	Reason  string
	Running *schedule.Run
	Recent  []schedule.Run
}

// Infos describes every schedule (name: only that one).
func (r *Runner) Infos(ctx context.Context, name string) ([]Info, error) {
	var rows []store.ScheduleRow
	if name != "" {
		row, err := r.st.Schedule(ctx, name)
		if err != nil {
			return nil, err
		}
		rows = []store.ScheduleRow{row}
	} else {
		var err error
		if rows, err = r.st.Schedules(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Info, 0, len(rows))
	for _, row := range rows {
		in := Info{Row: row, Health: engine.HealthUnknown}
		if sc, err := schedule.Parse(row.Spec); err == nil {
			in.When = sc.Describe()
			if !row.Paused && row.NextDue != nil {
				t := row.NextDue.Add(sc.Delay(r.seed, *row.NextDue))
				in.NextRun = &t
			}
		} else {
			in.Health, in.Reason = engine.HealthDegraded, "its definition no longer reads: "+err.Error()
		}
		recent, err := r.st.Runs(ctx, row.Spec.Name, 20)
		if err != nil {
			return nil, err
		}
		in.Recent = recent
		decided := in.Health == engine.HealthDegraded
		for i := range recent {
			run := recent[i]
			switch {
			case run.Status == schedule.RunRunning:
				in.Running = &run
			case run.Status == schedule.RunSkipped || decided:
			case run.Status == schedule.RunDone:
				in.Health, decided = engine.HealthOK, true
			default:
				in.Health, in.Reason, decided = engine.HealthDegraded, fmt.Sprintf("last run %s: %s", run.Status, run.Summary), true
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// Steps returns the steps of a schedule's run (0: its latest) and the run.
func (r *Runner) Steps(ctx context.Context, name string, id int64) (*schedule.Run, []schedule.Step, error) {
	var run schedule.Run
	if id == 0 {
		runs, err := r.st.Runs(ctx, name, 1)
		if err != nil || len(runs) == 0 {
			return nil, []schedule.Step{}, err
		}
		run = runs[0]
	} else {
		var err error
		if run, err = r.st.RunByID(ctx, id); err != nil {
			return nil, nil, err
		}
		if run.Schedule != name {
			return nil, nil, fmt.Errorf("run %d is not a run of schedule %q: %w", id, name, ErrNotFound)
		}
	}
	steps, err := r.st.Steps(ctx, run.ID)
	if steps == nil {
		steps = []schedule.Step{}
	}
	return &run, steps, err
}
