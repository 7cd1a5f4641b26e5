package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

func TestParseSpec(t *testing.T) {
	s, err := Parse(Spec{Name: "weekly-rotate", Kind: KindRotate, Every: "weekly mon 02:00", Zone: "Europe/Paris",
		Start: "2027-01-01", End: "2028-01-01", Jitter: "30m", Aging: "expiring-30d", Pattern: "acme-*"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Keep != DefaultKeep {
		t.Errorf("keep %d, want default %d", s.Keep, DefaultKeep)
	}
	// Before the start date the first occurrence is the first Monday of 2027.
	n, ok := s.Next(utc("2026-06-01T00:00:00Z"))
	if !ok || n.UTC().Format(time.RFC3339) != "2027-01-04T01:00:00Z" {
		t.Errorf("first occurrence %s %v, want 2027-01-04T01:00:00Z", n.UTC(), ok)
	}
	if _, ok := s.Next(utc("2027-12-31T00:00:00Z")); ok {
		t.Error("an occurrence past the end date")
	}
	// The delay is in the window, the same for the same occurrence and seed.
	d1, d2 := s.Delay("host-a", n), s.Delay("host-a", n)
	if d1 != d2 || d1 < 0 || d1 >= 30*time.Minute {
		t.Errorf("delay %s, %s", d1, d2)
	}
	spread := map[time.Duration]bool{}
	for _, h := range []string{"a", "b", "c", "d", "e", "f"} {
		spread[s.Delay(h, n)] = true
	}
	if len(spread) < 3 {
		t.Errorf("six daemons drew %d distinct delays: no spread", len(spread))
	}

	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Name: "Bad Name", Kind: KindSync, Every: "daily 01:00"}, "name:"},
		{Spec{Name: "x", Kind: "shred", Every: "daily 01:00"}, "kind:"},
		{Spec{Name: "x", Kind: KindSync, Every: "daily 01:00", Pattern: "k*"}, "selects sources only"},
		{Spec{Name: "x", Kind: KindReport, Every: "daily 01:00", Report: "aging"}, "dir:"},
		{Spec{Name: "x", Kind: KindReport, Every: "daily 01:00", Report: "sales", Dir: "/tmp"}, "report:"},
		{Spec{Name: "x", Kind: KindRotate, Every: "daily 01:00", Aging: "old"}, "aging:"},
		{Spec{Name: "x", Kind: KindRotate, Every: "daily 01:00", Jitter: "3d"}, "jitter:"},
		{Spec{Name: "x", Kind: KindRotate, Every: "daily 01:00", Start: "2027-02-01", End: "2027-01-01"}, "end:"},
		{Spec{Name: "x", Kind: KindRotate, Every: "daily 01:00", Pattern: "[a"}, "pattern:"},
		{Spec{Name: "x", Kind: KindRotate, Cron: "0 0 30 2 *"}, "never comes"},
		{Spec{Name: "x", Kind: KindSync, Cron: "*/5 * * * *", Jitter: "1h"}, "not shorter than the 5m0s between two runs"},
		{Spec{Name: "x", Kind: KindSync, Every: "daily 01:00", Jitter: "24h"}, "between two runs"},
		{Spec{Name: "x", Kind: KindSync, Every: "daily 01:00", Sources: make([]string, MaxList+1)}, "sources: 257 entries; at most 256"},
		{Spec{Name: "x", Kind: KindSync, Every: "daily 01:00", Sources: []string{"a", "a"}}, `"a" is named twice`},
		{Spec{Name: "x", Kind: KindSync, Every: "daily 01:00", Sources: []string{""}}, "a source name is 1 to"},
		{Spec{Name: "x", Kind: KindRotate, Every: "daily 01:00", Tags: map[string]string{"t": strings.Repeat("v", MaxField+1)}}, "tags:"},
		{Spec{Name: "x", Kind: KindRotate, Every: "daily 01:00", Pattern: strings.Repeat("*", MaxField+1)}, "pattern:"},
	} {
		if _, err := Parse(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.spec, err, tc.want)
		}
	}
}

func TestMatches(t *testing.T) {
	s, err := Parse(Spec{Name: "r", Kind: KindRotate, Every: "daily 01:00", Sources: []string{"vault"}, Pattern: "acme-*",
		Tags: map[string]string{"team": "pay"}, Aging: "expiring-30d"})
	if err != nil {
		t.Fatal(err)
	}
	ok := engine.Key{Source: "vault", Name: "acme-pay", Tags: map[string]string{"team": "pay"}, Aging: &engine.Aging{Bucket: "expiring-30d"}}
	if !s.Matches(ok) {
		t.Error("the matching key is not selected")
	}
	for _, k := range []engine.Key{
		{Source: "other", Name: "acme-pay", Tags: ok.Tags, Aging: ok.Aging},
		{Source: "vault", Name: "beta-pay", Tags: ok.Tags, Aging: ok.Aging},
		{Source: "vault", Name: "acme-pay", Tags: map[string]string{"team": "crm"}, Aging: ok.Aging},
		{Source: "vault", Name: "acme-pay", Tags: ok.Tags, Aging: &engine.Aging{Bucket: "healthy"}},
	} {
		if s.Matches(k) {
			t.Errorf("%+v selected", k)
		}
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		steps []string
		want  string
	}{
		{nil, RunDone},
		{[]string{StepDone, StepSkipped}, RunDone},
		{[]string{StepDone, StepFailed}, RunPartial},
		{[]string{StepFailed, StepSkipped}, RunFailed},
	} {
		if got := Outcome(tc.steps); got != tc.want {
			t.Errorf("Outcome(%v) = %s, want %s", tc.steps, got, tc.want)
		}
	}
}
