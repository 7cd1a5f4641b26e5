package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseWhen reads a report bound: "now", "today" (midnight UTC), a relative
// "-90d"/"+30d"/"-12h", a date "2026-11-23" (midnight UTC) or RFC 3339.
func ParseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "now":
		return now, nil
	case "today":
		return now.UTC().Truncate(24 * time.Hour), nil
	}
	if len(s) > 2 && (s[0] == '-' || s[0] == '+') {
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[len(s)-1]]
		n, err := strconv.Atoi(s[1 : len(s)-1])
		if unit != 0 && err == nil && n >= 0 && n <= 36500 {
			d := time.Duration(n) * unit
			if s[0] == '-' {
				d = -d
			}
			return now.Add(d), nil
		}
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use 2026-11-23, 2026-11-23T08:00:00Z, now, today, -90d or +30d)", s)
}

// ParseRange reads a range from its two bounds as a user gives them (each
// empty, or a form ParseWhen reads), the bounds not given taken from def.
// A zero def means no range unless one is asked for (the activity log);
// then a missing end is now. A report's range (def not zero) is at most
// MaxRangeDays long. The daemon and the CLI both call it, so a flag the
// daemon would refuse is refused before the daemon is asked.
func ParseRange(from, to string, now time.Time, def Range) (Range, error) {
	rg := def
	for _, b := range []struct {
		name, v string
		dst     *time.Time
	}{{"from", from, &rg.From}, {"to", to, &rg.To}} {
		if b.v == "" {
			continue
		}
		t, err := ParseWhen(b.v, now)
		if err != nil {
			return rg, fmt.Errorf("%s: %w", b.name, err)
		}
		*b.dst = t
	}
	if from == "" && to == "" {
		return rg, nil
	}
	if to == "" && rg.To.IsZero() {
		rg.To = now.Add(time.Second)
	}
	if def.From.IsZero() {
		return rg, rg.Validate()
	}
	return rg, rg.ValidateReport()
}
