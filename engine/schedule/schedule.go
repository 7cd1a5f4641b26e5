// Package schedule is the domain of keyward's schedules: what a schedule
// does (rotate, sync, backup, report), when it runs (daily, weekly or
// monthly at a time of day in a named zone, or a cron expression), which
// keys it selects, and what a run and each of its per-key steps can end
// as. It does no I/O: the daemon's scheduler runs schedules, the store keeps
// them.
package schedule

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// Kind is what a schedule does.
type Kind string

const (
	// KindRotate rotates each selected key with its source's own operation
	// (a cloud key's new version; a KMIP application's next generation).
	KindRotate Kind = "rotate"
	// KindSync syncs the selected sources now, beyond their own intervals.
	KindSync Kind = "sync"
	// KindBackup backs up every backup-capable selected key, keeping the
	// last Keep backups of each.
	KindBackup Kind = "backup"
	// KindReport writes a report as CSV and JSON into Dir, keeping the
	// last Keep of each.
	KindReport Kind = "report"
)

// Kinds lists every kind.
var Kinds = []Kind{KindRotate, KindSync, KindBackup, KindReport}

// Reports a report schedule can write.
var Reports = []string{"aging", "activity", "usage"}

// Origins of a schedule.
const (
	OriginConfig = "config" // a [[schedule]] of keyward.toml: read-only over the socket
	OriginAPI    = "api"    // created over the socket (CLI, TUI)
)

// Spec is one schedule as an administrator writes it (keyward.toml's
// [[schedule]], the socket API's body). Empty fields take their defaults.
type Spec struct {
	Name string `json:"name" toml:"name"`
	Kind Kind   `json:"kind" toml:"kind"`
	// Every is "daily HH:MM", "weekly DAY HH:MM" (mon..sun) or
	// "monthly D HH:MM" (1..31; a shorter month runs on its last day).
	Every string `json:"every,omitempty" toml:"every"`
	// Cron is a five-field cron expression (robfig/cron/v3), instead of
	// Every.
	Cron string `json:"cron,omitempty" toml:"cron"`
	// Zone is the IANA time zone the time of day is read in (default UTC).
	Zone string `json:"zone,omitempty" toml:"zone"`
	// Start and End bound the occurrences (YYYY-MM-DD or RFC 3339).
	Start string `json:"start,omitempty" toml:"start"`
	End   string `json:"end,omitempty" toml:"end"`
	// Jitter is the random delay window ("30m"): each occurrence waits a
	// delay in [0, Jitter), so a fleet of daemons does not stampede a cloud.
	Jitter string `json:"jitter,omitempty" toml:"jitter"`

	// Selection (rotate, backup; sync uses Sources alone).
	Sources []string          `json:"sources,omitempty" toml:"sources"`
	Pattern string            `json:"pattern,omitempty" toml:"pattern"`
	Tags    map[string]string `json:"tags,omitempty" toml:"tags"`
	Aging   string            `json:"aging,omitempty" toml:"aging"`

	// Keep is how many backups per key (backup) or reports of each format
	// (report) stay; older ones are deleted. Default 7.
	Keep int `json:"keep,omitempty" toml:"keep"`
	// Report is aging, activity or usage; Dir is where it is written.
	Report string `json:"report,omitempty" toml:"report"`
	Dir    string `json:"dir,omitempty" toml:"dir"`
}

// ErrInvalid: a spec does not hold together (the message names each field).
var ErrInvalid = errors.New("invalid schedule")

// MaxList is the most sources or tags a schedule selects by, and MaxField
// the longest source name, tag or pattern: a schedule is kept whole in the
// database and in every answer that lists it.
const (
	MaxList  = 256
	MaxField = 256
)

// shortestGap is the shortest time between two of w's first occurrences
// (0 when it has fewer than two): what a jitter must stay under.
func shortestGap(w When) time.Duration {
	if w == nil {
		return 0
	}
	var gap time.Duration
	t := w.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	for i := 0; i < 400 && !t.IsZero(); i++ {
		n := w.Next(t)
		if n.IsZero() {
			break
		}
		if d := n.Sub(t); gap == 0 || d < gap {
			gap = d
		}
		t = n
	}
	return gap
}

// DefaultKeep is how many backups or reports stay when Keep is not set.
const DefaultKeep = 7

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Schedule is a checked Spec, ready to compute occurrences.
type Schedule struct {
	Spec
	when   When
	start  *time.Time
	end    *time.Time
	jitter time.Duration
}

