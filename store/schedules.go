package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/engine/schedule"
)

// Errors of the schedule queries that callers branch on.
var (
	// ErrExists: a schedule of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrRunning: the schedule has a run in progress (runs never overlap).
	ErrRunning = errors.New("a run is in progress")
	// ErrClaimed: the occurrence was run already (or moved): never twice.
	ErrClaimed = errors.New("occurrence already claimed")
)

// ScheduleRow is a stored schedule.
type ScheduleRow struct {
	Spec    schedule.Spec
	Origin  string
	Paused  bool
	NextDue *time.Time
	Created time.Time
	Updated time.Time
}

const scheduleCols = `name, spec, origin, paused, next_due, created, updated`

func scanSchedule(sc scanner) (ScheduleRow, error) {
	var r ScheduleRow
	var name, spec string
	var paused int
	var next sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&name, &spec, &r.Origin, &paused, &next, &created, &updated); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(spec), &r.Spec); err != nil {
		return r, fmt.Errorf("schedule %s: stored spec does not read: %w", name, err)
	}
	r.Spec.Name = name
	r.Paused, r.NextDue = paused != 0, fromMS(next)
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return r, nil
}

// Schedules lists every schedule by name.
func (s *Store) Schedules(ctx context.Context) ([]ScheduleRow, error) {
	return queryAll(ctx, s, "list schedules", scanSchedule, `SELECT `+scheduleCols+` FROM schedules ORDER BY name`)
}

// Schedule returns one schedule (ErrNotFound when there is none).
func (s *Store) Schedule(ctx context.Context, name string) (ScheduleRow, error) {
	r, err := scanSchedule(s.db.QueryRowContext(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("schedule %q: %w", name, ErrNotFound)
	}
	return r, err
}

// PutSchedule creates (create: ErrExists if the name is taken) or replaces
// a schedule; a replaced schedule keeps its pause and its history.
func (s *Store) PutSchedule(ctx context.Context, r ScheduleRow, create bool) error {
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return err
	}
	now := s.now().UnixMilli()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schedules WHERE name = ?`, r.Spec.Name).Scan(&exists); err != nil {
			return err
		}
		if create && exists > 0 {
			return fmt.Errorf("schedule %q: %w", r.Spec.Name, ErrExists)
		}
		if !create && exists == 0 {
			return fmt.Errorf("schedule %q: %w", r.Spec.Name, ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schedules (name, spec, origin, paused, next_due, created, updated) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, origin = excluded.origin, next_due = excluded.next_due, updated = excluded.updated`,
			r.Spec.Name, string(spec), r.Origin, boolInt(r.Paused), ms(r.NextDue), now, now)
		return err
	})
}

// SetPaused pauses or resumes a schedule; next is its next occurrence when
// resumed (occurrences missed while paused are not caught up).
func (s *Store) SetPaused(ctx context.Context, name string, paused bool, next *time.Time) error {
	q, args := `UPDATE schedules SET paused = ?, updated = ? WHERE name = ?`, []any{boolInt(paused), s.now().UnixMilli(), name}
	if !paused {
		q, args = `UPDATE schedules SET paused = 0, next_due = ?, updated = ? WHERE name = ?`, []any{ms(next), s.now().UnixMilli(), name}
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("schedule %q: %w", name, ErrNotFound)
	}
	return nil
}

// DeleteSchedule removes a schedule and its history. A schedule with a run
// in progress is not deleted (ErrRunning).
func (s *Store) DeleteSchedule(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var running int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schedule_runs WHERE schedule = ? AND status = 'running'`, name).Scan(&running); err != nil {
			return err
		}
		if running > 0 {
			return fmt.Errorf("schedule %q: %w", name, ErrRunning)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM schedules WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("schedule %q: %w", name, ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM schedule_runs WHERE schedule = ?`, name)
		return err
	})
}

// Claim is a run about to start.
type Claim struct {
	Schedule string
	Due      time.Time
	Trigger  string // schedule | manual
	Actor    string
	Late     bool
	// Next is the schedule's next occurrence once this one is claimed
	// (trigger schedule only; nil: none left).
	Next *time.Time
	// Skip records the occurrence as skipped with Summary instead of
	// running it.
	Skip    bool
	Summary string
}

