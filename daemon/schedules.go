package daemon

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/daemon/scheduler"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/kmip"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/store"
)

// ScheduleSourceKind is the kind of the health rows schedules keep beside
// the sources': a failing schedule shows as a degraded item with its
// reason, like a degraded source.
const ScheduleSourceKind = api.ScheduleSourceKind

// scheduleActions does what the steps of schedules say, with the daemon's
// parts: the cloud manager (rotate, back up), the KMIP sources (rotate an
// application), the syncers (sync), and the report handlers (report).
type scheduleActions struct {
	d     *Daemon
	cloud *cloud.Manager
	kmip  map[string]*kmip.Source
}

var _ scheduler.Actions = (*scheduleActions)(nil)

// Targets are named kind:source/thing so a run's steps say what they are.
const (
	targetCloud  = "key:"
	targetApp    = "app:"
	targetSource = "source:"
	targetReport = "report:"
)

func (a *scheduleActions) Plan(ctx context.Context, s *schedule.Schedule) ([]schedule.Step, error) {
	switch s.Kind {
	case schedule.KindSync:
		return a.planSync(s)
	case schedule.KindReport:
		return []schedule.Step{{Target: targetReport + s.Report, Status: schedule.StepPending}}, nil
	}
	return a.planKeys(ctx, s)
}

// Check refuses a schedule that names a source this daemon does not run:
// it would select nothing there, and its runs would say so only later.
func (a *scheduleActions) Check(_ context.Context, s *schedule.Schedule) error {
	if missing := a.unconfigured(s.Sources); len(missing) > 0 {
		return fmt.Errorf("%w: sources: %s", schedule.ErrInvalid, a.noSuchSources(missing))
	}
	return nil
}

// configured lists the names of the sources the daemon runs, sorted.
func (a *scheduleActions) configured() []string {
	names := make([]string, 0, len(a.d.srcs))
	for _, src := range a.d.srcs {
		names = append(names, src.Name())
	}
	sort.Strings(names)
	return names
}

// unconfigured lists the names among names that no source of the daemon
// has, in their order.
func (a *scheduleActions) unconfigured(names []string) []string {
	have := a.configured()
	var out []string
	for _, n := range names {
		if !slices.Contains(have, n) {
			out = append(out, n)
		}
	}
	return out
}

// noSuchSources says that the named sources are not configured, and which
// are.
func (a *scheduleActions) noSuchSources(missing []string) string {
	quoted := make([]string, len(missing))
	for i, m := range missing {
		quoted[i] = strconv.Quote(m)
	}
	what := "no source " + strings.Join(quoted, ", ") + " is configured"
	if len(missing) > 1 {
		what = "no sources " + strings.Join(quoted, ", ") + " are configured"
	}
	if have := a.configured(); len(have) > 0 {
		return what + " (configured: " + strings.Join(have, ", ") + ")"
	}
	return what + " (none is configured)"
}

// missingSteps are the failed targets of the sources s names that the
// daemon does not run (removed from keyward.toml after the schedule was
// made): a run that cannot reach what it names has failed, not done.
func (a *scheduleActions) missingSteps(s *schedule.Schedule, out []schedule.Step) []schedule.Step {
	for _, name := range a.unconfigured(s.Sources) {
		out = append(out, schedule.Step{Seq: len(out), Target: targetSource + name, Status: schedule.StepFailed,
			Reason: a.noSuchSources([]string{name}) + ": it was removed from keyward.toml or renamed; edit or remove the schedule"})
	}
	return out
}

func (a *scheduleActions) planSync(s *schedule.Schedule) ([]schedule.Step, error) {
	var out []schedule.Step
	for _, src := range a.d.srcs {
		if len(s.Sources) > 0 && !slices.Contains(s.Sources, src.Name()) {
			continue
		}
		st := schedule.Step{Seq: len(out), Target: targetSource + src.Name(), Status: schedule.StepPending}
		if _, ok := src.(sources.Syncer); !ok {
			st.Status, st.Reason = schedule.StepSkipped, fmt.Sprintf("a %s source cannot sync on demand", src.Kind())
		}
		out = append(out, st)
	}
	return a.missingSteps(s, out), nil
}

