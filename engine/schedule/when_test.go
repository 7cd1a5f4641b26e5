package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustWhen(t *testing.T, every, cronExpr, zone string) When {
	t.Helper()
	w, err := ParseWhen(every, cronExpr, zone)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// occurrences lists n occurrences after from.
func occurrences(w When, from time.Time, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		from = w.Next(from)
		out = append(out, from.UTC().Format(time.RFC3339))
	}
	return out
}

func TestCalendarNext(t *testing.T) {
	for _, tc := range []struct {
		every, zone, from string
		want              []string
	}{
		{"daily 02:00", "", "2026-12-04T01:00:00Z", []string{"2026-12-04T02:00:00Z", "2026-12-05T02:00:00Z"}},
		{"daily 02:00", "", "2026-12-04T02:00:00Z", []string{"2026-12-05T02:00:00Z", "2026-12-06T02:00:00Z"}},
		// 2026-12-04 is a Friday.
		{"weekly mon 03:30", "", "2026-12-04T00:00:00Z", []string{"2026-12-07T03:30:00Z", "2026-12-14T03:30:00Z"}},
		{"weekly fri 03:30", "", "2026-12-04T00:00:00Z", []string{"2026-12-04T03:30:00Z", "2026-12-11T03:30:00Z"}},
		// The 31st of a shorter month is its last day.
		{"monthly 31 04:00", "", "2027-01-31T05:00:00Z", []string{"2027-02-28T04:00:00Z", "2027-03-31T04:00:00Z", "2027-04-30T04:00:00Z"}},
		{"daily 09:00", "Europe/Paris", "2026-12-04T00:00:00Z", []string{"2026-12-04T08:00:00Z", "2026-12-05T08:00:00Z"}},
	} {
		w := mustWhen(t, tc.every, "", tc.zone)
		got := occurrences(w, utc(tc.from), len(tc.want))
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s %s after %s: got %v, want %v", tc.every, tc.zone, tc.from, got, tc.want)
				break
			}
		}
	}
}

