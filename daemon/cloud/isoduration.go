package cloud

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Calendar units of ISO 8601 durations as cloud rotation policies use them.
const (
	day   = 24 * time.Hour
	month = 30 * day
	year  = 365 * day
)

// ParseISODuration reads an ISO 8601 duration as cloud rotation policies
// write them ("P90D", "P1Y", "P2M", "P1Y6M", "PT12H"). A year is 365 days, a
// month 30 days. Negative, fractional or overflowing values are refused.
func ParseISODuration(s string) (time.Duration, error) {
	orig := s
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("%w: ISO 8601 duration %q: %s (e.g. P90D, P1Y, PT12H)", ErrInvalid, orig, why)
	}
	if !strings.HasPrefix(s, "P") {
		return bad("must start with P")
	}
	s = s[1:]
	if s == "" || s == "T" {
		return bad("has no value")
	}
	var total time.Duration
	inTime, any := false, false
	lastRank := -1
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return bad("has two T")
			}
			inTime = true
			s = s[1:]
			if s == "" {
				return bad("ends after T")
			}
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return bad("needs a number followed by a unit")
		}
		if i > 9 {
			return bad("number too large")
		}
		n, _ := strconv.Atoi(s[:i])
		unit := s[i]
		s = s[i+1:]
		var u time.Duration
		var rank int
		switch {
		case !inTime && unit == 'Y':
			u, rank = year, 0
		case !inTime && unit == 'M':
			u, rank = month, 1
		case !inTime && unit == 'W':
			u, rank = 7*day, 2
		case !inTime && unit == 'D':
			u, rank = day, 3
		case inTime && unit == 'H':
			u, rank = time.Hour, 4
		case inTime && unit == 'M':
			u, rank = time.Minute, 5
		case inTime && unit == 'S':
			u, rank = time.Second, 6
		default:
			return bad(fmt.Sprintf("unknown unit %q", unit))
		}
		if rank <= lastRank {
			return bad("units out of order or repeated")
		}
		lastRank = rank
		if time.Duration(n) > (1<<63-1-total)/u {
			return bad("too long")
		}
		total += time.Duration(n) * u
		any = true
	}
	if !any {
		return bad("has no value")
	}
	return total, nil
}

// FormatISODuration writes d the way vaults expect: whole days as "PnD",
// anything shorter with a time part ("PT12H").
func FormatISODuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return ""
	}
	if d%day == 0 {
		return fmt.Sprintf("P%dD", d/day)
	}
	var b strings.Builder
	b.WriteString("P")
	if days := d / day; days > 0 {
		fmt.Fprintf(&b, "%dD", days)
		d -= days * day
	}
	b.WriteString("T")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if sec := d / time.Second; sec > 0 {
		fmt.Fprintf(&b, "%dS", sec)
	}
	return b.String()
}