// planKeys selects the keys of a rotation or backup and turns them into
// targets: one per cloud key (whatever its versions) and one per KMIP
// application, each pending or skipped with the reason.
func (a *scheduleActions) planKeys(ctx context.Context, s *schedule.Schedule) ([]schedule.Step, error) {
	now := a.d.now()
	var out []schedule.Step
	seen := map[string]bool{}
	op := capabilityOf(s)
	srcs, err := a.d.st.Sources(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].Name < srcs[j].Name })
	missing := a.unconfigured(s.Sources)
	for _, src := range srcs {
		if src.Kind == ScheduleSourceKind || len(s.Sources) > 0 && !slices.Contains(s.Sources, src.Name) ||
			slices.Contains(missing, src.Name) {
			continue
		}
		// A source that cannot do the operation is one skipped target,
		// however many of its keys are selected (a run records no step per
		// key of it).
		skip := a.sourceSkip(s, src, op)
		selected := 0
		// Page by page in the database's order (sorted by name), with the
		// aging bucket filtered there: a large inventory is never held whole.
		q := store.KeyQuery{Source: src.Name, Aging: engine.Bucket(s.Aging), Sort: "name", Limit: 2000, Now: now,
			Thresholds: a.d.thresholds, SkipCount: true}
		for {
			page, err := a.d.st.Keys(ctx, q)
			if err != nil {
				return nil, err
			}
			if skip != "" {
				for _, k := range page.Keys {
					if selects(s, k, now, a.d.thresholds) {
						selected++
					}
				}
			} else {
				out = a.planPage(s, src, page.Keys, now, seen, out)
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if selected > 0 {
			out = append(out, schedule.Step{Seq: len(out), Target: targetSource + src.Name, Status: schedule.StepSkipped,
				Reason: fmt.Sprintf("%s (%s selected)", skip, engine.Plural(selected, "key"))})
		}
	}
	return a.missingSteps(s, out), nil
}

// capabilityOf is the capability a rotate or backup schedule's keys need.
func capabilityOf(s *schedule.Schedule) string {
	if s.Kind == schedule.KindBackup {
		return engine.CapBackup
	}
	return engine.CapRotate
}

// sourceSkip is why no key of src can be the target of s ("" when its
// keys can be).
func (a *scheduleActions) sourceSkip(s *schedule.Schedule, src engine.Source, op string) string {
	known, capable := false, false
	if a.cloud != nil {
		known, capable = a.cloud.Capable(src.Name, op)
	}
	switch {
	case known && !capable:
		return fmt.Sprintf("%s source %s cannot %s", src.Kind, src.Name, op)
	case known:
		return ""
	case a.kmip[src.Name] != nil && s.Kind == schedule.KindRotate:
		return ""
	case src.Kind == "kmip":
		return "the KMS keeps KMIP keys: keyward does not back them up"
	}
	return fmt.Sprintf("a %s source: keyward cannot %s its keys", src.Kind, op)
}

// selects says whether s selects k now (retired and deleted keys never).
func selects(s *schedule.Schedule, k engine.Key, now time.Time, t engine.Thresholds) bool {
	ag := engine.Classify(k, now, t)
	k.Aging = &ag
	return s.Matches(k) && !k.State.Terminal() && k.State != engine.StateDeleted && k.State != engine.StatePurged
}

// planPage adds the targets of one page of a source whose keys can be
// targets: one per cloud key (whatever its versions), one per KMIP
// application.
func (a *scheduleActions) planPage(s *schedule.Schedule, src engine.Source, keys []engine.Key, now time.Time,
	seen map[string]bool, out []schedule.Step) []schedule.Step {
	for _, k := range keys {
		if !selects(s, k, now, a.d.thresholds) {
			continue
		}
		st := schedule.Step{KeyID: k.ID, Status: schedule.StepPending, Target: targetCloud + src.Name + "/" + k.Name}
		if why := k.Unsupported(capabilityOf(s)); why != "" {
			// The source can, this key cannot (a Google or AWS key the
			// cloud generated has no material to back up; an import-only
			// key no version Google can make): skipped, saying why.
			st.Status, st.Reason = schedule.StepSkipped, why
		}
		if a.kmip[src.Name] != nil {
			st.Target = targetApp + src.Name + "/" + k.Application
			if k.Application == "" {
				st.Target, st.Status, st.Reason = targetCloud+src.Name+"/"+k.Name, schedule.StepSkipped, "a KMIP key of no application: keyward rotates applications (the next generation of a ring)"
			}
		}
		if seen[st.Target] {
			continue
		}
		seen[st.Target] = true
		st.Seq = len(out)
		out = append(out, st)
	}
	return out
}

// splitTarget reads "key:source/name" or "app:source/app".
func splitTarget(t string) (kind, source, name string) {
	for _, p := range []string{targetCloud, targetApp, targetSource, targetReport} {
		if rest, ok := strings.CutPrefix(t, p); ok {
			source, name, _ = strings.Cut(rest, "/")
			return p, source, name
		}
	}
	return "", "", t
}

// marker is what tells a key's versions apart: the version, and for AWS
// (one version, "current") the key material in use.
func marker(kv cloud.KeyVersion) string {
	if m := kv.Tags["aws:key-material"]; m != "" {
		return kv.Version + "|" + m
	}
	return kv.Version
}

// rotationState is what a rotation of a cloud key changes, recorded
// before the call and compared at resume: its version marker and, for a
// cloud that rotates asynchronously (AWS), its rotation mark, which
// changes as soon as the rotation is asked for.
func (a *scheduleActions) rotationState(ctx context.Context, source, name string) (string, error) {
	kv, err := a.cloud.Current(ctx, source, name)
	if err != nil {
		return "", err
	}
	mark, err := a.cloud.RotationMark(ctx, source, name)
	if err != nil || mark == "" {
		return marker(kv), err
	}
	return marker(kv) + "|" + mark, nil
}

// notRunning says that a source was asked to act before its Run began (a
// run resumed as the daemon starts, racing its sources).
func notRunning(err error) bool {
	return err != nil && (errors.Is(err, cloud.ErrNotRunning) || strings.Contains(err.Error(), "not running yet"))
}

// whileStarting retries fn while the sources are still starting, up to
// 30 s: Before reads only, and Do is idempotent given the step's Before, so
// a retry never does anything twice.
func whileStarting[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	v, err := fn()
	for i := 0; i < 150 && notRunning(err); i++ {
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		v, err = fn()
	}
	return v, err
}

func (a *scheduleActions) Before(ctx context.Context, s *schedule.Schedule, run schedule.Run, st schedule.Step) (string, error) {
	return whileStarting(ctx, func() (string, error) { return a.before(ctx, s, st) })
}

func (a *scheduleActions) before(ctx context.Context, s *schedule.Schedule, st schedule.Step) (string, error) {
	kind, source, name := splitTarget(st.Target)
	switch {
	case s.Kind == schedule.KindRotate && kind == targetCloud:
		return a.rotationState(ctx, source, name)
	case s.Kind == schedule.KindRotate && kind == targetApp:
		src := a.kmip[source]
		if src == nil {
			return "", fmt.Errorf("no KMIP source %q", source)
		}
		// Poll first: the newest generation the rotation follows is the
		// KMS's now, not the one of the last poll (another client may have
		// made one since).
		if err := src.SyncNow(ctx); err != nil {
			return "", fmt.Errorf("poll %s before rotating %s: %w", source, name, err)
		}
		return src.NewestGeneration(name)
	case s.Kind == schedule.KindBackup:
		return a.d.now().UTC().Format(time.RFC3339Nano), nil
	}
	return "", nil
}

func (a *scheduleActions) Do(ctx context.Context, s *schedule.Schedule, run schedule.Run, st schedule.Step, actor string) (string, string, error) {
	type result struct{ after, note string }
	r, err := whileStarting(ctx, func() (result, error) {
		after, note, err := a.do(ctx, s, run, st, actor)
		return result{after, note}, err
	})
	return r.after, r.note, err
}

func (a *scheduleActions) do(ctx context.Context, s *schedule.Schedule, run schedule.Run, st schedule.Step, actor string) (string, string, error) {
	caller := cloud.Caller{User: actor}
	kind, source, name := splitTarget(st.Target)
	switch s.Kind {
	case schedule.KindRotate:
		if kind == targetApp {
			return a.rotateApp(ctx, source, name, st.Before, actor)
		}
		now, err := a.rotationState(ctx, source, name)
		if err != nil {
			return "", "", err
		}
		if now != st.Before {
			// The rotation was asked for (made, or still in progress on
			// a cloud that rotates asynchronously), and the daemon
			// stopped before it recorded it: never rotate twice.
			ver, _, _ := strings.Cut(now, "|")
			return ver, fmt.Sprintf("rotated before the daemon restarted (now %s, was %s)", now, st.Before), nil
		}
		res, err := a.cloud.Rotate(ctx, caller, source, name)
		if err != nil {
			return "", "", err
		}
		after := ""
		if res.Event != nil {
			after = strings.TrimPrefix(res.Event.KeyID, engine.KeyID(source, name, ""))
			after = strings.TrimPrefix(after, "/")
		}
		return after, "", nil
	case schedule.KindBackup:
		return a.backup(ctx, s, caller, source, name, st.Before)
	case schedule.KindSync:
		for _, src := range a.d.srcs {
			if src.Name() != source {
				continue
			}
			sy, ok := src.(sources.Syncer)
			if !ok {
				return "", "", fmt.Errorf("a %s source cannot sync on demand", src.Kind())
			}
			if err := sy.SyncNow(ctx); err != nil {
				return "", "", err
			}
			_ = a.d.sink.record(ctx, engine.Event{Source: source, Operation: engine.OpSynced, Actor: actor, Origin: engine.OriginKeyward,
				Details: "sync by schedule " + s.Name})
			return "", "", nil
		}
		return "", "", fmt.Errorf("no source named %q", source)
	case schedule.KindReport:
		files, err := a.writeReport(ctx, s, run)
		if err != nil {
			return "", "", err
		}
		_ = a.d.sink.record(ctx, engine.Event{Operation: engine.OpReportWritten, Actor: actor, Origin: engine.OriginKeyward,
			Details: fmt.Sprintf("%s report written: %s", s.Report, strings.Join(files, ", "))})
		return strings.Join(files, ", "), "", nil
	}
	return "", "", fmt.Errorf("schedule kind %q has no action", s.Kind)
}

func (a *scheduleActions) rotateApp(ctx context.Context, source, app, before, actor string) (string, string, error) {
	rot, note, err := kmipRotator{d: a.d, kmip: a.kmip}.rotate(ctx, source, app, before, actor)
	if err != nil {
		return "", "", err
	}
	return rot.Name, note, nil
}

// kmipRotator rotates KMIP applications — the next generation of a ring,
// created and activated on the KMS — for schedules and for administrators
// (POST /v1/kmip/{source}/apps/{app}/rotate).
type kmipRotator struct {
	d    *Daemon
	kmip map[string]*kmip.Source
}

var _ localapi.AppRotator = kmipRotator{}

func (k kmipRotator) source(source string) (*kmip.Source, error) {
	src := k.kmip[source]
	if src == nil {
		return nil, fmt.Errorf("%w: no KMIP source %q (keyward status lists the sources)", localapi.ErrNoApp, source)
	}
	return src, nil
}

// rotate creates the generation after before (idempotent given before)
// and records it as actor's.
func (k kmipRotator) rotate(ctx context.Context, source, app, before, actor string) (kmip.Rotation, string, error) {
	src, err := k.source(source)
	if err != nil {
		return kmip.Rotation{}, "", err
	}
	rot, err := src.Rotate(ctx, app, before)
	if err != nil {
		return rot, "", err
	}
	note, details := "", fmt.Sprintf("application %s rotated via keyward: created and activated %s on the KMS (after %s)", app, rot.Name, before)
	switch {
	case rot.Finished:
		note = fmt.Sprintf("finished the rotation a lost answer left half done: %s (identifier %s) was already on the KMS, Pre-Active; activated it, created nothing", rot.Name, rot.UID)
		details = fmt.Sprintf("application %s rotated via keyward: %s (after %s)", app, note, before)
	case rot.Existed:
		note = rot.Name + " was already on the KMS and Active (a rotation whose answer was lost): not created again"
		details = fmt.Sprintf("application %s: %s", app, note)
	}
	_ = k.d.sink.record(ctx, engine.Event{KeyID: engine.KeyID(source, rot.Name, ""), Source: source, Operation: engine.OpRotated,
		Actor: actor, Origin: engine.OriginKeyward, Details: details})
	return rot, note, nil
}

// RotateApp rotates an application now, as an administrator asked: the
// KMS is polled first, so the new generation follows the newest there.
func (k kmipRotator) RotateApp(ctx context.Context, source, app, actor string) (api.AppRotation, error) {
	src, err := k.source(source)
	if err != nil {
		return api.AppRotation{}, err
	}
	if err := src.SyncNow(ctx); err != nil {
		return api.AppRotation{}, fmt.Errorf("poll %s before rotating %s: %w", source, app, err)
	}
	before, err := src.NewestGeneration(app)
	if errors.Is(err, kmip.ErrForeignPreActive) {
		return api.AppRotation{}, fmt.Errorf("%w: %v", localapi.ErrRotationBlocked, err)
	}
	if err != nil {
		return api.AppRotation{}, fmt.Errorf("%w: %v", localapi.ErrNoApp, err)
	}
	rot, note, err := k.rotate(ctx, source, app, before, actor)
	if errors.Is(err, kmip.ErrForeignPreActive) {
		return api.AppRotation{}, fmt.Errorf("%w: %v", localapi.ErrRotationBlocked, err)
	}
	if err != nil {
		return api.AppRotation{}, err
	}
	return api.AppRotation{Source: source, Application: app, Previous: before, Generation: rot.Name, UID: rot.UID, Note: note}, nil
}

// backup backs the key up unless this schedule already did since before
// (the daemon stopped after the vault answered), then keeps the newest
// Keep backups this schedule made of the key — or, for a cloud that
// exports nothing, the newest Keep copies kept at upload, with every
// material still held once (cloud.Manager.TrimKept).
func (a *scheduleActions) backup(ctx context.Context, s *schedule.Schedule, caller cloud.Caller, source, name, before string) (string, string, error) {
	since, _ := time.Parse(time.RFC3339Nano, before)
	mine := func() ([]cloud.BackupInfo, error) {
		// One lookup in the manager's index of backups, not an opening
		// of every stored backup per key.
		all, err := a.cloud.BackupsOf(ctx, source, name)
		var out []cloud.BackupInfo
		for _, b := range all {
			if b.Actor == caller.User {
				out = append(out, b)
			}
		}
		return out, err
	}
	have, err := mine()
	if err != nil {
		return "", "", err
	}
	id, note := "", ""
	for _, b := range have {
		if !since.IsZero() && !b.Created.Before(since.Truncate(time.Second)) {
			id, note = b.ID, "backed up before the daemon restarted: not taken again"
		}
	}
	if id == "" {
		info, err := a.cloud.Backup(ctx, caller, source, name)
		if err != nil {
			return "", "", err
		}
		id = info.ID
		if have, err = mine(); err != nil {
			return id, "", err
		}
	}
	// Backups comes newest first. The older ones go in one transaction
	// with the backup-deleted event naming them: a kill leaves both or
	// neither (the resumed step would not see the ones already gone).
	var dropped []string
	for i, b := range have {
		if i >= s.Keep {
			dropped = append(dropped, b.ID)
		}
	}
	if len(dropped) > 0 {
		ev, err := a.cloud.DeleteBackups(ctx, caller, source, name, dropped, fmt.Sprintf("kept the last %d this schedule took", s.Keep))
		if err != nil {
			return id, "", fmt.Errorf("backup %s taken, but the old backups could not be deleted: %w", id, err)
		}
		if ev != nil {
			a.d.sink.publishEvents([]engine.Event{*ev})
		}
		note = strings.TrimPrefix(note+"; ", "; ") + fmt.Sprintf("kept the last %d, deleted %s", s.Keep, strings.Join(dropped, ", "))
	}
	// A cloud that exports nothing: the key's backups are the copies kept
	// at upload, trimmed as far as every material stays restorable.
	// The deletions and their backup-deleted event are one transaction
	// (TrimKept): a kill here leaves both or neither.
	tr, err := a.cloud.TrimKept(ctx, caller, source, name, s.Keep)
	if err != nil {
		return id, note, fmt.Errorf("backup %s kept, but the older copies kept at upload could not be trimmed: %w", id, err)
	}
	if len(tr.Deleted) > 0 {
		what := fmt.Sprintf("kept the last %d copies kept at upload, deleted %s (a copy kept holds the same material)", s.Keep, strings.Join(tr.Deleted, ", "))
		note = strings.TrimPrefix(note+"; ", "; ") + what
	}
	if tr.Event != nil {
		a.d.sink.publishEvents([]engine.Event{*tr.Event})
	}
	if len(tr.Only) > 0 {
		note = strings.TrimPrefix(note+"; ", "; ") + fmt.Sprintf("kept %s beyond the last %d: the only copy of its material, which a restore needs", strings.Join(tr.Only, ", "), s.Keep)
	}
	return id, note, nil
}

// writeReport writes the schedule's report as CSV and JSON into its
// directory — the same answer the socket API gives (its own handler
// makes it), in the CSV columns the front ends export — each file
// complete before it takes its name, and keeps the newest Keep of each.
func (a *scheduleActions) writeReport(ctx context.Context, s *schedule.Schedule, run schedule.Run) ([]string, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("report directory %s: %w", s.Dir, err)
	}
	var doc any
	var header []string
	var records [][]string
	var err error
	switch s.Report {
	case "aging":
		header = api.AgingCSVHeader
		doc, records, err = pagedReport(ctx, a, "/v1/reports/aging", api.AgingCSVRecord,
			func(r *api.AgingReport) (*[]report.AgingEntry, *string) { return &r.Entries, &r.NextCursor })
	case "activity":
		header = api.ActivityCSVHeader
		doc, records, err = pagedReport(ctx, a, "/v1/reports/activity", api.ActivityCSVRecord,
			func(r *api.ActivityReport) (*[]engine.Event, *string) { return &r.Events, &r.NextCursor })
	case "usage":
		var u report.Usage
		err = a.pages(ctx, "/v1/reports/usage", func(b []byte) (string, error) { return "", json.Unmarshal(b, &u) })
		doc, header = u, api.UsageCSVHeader
		for _, r := range u.Rows {
			records = append(records, api.UsageCSVRecord(r))
		}
		for _, k := range u.Unused {
			records = append(records, api.UnusedCSVRecord(k))
		}
	default:
		return nil, fmt.Errorf("no report %q", s.Report)
	}
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("keyward-%s-%s", s.Report, run.Due.UTC().Format("20060102T150405Z"))
	var files []string
	for _, ext := range []string{".csv", ".json"} {
		path := filepath.Join(s.Dir, base+ext)
		err := writeFileAtomic(path, func(f *os.File) error {
			if ext == ".csv" {
				cw := csv.NewWriter(f)
				_ = cw.Write(header)
				for _, rec := range records {
					_ = cw.Write(api.CSVSafe(rec))
				}
				cw.Flush()
				return cw.Error()
			}
			enc := json.NewEncoder(f)
			enc.SetIndent("", "  ")
			return enc.Encode(doc)
		})
		if err != nil {
			return files, fmt.Errorf("write %s: %w", path, err)
		}
		files = append(files, path)
		if err := keepNewest(s.Dir, "keyward-"+s.Report+"-", ext, s.Keep); err != nil {
			return files, err
		}
	}
	return files, nil
}