// ClaimRun writes a run before it starts, in one transaction with moving
// the schedule to its next occurrence: an occurrence is claimed once
// (ErrClaimed when the schedule's next occurrence is no longer c.Due), and
// a schedule with a run in progress gets no other (ErrRunning).
func (s *Store) ClaimRun(ctx context.Context, c Claim) (schedule.Run, error) {
	now := s.now()
	r := schedule.Run{Schedule: c.Schedule, Due: c.Due.UTC(), Trigger: c.Trigger, Actor: c.Actor, Started: now.UTC(), Status: schedule.RunRunning, Late: c.Late, Summary: c.Summary}
	if c.Skip {
		r.Status, r.Finished = schedule.RunSkipped, &r.Started
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var next sql.NullInt64
		var paused int
		err := tx.QueryRowContext(ctx, `SELECT next_due, paused FROM schedules WHERE name = ?`, c.Schedule).Scan(&next, &paused)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("schedule %q: %w", c.Schedule, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if c.Trigger == "schedule" {
			if paused != 0 || !next.Valid || next.Int64 != c.Due.UnixMilli() {
				return fmt.Errorf("schedule %q, occurrence %s: %w", c.Schedule, c.Due.UTC().Format(time.RFC3339), ErrClaimed)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE schedules SET next_due = ? WHERE name = ?`, ms(c.Next), c.Schedule); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO schedule_runs (schedule, due, trigger, actor, started, finished, status, late, summary)
			VALUES (?,?,?,?,?,?,?,?,?)`, r.Schedule, r.Due.UnixMilli(), r.Trigger, r.Actor, now.UnixMilli(), ms(r.Finished), r.Status, boolInt(r.Late), r.Summary)
		if err != nil {
			if strings.Contains(err.Error(), "schedule_runs.schedule") && strings.Contains(err.Error(), "UNIQUE") {
				if c.Trigger == "schedule" && strings.Contains(err.Error(), "schedule_runs.due") {
					return fmt.Errorf("schedule %q, occurrence %s: %w", c.Schedule, c.Due.UTC().Format(time.RFC3339), ErrClaimed)
				}
				return fmt.Errorf("schedule %q: %w", c.Schedule, ErrRunning)
			}
			return err
		}
		r.ID, _ = res.LastInsertId()
		return nil
	})
	return r, err
}

// ResumeRun marks a run that was in progress when the daemon stopped as
// taken up again.
func (s *Store) ResumeRun(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE schedule_runs SET resumed = 1 WHERE id = ?`, id)
	return err
}

// FinishRun records a run's outcome.
func (s *Store) FinishRun(ctx context.Context, id int64, status, summary string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE schedule_runs SET status = ?, summary = ?, finished = ? WHERE id = ?`,
		status, summary, s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

const runCols = `id, schedule, due, trigger, actor, started, finished, status, late, resumed, summary`

func scanRun(sc scanner) (schedule.Run, error) {
	var r schedule.Run
	var due, started int64
	var finished sql.NullInt64
	var late, resumed int
	err := sc.Scan(&r.ID, &r.Schedule, &due, &r.Trigger, &r.Actor, &started, &finished, &r.Status, &late, &resumed, &r.Summary)
	r.Due, r.Started, r.Finished = time.UnixMilli(due).UTC(), time.UnixMilli(started).UTC(), fromMS(finished)
	r.Late, r.Resumed = late != 0, resumed != 0
	return r, err
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]schedule.Run, error) {
	return queryAll(ctx, s, "list runs", scanRun, `SELECT `+runCols+` FROM schedule_runs `+q, args...)
}

// RunningRuns are the runs in progress (after a crash: the ones to resume).
func (s *Store) RunningRuns(ctx context.Context) ([]schedule.Run, error) {
	return s.queryRuns(ctx, `WHERE status = 'running' ORDER BY id`)
}

// Runs lists a schedule's latest runs, newest first.
func (s *Store) Runs(ctx context.Context, name string, limit int) ([]schedule.Run, error) {
	if limit <= 0 {
		limit = 20
	}
	return s.queryRuns(ctx, `WHERE schedule = ? ORDER BY id DESC LIMIT ?`, name, limit)
}

// RunByID returns one run.
func (s *Store) RunByID(ctx context.Context, id int64) (schedule.Run, error) {
	rs, err := s.queryRuns(ctx, `WHERE id = ?`, id)
	if err != nil {
		return schedule.Run{}, err
	}
	if len(rs) == 0 {
		return schedule.Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return rs[0], nil
}

// AddSteps records a run's targets (pending) before any is worked on;
// targets already recorded keep what they say.
func (s *Store) AddSteps(ctx context.Context, run int64, steps []schedule.Step) error {
	now := s.now().UnixMilli()
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, st := range steps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO schedule_steps (run, seq, target, key_id, status, reason, updated) VALUES (?,?,?,?,?,?,?)
				ON CONFLICT(run, target) DO NOTHING`, run, st.Seq, st.Target, st.KeyID, st.Status, st.Reason, now); err != nil {
				return fmt.Errorf("record the steps of run %d: %w", run, err)
			}
		}
		return nil
	})
}

// SetStep records where one target of a run stands.
func (s *Store) SetStep(ctx context.Context, run int64, st schedule.Step) error {
	_, err := s.db.ExecContext(ctx, `UPDATE schedule_steps SET status = ?, before = ?, after = ?, reason = ?, updated = ? WHERE run = ? AND target = ?`,
		st.Status, st.Before, st.After, st.Reason, s.now().UnixMilli(), run, st.Target)
	if err != nil {
		return fmt.Errorf("record step %s of run %d: %w", st.Target, run, err)
	}
	return nil
}

// Steps lists a run's steps in the order it takes them.
func (s *Store) Steps(ctx context.Context, run int64) ([]schedule.Step, error) {
	return queryAll(ctx, s, fmt.Sprintf("steps of run %d", run), func(sc scanner) (schedule.Step, error) {
		var st schedule.Step
		var upd int64
		err := sc.Scan(&st.Seq, &st.Target, &st.KeyID, &st.Status, &st.Before, &st.After, &st.Reason, &upd)
		st.Updated = time.UnixMilli(upd).UTC()
		return st, err
	}, `SELECT seq, target, key_id, status, before, after, reason, updated FROM schedule_steps WHERE run = ? ORDER BY seq, target`, run)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DropSource removes a source row of the given kind (a deleted schedule's
// health row); rows of other kinds are never touched.
func (s *Store) DropSource(ctx context.Context, name, kind string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sources WHERE name = ? AND kind = ?`, name, kind)
	if err != nil {
		return fmt.Errorf("remove %s %s: %w", kind, name, err)
	}
	return nil
}
