package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// When computes a schedule's occurrences.
type When interface {
	// Next is the first occurrence strictly after t (zero: none).
	Next(t time.Time) time.Time
	// Location is the zone times of day are read in.
	Location() *time.Location
	String() string
}

// cronParser reads the standard five fields and the @daily-style
// descriptors (robfig/cron/v3).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseWhen reads the timing of a schedule: exactly one of every ("daily
// 02:00", "weekly mon 03:30", "monthly 1 04:00") and cronExpr ("0 3 * * 1"),
// with zone an IANA zone name ("" = UTC).
func ParseWhen(every, cronExpr, zone string) (When, error) {
	loc := time.UTC
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil || zone == "Local" {
			return nil, fmt.Errorf("zone %q is not an IANA time zone name (e.g. UTC, Europe/Paris, America/New_York)", zone)
		}
		loc = l
	}
	every, cronExpr = strings.TrimSpace(every), strings.TrimSpace(cronExpr)
	switch {
	case every != "" && cronExpr != "":
		return nil, errors.New("give every or cron, not both")
	case every == "" && cronExpr == "":
		return nil, errors.New(`say when: every = "daily 02:00" (or "weekly mon 02:00", "monthly 1 02:00") or cron = "0 2 * * *"`)
	case cronExpr != "":
		if strings.Contains(cronExpr, "TZ=") {
			return nil, errors.New("cron: give the time zone in zone, not in the expression")
		}
		if strings.HasPrefix(cronExpr, "@every") {
			return nil, errors.New("cron: @every is not a time of day; use a five-field expression")
		}
		s, err := cronParser.Parse(cronExpr)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %v (five fields: minute hour day-of-month month day-of-week%s)", cronExpr, err, cronHint(cronExpr))
		}
		return cronWhen{expr: cronExpr, s: s, loc: loc, byClock: byClock(cronExpr)}, nil
	}
	f := strings.Fields(strings.ToLower(every))
	bad := fmt.Errorf(`every %q: expected "daily HH:MM", "weekly DAY HH:MM" (mon..sun) or "monthly D HH:MM" (1..31)`, every)
	c := calendar{loc: loc, weekday: -1}
	var at string
	switch {
	case len(f) == 2 && f[0] == "daily":
		c.period, at = "daily", f[1]
	case len(f) == 3 && f[0] == "weekly":
		wd, ok := weekdays[f[1]]
		if !ok {
			return nil, bad
		}
		c.period, c.weekday, at = "weekly", wd, f[2]
	case len(f) == 3 && f[0] == "monthly":
		d, err := strconv.Atoi(f[1])
		if err != nil || d < 1 || d > 31 {
			return nil, bad
		}
		c.period, c.day, at = "monthly", d, f[2]
	default:
		return nil, bad
	}
	h, m, ok := parseClock(at)
	if !ok {
		return nil, fmt.Errorf("every %q: %q is not a time of day HH:MM (00:00 to 23:59)", every, at)
	}
	c.hour, c.min = h, m
	return c, nil
}

// cronHint says what to write instead of another cron's habits, which
// robfig/cron refuses: 7 for Sunday (Vixie cron, cronie), Quartz's L, W, #.
func cronHint(expr string) string {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return ""
	}
	for _, field := range f[2:] {
		if strings.ContainsAny(strings.ToUpper(field), "LW#") && !strings.ContainsAny(strings.ToUpper(field), "ABCDEFGHIJKMNOPQRSTUVXYZ") {
			return "; L, W and # (Quartz) are not cron: list the days instead"
		}
	}
	for _, part := range strings.FieldsFunc(f[4], func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
		if part == "7" {
			return "; Sunday is 0 (or SUN): 7 is not accepted"
		}
	}
	return ""
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday, "sunday": time.Sunday, "monday": time.Monday,
	"tuesday": time.Tuesday, "wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

func parseClock(s string) (h, m int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || hs[0] == '+' || hs[0] == '-' {
		return 0, 0, false
	}
	return h, m, true
}

// calendar is daily, weekly or monthly at a wall-clock time in a zone.
//
// Daylight saving: a time of day that does not exist on a day (02:30 when
// the clocks spring forward from 02:00 to 03:00) runs at the first instant
// after the gap (03:00); one that happens twice (01:30 when they fall back)
// runs once, at its first occurrence.
type calendar struct {
	loc       *time.Location
	period    string
	weekday   time.Weekday // weekly
	day       int          // monthly
	hour, min int
}

func (c calendar) Location() *time.Location { return c.loc }

func (c calendar) String() string {
	at := fmt.Sprintf("%02d:%02d", c.hour, c.min)
	var s string
	switch c.period {
	case "weekly":
		s = "weekly " + strings.ToLower(c.weekday.String()[:3]) + " " + at
	case "monthly":
		s = fmt.Sprintf("monthly %d %s", c.day, at)
	default:
		s = "daily " + at
	}
	return s + " " + c.loc.String()
}

// on is the occurrence on the calendar day y-m-d of the zone.
func (c calendar) on(y int, m time.Month, d int) time.Time {
	return inZone(time.Date(y, m, d, c.hour, c.min, 0, 0, time.UTC), c.loc)
}