// pagedReport reads every page of a paged report (aging, activity) into
// one: the first page's head (its range and summary or per-day counts)
// with the rows of all pages, and no cursor; and those rows as CSV
// records. rows points at a page's rows and its next cursor.
func pagedReport[R, E any](ctx context.Context, a *scheduleActions, path string, record func(E) []string, rows func(*R) (*[]E, *string)) (any, [][]string, error) {
	var all R
	first := true
	err := a.pages(ctx, path, func(b []byte) (string, error) {
		var page R
		if err := json.Unmarshal(b, &page); err != nil {
			return "", err
		}
		pageRows, next := rows(&page)
		if first {
			all, first = page, false
			allRows, _ := rows(&all)
			*allRows = nil
		}
		allRows, _ := rows(&all)
		*allRows = append(*allRows, *pageRows...)
		return *next, nil
	})
	if err != nil {
		return nil, nil, err
	}
	allRows, cursor := rows(&all)
	*cursor = ""
	records := make([][]string, 0, len(*allRows))
	for _, e := range *allRows {
		records = append(records, record(e))
	}
	return all, records, nil
}

// reportPageSize is how many rows pages asks for at a time.
var reportPageSize = 5000

// pages asks the daemon's own report handler for every page of path.
func (a *scheduleActions) pages(ctx context.Context, path string, page func([]byte) (string, error)) error {
	cursor := ""
	for i := 0; i < 10000; i++ {
		q := url.Values{"limit": {strconv.Itoa(reportPageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if path == "/v1/reports/usage" {
			q.Del("limit")
		}
		req := httptest.NewRequest(http.MethodGet, path+"?"+q.Encode(), nil).WithContext(
			api.WithCaller(ctx, api.Caller{User: "keyward", Role: api.RoleAdmin}))
		rec := httptest.NewRecorder()
		a.d.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("%s: %s", path, strings.TrimSpace(rec.Body.String()))
		}
		next, err := page(rec.Body.Bytes())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
	return errors.New(path + ": too many pages")
}

// writeFileAtomic writes path (mode 0600) through a temporary file that
// takes its name only once complete.
func writeFileAtomic(path string, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".keyward-report-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// keepNewest deletes all but the newest keep files named prefix…ext in dir
// (their names sort by time).
func keepNewest(dir, prefix, ext string, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ext) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for i := 0; i < len(names)-keep; i++ {
		if err := os.Remove(filepath.Join(dir, names[i])); err != nil {
			return err
		}
	}
	return nil
}

// scheduleHealthName is the name of a schedule's health row.
func scheduleHealthName(name string) string { return "schedule:" + name }

// buildScheduler loads the config's schedules, gives each its health row
// (added to names, the rows the daemon keeps) and returns the runner the daemon runs.
func (d *Daemon) buildScheduler(ctx context.Context, feat *features, names *[]string) (*scheduler.Runner, error) {
	act := &scheduleActions{d: d, cloud: feat.cloud, kmip: feat.kmip}
	host, _ := os.Hostname()
	hooks := scheduler.Hooks{
		Record: func(ctx context.Context, ev engine.Event) {
			if err := d.sink.record(ctx, ev); err != nil {
				d.log.Warn("schedule event not recorded", "operation", ev.Operation, "err", err)
			}
		},
		Health: func(ctx context.Context, name string, h engine.Health, reason string) {
			hn := scheduleHealthName(name)
			if err := d.st.EnsureSource(ctx, hn, ScheduleSourceKind, ""); err == nil {
				_ = d.sink.SetHealth(ctx, hn, h, reason)
			}
		},
		Changed: func(name string) {
			d.hub.publish(api.Notification{Type: api.NoteSchedules, Time: d.now(), Source: name})
		},
		Deleted: func(ctx context.Context, name string) {
			if err := d.st.DropSource(ctx, scheduleHealthName(name), ScheduleSourceKind); err != nil {
				d.log.Warn("schedule health row not removed", "schedule", name, "err", err)
			}
			d.hub.publish(api.Notification{Type: api.NoteSources, Time: d.now(), Source: scheduleHealthName(name)})
		},
	}
	r := scheduler.New(d.st, act, hooks, d.log, d.now, host+"\x00"+d.cfg.DataDir)
	if err := r.LoadConfig(ctx, d.cfg.Schedules); err != nil {
		return nil, err
	}
	rows, err := d.st.Schedules(ctx)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		hn := scheduleHealthName(row.Spec.Name)
		if err := d.st.EnsureSource(ctx, hn, ScheduleSourceKind, ""); err != nil {
			return nil, err
		}
		*names = append(*names, hn)
	}
	d.schedules = r
	return r, nil
}