// America/New_York springs forward on 2027-03-14 (02:00 EST → 03:00 EDT)
// and falls back on 2027-11-07 (02:00 EDT → 01:00 EST).
func TestDSTNewYork(t *testing.T) {
	// 02:30 does not exist on 2027-03-14: it runs at 03:00 EDT (07:00Z),
	// once, and at 02:30 local again the next day.
	w := mustWhen(t, "daily 02:30", "", "America/New_York")
	got := occurrences(w, utc("2027-03-13T00:00:00Z"), 3)
	want := []string{"2027-03-13T07:30:00Z", "2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"}
	if !equal(got, want) {
		t.Errorf("spring forward: got %v, want %v", got, want)
	}
	// 01:30 happens twice on 2027-11-07: it runs once, at the first
	// (EDT, 05:30Z), not again at 06:30Z.
	w = mustWhen(t, "daily 01:30", "", "America/New_York")
	got = occurrences(w, utc("2027-11-06T00:00:00Z"), 3)
	want = []string{"2027-11-06T05:30:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"}
	if !equal(got, want) {
		t.Errorf("fall back: got %v, want %v", got, want)
	}
	// Asked between the two 01:30s, the next is the next day's.
	if n := w.Next(utc("2027-11-07T05:30:00Z")); n.UTC().Format(time.RFC3339) != "2027-11-08T06:30:00Z" {
		t.Errorf("fall back, after the first 01:30: next %s, want 2027-11-08T06:30:00Z (never twice in one night)", n.UTC())
	}
	// A weekly at a time that is not in the gap keeps its wall time across
	// the change: 09:00 local is 14:00Z before and 13:00Z after.
	w = mustWhen(t, "weekly sun 09:00", "", "America/New_York")
	got = occurrences(w, utc("2027-03-06T00:00:00Z"), 2)
	want = []string{"2027-03-07T14:00:00Z", "2027-03-14T13:00:00Z"}
	if !equal(got, want) {
		t.Errorf("weekly across spring forward: got %v, want %v", got, want)
	}
	// cron: the same 02:30 in the gap; robfig/cron/v3 runs it once that day too.
	w = mustWhen(t, "", "30 2 * * *", "America/New_York")
	got = occurrences(w, utc("2027-03-13T00:00:00Z"), 3)
	if got[0] != "2027-03-13T07:30:00Z" || got[2] != "2027-03-15T06:30:00Z" {
		t.Errorf("cron across spring forward: got %v", got)
	}
	got = occurrences(mustWhen(t, "", "30 1 * * *", "America/New_York"), utc("2027-11-06T12:00:00Z"), 2)
	if got[0] != "2027-11-07T05:30:00Z" || got[1] != "2027-11-08T06:30:00Z" {
		t.Errorf("cron across fall back ran %v, want once on 2027-11-07 (05:30Z) then 2027-11-08T06:30Z", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseWhenErrors(t *testing.T) {
	for _, tc := range []struct{ every, cron, zone string }{
		{"", "", ""},
		{"daily 2:00", "0 2 * * *", ""},
		{"daily 24:00", "", ""},
		{"daily 02:60", "", ""},
		{"daily 02:0", "", ""},
		{"hourly", "", ""},
		{"weekly someday 02:00", "", ""},
		{"monthly 32 02:00", "", ""},
		{"monthly 0 02:00", "", ""},
		{"daily 02:00", "", "Mars/Olympus"},
		{"daily 02:00", "", "Local"},
		{"", "61 * * * *", ""},
		{"", "CRON_TZ=UTC 0 2 * * *", ""},
		{"", "@every 1h", ""},
	} {
		if _, err := ParseWhen(tc.every, tc.cron, tc.zone); err == nil {
			t.Errorf("ParseWhen(%q, %q, %q) accepted", tc.every, tc.cron, tc.zone)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	f.Add("daily 02:00", "", "America/New_York")
	f.Add("weekly mon 03:30", "", "")
	f.Add("monthly 31 23:59", "", "Europe/Paris")
	f.Add("", "0 3 * * 1", "UTC")
	f.Add("", "@daily", "")
	f.Fuzz(func(t *testing.T, every, cronExpr, zone string) {
		w, err := ParseWhen(every, cronExpr, zone)
		if err != nil {
			return
		}
		from := time.Date(2027, 3, 13, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 5; i++ {
			n := w.Next(from)
			if n.IsZero() {
				return
			}
			if !n.After(from) {
				t.Fatalf("%s: Next(%s) = %s, not after", w, from, n)
			}
			from = n
		}
	})
}

// Asked during the second pass of a repeated hour (01:00–02:00 EST on
// 2027-11-07, after 01:00–02:00 EDT), a cron schedule's next occurrence is
// the first after the overlap: the wall times left in the hour all name
// instants of the first pass, already past. It used to give up after four
// of them and answer no occurrence at all, which the scheduler stores as
// "no next run": a jittered */10 schedule that fired in that hour, or a
// daemon started in it, never ran again.
//
// A schedule with a wildcard minute or hour (*/10, "0 * * * *") runs by
// the clock as it reads, in both passes of the hour, as cronie and Vixie
// cron run such jobs: an administrator's "every ten minutes" must not
// pause for 70 minutes one night a year. A schedule at fixed times
// ("15,45 1,2 * * *", "30 1 * * *") runs once, in the first pass.
func TestCronNextInFallBackOverlap(t *testing.T) {
	for _, tc := range []struct{ expr, after, want string }{
		{"*/10 * * * *", "2027-11-07T06:05:00Z", "2027-11-07T06:10:00Z"},
		{"* * * * *", "2027-11-07T06:00:30Z", "2027-11-07T06:01:00Z"},
		{"0 * * * *", "2027-11-07T05:00:00Z", "2027-11-07T06:00:00Z"},
		{"0 * * * *", "2027-11-07T06:00:00Z", "2027-11-07T07:00:00Z"},
		{"15,45 1,2 * * *", "2027-11-07T06:20:00Z", "2027-11-07T07:15:00Z"},
		{"15,45 1,2 * * *", "2027-11-07T05:50:00Z", "2027-11-07T07:15:00Z"},
		// First pass: every ten minutes, then on into the second pass.
		{"*/10 * * * *", "2027-11-07T05:55:00Z", "2027-11-07T06:00:00Z"},
		{"*/10 * * * *", "2027-11-07T05:35:00Z", "2027-11-07T05:40:00Z"},
		{"*/10 * * * *", "2027-11-07T06:55:00Z", "2027-11-07T07:00:00Z"},
		// Spring forward: 02:00-02:59 do not exist; the next is 03:00 EDT.
		{"*/10 * * * *", "2027-03-14T06:55:00Z", "2027-03-14T07:00:00Z"},
		{"*/10 * * * *", "2027-03-14T07:00:00Z", "2027-03-14T07:10:00Z"},
		{"30 2 * * *", "2027-03-14T06:55:00Z", "2027-03-14T07:00:00Z"},
	} {
		w := mustWhen(t, "", tc.expr, "America/New_York")
		if got := w.Next(utc(tc.after)); got.IsZero() || got.UTC().Format(time.RFC3339) != tc.want {
			t.Errorf("cron %q after %s: next %v, want %s", tc.expr, tc.after, got.UTC(), tc.want)
		}
	}
	s, err := Parse(Spec{Name: "every-ten", Kind: KindSync, Cron: "*/10 * * * *", Zone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := s.Next(utc("2027-11-07T06:05:00Z")); !ok || !n.Equal(utc("2027-11-07T06:10:00Z")) {
		t.Errorf("schedule next in the overlap: %v %v, want 2027-11-07T06:10:00Z true", n, ok)
	}
	// Across the night: never more than ten minutes between two runs.
	got := occurrences(mustWhen(t, "", "*/10 * * * *", "America/New_York"), utc("2027-11-07T04:30:00Z"), 30)
	for i := 1; i < len(got); i++ {
		a, b := utc(got[i-1]), utc(got[i])
		if b.Sub(a) != 10*time.Minute {
			t.Errorf("*/10 across fall back: %s then %s", got[i-1], got[i])
		}
	}
}

// A cron expression that robfig/cron refuses for a habit of other crons
// says what to write instead: 7 for Sunday (Vixie cron, cronie) and
// Quartz's L, W and #.
func TestCronErrorsSayWhatToWrite(t *testing.T) {
	for _, tc := range []struct{ cron, want string }{
		{"0 2 * * 7", "Sunday is 0 (or SUN)"},
		{"0 2 * * 5-7", "Sunday is 0 (or SUN)"},
		{"0 0 L * *", "L, W and # (Quartz) are not cron"},
		{"0 0 * * 5#3", "L, W and # (Quartz) are not cron"},
		{"0 0 15W * *", "L, W and # (Quartz) are not cron"},
	} {
		_, err := ParseWhen("", tc.cron, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cron %q: %v, want it to say %q", tc.cron, err, tc.want)
		}
	}
}