// Parse checks a spec and returns the schedule. Every problem is listed,
// each naming its field.
func Parse(s Spec) (*Schedule, error) {
	var errs []string
	add := func(field, format string, a ...any) { errs = append(errs, field+": "+fmt.Sprintf(format, a...)) }
	if !nameRE.MatchString(s.Name) {
		add("name", "%q must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", s.Name)
	}
	if !slices.Contains(Kinds, s.Kind) {
		add("kind", "%q is not one of rotate, sync, backup, report", s.Kind)
	}
	sc := &Schedule{Spec: s}
	w, err := ParseWhen(s.Every, s.Cron, s.Zone)
	if err != nil {
		add("when", "%v", err)
	}
	sc.when = w
	if w != nil && w.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		add("cron", "%q never comes (no such day, e.g. February 30)", s.Cron)
	}
	loc := time.UTC
	if w != nil {
		loc = w.Location()
	}
	if s.Start != "" {
		t, err := parseDate(s.Start, loc)
		if err != nil {
			add("start", "%v", err)
		}
		sc.start = &t
	}
	if s.End != "" {
		t, err := parseDate(s.End, loc)
		if err != nil {
			add("end", "%v", err)
		}
		sc.end = &t
	}
	if sc.start != nil && sc.end != nil && !sc.end.After(*sc.start) {
		add("end", "%s is not after start %s", s.End, s.Start)
	}
	if s.Jitter != "" {
		d, err := engine.ParseDuration(s.Jitter)
		if err != nil || d < 0 || time.Duration(d) > 24*time.Hour {
			add("jitter", "%q is not a delay window between 0 and 24h (e.g. \"30m\")", s.Jitter)
		}
		sc.jitter = time.Duration(d)
		if gap := shortestGap(w); err == nil && d > 0 && gap > 0 && sc.jitter >= gap {
			add("jitter", "%q is not shorter than the %s between two runs: a delayed run would reach the next one", s.Jitter, engine.Duration(gap))
		}
	}
	if s.Aging != "" {
		if _, err := engine.ParseBucket(s.Aging); err != nil {
			add("aging", "%v", err)
		}
	}
	if s.Pattern != "" {
		if _, err := path.Match(s.Pattern, ""); err != nil {
			add("pattern", "%q is not a name pattern (* and ? wildcards, [a-z] classes)", s.Pattern)
		}
	}
	if len(s.Pattern) > MaxField {
		add("pattern", "%d characters; at most %d", len(s.Pattern), MaxField)
	}
	checkList := func(field string, n int) {
		if n > MaxList {
			add(field, "%d entries; at most %d", n, MaxList)
		}
	}
	checkList("sources", len(s.Sources))
	seen := map[string]bool{}
	for _, src := range s.Sources {
		switch {
		case src == "" || len(src) > MaxField:
			add("sources", "a source name is 1 to %d characters (keyward status lists them)", MaxField)
		case seen[src]:
			add("sources", "%q is named twice", src)
		}
		seen[src] = true
		if len(errs) > MaxList/8 {
			break
		}
	}
	checkList("tags", len(s.Tags))
	for k, v := range s.Tags {
		if k == "" {
			add("tags", "a tag needs a name")
		}
		if len(k) > MaxField || len(v) > MaxField {
			add("tags", "a tag's name and value are at most %d characters each", MaxField)
			break
		}
	}
	if s.Keep < 0 || s.Keep > 1000 {
		add("keep", "%d is not between 1 and 1000", s.Keep)
	}
	switch s.Kind {
	case KindSync:
		if s.Pattern != "" || len(s.Tags) > 0 || s.Aging != "" {
			add("kind", "a sync schedule selects sources only (sources = [...]), not keys")
		}
	case KindReport:
		if !slices.Contains(Reports, s.Report) {
			add("report", "%q is not one of aging, activity, usage", s.Report)
		}
		if s.Dir == "" || !strings.HasPrefix(s.Dir, "/") {
			add("dir", "a report schedule needs an absolute directory to write to, got %q", s.Dir)
		}
	}
	if s.Kind != KindReport && (s.Report != "" || s.Dir != "") {
		add("report", "only a report schedule writes reports")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	if sc.Keep == 0 {
		sc.Keep = DefaultKeep
	}
	return sc, nil
}

// parseDate reads YYYY-MM-DD (midnight in loc) or RFC 3339.
func parseDate(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD) or an RFC 3339 time", s)
}