// inZone is the instant the wall time w (read as digits, its zone ignored)
// names in loc. A wall time in a daylight-saving gap (02:30 when the clocks
// spring forward from 02:00 to 03:00) is the first instant after the gap;
// one that happens twice (01:30 when they fall back) is the first of the
// two.
func inZone(w time.Time, loc *time.Location) time.Time {
	y, m, d := w.Date()
	t := time.Date(y, m, d, w.Hour(), w.Minute(), w.Second(), 0, loc)
	if t.Hour() != w.Hour() || t.Minute() != w.Minute() || t.Day() != d {
		want := w.Hour()*60 + w.Minute()
		lo := time.Date(y, m, d, 0, 0, 0, 0, loc)
		for probe := lo; probe.Sub(lo) < 26*time.Hour && probe.Day() == lo.Day(); probe = probe.Add(time.Minute) {
			if probe.Hour()*60+probe.Minute() >= want {
				return probe
			}
		}
		return t
	}
	// Of an ambiguous wall time, time.Date may pick either instant: take the
	// earlier one.
	if e := t.Add(-time.Hour); e.Hour() == t.Hour() && e.Minute() == t.Minute() && e.Day() == d {
		return e
	}
	return t
}

func (c calendar) Next(after time.Time) time.Time {
	a := after.In(c.loc)
	y, m, d := a.Date()
	switch c.period {
	case "daily":
		for i := 0; i < 3; i++ {
			if t := c.on(y, m, d+i); t.After(after) {
				return t
			}
		}
	case "weekly":
		for i := 0; i < 15; i++ {
			day := time.Date(y, m, d+i, 12, 0, 0, 0, c.loc)
			if day.Weekday() != c.weekday {
				continue
			}
			if t := c.on(day.Year(), day.Month(), day.Day()); t.After(after) {
				return t
			}
		}
	case "monthly":
		for i := 0; i < 3; i++ {
			first := time.Date(y, m+time.Month(i), 1, 12, 0, 0, 0, c.loc)
			last := first.AddDate(0, 1, -1).Day()
			if t := c.on(first.Year(), first.Month(), min(c.day, last)); t.After(after) {
				return t
			}
		}
	}
	return time.Time{}
}

// cronWhen is a cron expression read in a zone. It is evaluated on wall
// times, then placed in the zone as calendar schedules are (inZone), so
// daylight saving never skips an occurrence or runs one twice (robfig/cron
// alone skips a time in the spring gap and runs one in the autumn overlap
// twice). An expression whose minute or hour is a wildcard (byClock) runs
// by the clock as it reads instead: in both passes of a repeated hour, as
// cronie and Vixie cron run such jobs — "every ten minutes" does not pause
// for 70 minutes when clocks fall back.
type cronWhen struct {
	expr    string
	s       cron.Schedule
	loc     *time.Location
	byClock bool
}

// byClock says whether a cron expression runs at every minute or every
// hour rather than at fixed times of day: its minute or hour field starts
// with "*" (cronie's MIN_STAR and HR_STAR), or it is @hourly.
func byClock(expr string) bool {
	f := strings.Fields(expr)
	switch {
	case len(f) == 1:
		return f[0] == "@hourly"
	case len(f) >= 2:
		return strings.HasPrefix(f[0], "*") || strings.HasPrefix(f[1], "*")
	}
	return false
}

func (c cronWhen) Location() *time.Location { return c.loc }
func (c cronWhen) String() string           { return "cron " + c.expr + " " + c.loc.String() }
func (c cronWhen) Next(after time.Time) time.Time {
	a := after.In(c.loc)
	wall := time.Date(a.Year(), a.Month(), a.Day(), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
	if c.byClock {
		return c.nextByClock(after, wall)
	}
	// A wall time that names an instant not after `after` is in the second
	// pass of a repeated hour (clocks fell back): its first pass has run.
	// Skip such wall times until the overlap ends; no zone moves its clocks
	// back by more than a few hours, and each step is at least a minute.
	limit := wall.Add(overlapMax)
	for {
		wall = c.s.Next(wall)
		if wall.IsZero() {
			return wall
		}
		if t := inZone(wall, c.loc); t.After(after) {
			return t
		}
		if wall.After(limit) {
			return time.Time{}
		}
	}
}

// nextByClock is the earliest instant after `after` whose wall time the
// expression names, either pass of a repeated hour counting. Wall times
// from overlapMax before after's are looked at (the second pass of an
// hour comes after later wall times of the first), and up to overlapMax
// past the first that matches.
func (c cronWhen) nextByClock(after, wall time.Time) time.Time {
	var best, bestWall time.Time
	for w := wall.Add(-overlapMax); ; {
		w = c.s.Next(w)
		if w.IsZero() || !best.IsZero() && w.After(bestWall.Add(overlapMax)) {
			return best
		}
		for _, t := range passes(w, c.loc) {
			if t.After(after) && (best.IsZero() || t.Before(best)) {
				best, bestWall = t, w
			}
		}
	}
}

// passes are the instants the wall time w names in loc: one, two in a
// repeated hour (the earlier first), or, in a gap, the first minute after.
func passes(w time.Time, loc *time.Location) []time.Time {
	first := inZone(w, loc)
	out := []time.Time{first}
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		t := first.Add(d).In(loc)
		if t.Day() == w.Day() && t.Hour() == w.Hour() && t.Minute() == w.Minute() && t.Second() == w.Second() {
			out = append(out, t)
		}
	}
	return out
}

// overlapMax bounds the wall times a cron schedule skips in a repeated hour
// (the largest backward clock change of any zone is two hours).
const overlapMax = 4 * time.Hour