// When is the schedule's timing rule.
func (s *Schedule) When() When { return s.when }

// Jitter is the random delay window.
func (s *Schedule) Jitter() time.Duration { return s.jitter }

// Next is the first nominal occurrence strictly after t within the start
// and end dates, and false when there is none (past the end date).
func (s *Schedule) Next(t time.Time) (time.Time, bool) {
	if s.start != nil && t.Before(*s.start) {
		t = s.start.Add(-time.Nanosecond)
	}
	n := s.when.Next(t)
	if n.IsZero() || s.end != nil && !n.Before(*s.end) {
		return time.Time{}, false
	}
	return n, true
}

// Delay is the random delay of the occurrence due at due, in [0, Jitter):
// drawn from a hash of seed (one per daemon, so a fleet spreads), the
// schedule's name and the occurrence, so a restarted daemon waits the same
// delay for the same occurrence.
func (s *Schedule) Delay(seed string, due time.Time) time.Duration {
	if s.jitter <= 0 {
		return 0
	}
	h := uint64(14695981039346656037)
	for _, b := range []byte(seed + "\x00" + s.Name + "\x00" + due.UTC().Format(time.RFC3339)) {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return time.Duration(h % uint64(s.jitter))
}

// Describe says when the schedule runs, in words ("daily 02:00
// America/New_York").
func (s *Schedule) Describe() string { return s.when.String() }

// SelectsKeys says whether the kind selects keys (rotate and backup).
func (k Kind) SelectsKeys() bool { return k == KindRotate || k == KindBackup }

// Matches says whether the key is in the schedule's selection: one of its
// sources (any when none), its name pattern, every tag, its aging bucket
// (k.Aging must be filled in). Retired keys never match a rotation or
// backup.
func (s *Schedule) Matches(k engine.Key) bool {
	if len(s.Sources) > 0 && !slices.Contains(s.Sources, k.Source) {
		return false
	}
	if s.Pattern != "" {
		if ok, _ := path.Match(s.Pattern, k.Name); !ok {
			return false
		}
	}
	for tk, tv := range s.Tags {
		if v, ok := k.Tags[tk]; !ok || (tv != "" && tv != "*" && v != tv) {
			return false
		}
	}
	if s.Aging != "" && (k.Aging == nil || string(k.Aging.Bucket) != s.Aging) {
		return false
	}
	return true
}

// Run statuses.
const (
	RunRunning = "running"
	RunDone    = "done"    // every step done or skipped
	RunPartial = "partial" // some steps failed, others done
	RunFailed  = "failed"  // nothing done: every step failed, or the run could not start
	RunSkipped = "skipped" // not run (a previous run still running)
)

// Step statuses.
const (
	StepPending = "pending" // selected, not tried yet
	StepCalling = "calling" // the remote call may have been sent
	StepDone    = "done"
	StepSkipped = "skipped"
	StepFailed  = "failed"
)

// Outcome sums a run's steps into its status.
func Outcome(steps []string) string {
	done, failed := 0, 0
	for _, st := range steps {
		switch st {
		case StepDone:
			done++
		case StepFailed:
			failed++
		}
	}
	switch {
	case failed == 0:
		return RunDone
	case done == 0:
		return RunFailed
	}
	return RunPartial
}

// SortSpecs orders specs by name.
func SortSpecs(s []Spec) { sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name }) }

// Describe says what the kind does, in a few words.
func (k Kind) Describe() string {
	switch k {
	case KindRotate:
		return "rotate keys"
	case KindSync:
		return "sync sources"
	case KindBackup:
		return "back up keys"
	case KindReport:
		return "write a report"
	}
	return string(k)
}

// Run is one run of a schedule.
type Run struct {
	ID       int64      `json:"id"`
	Schedule string     `json:"schedule"`
	Due      time.Time  `json:"due"`
	Trigger  string     `json:"trigger"`
	Actor    string     `json:"actor"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Status   string     `json:"status"`
	Late     bool       `json:"late,omitempty"`
	Resumed  bool       `json:"resumed,omitempty"`
	Summary  string     `json:"summary,omitempty"`
}

// Step is what one run did to one target.
type Step struct {
	Seq     int       `json:"seq"`
	Target  string    `json:"target"`
	KeyID   string    `json:"key_id,omitempty"`
	Status  string    `json:"status"`
	Before  string    `json:"before,omitempty"`
	After   string    `json:"after,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Updated time.Time `json:"updated"`
}
