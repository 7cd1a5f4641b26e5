package engine

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

const day = 24 * time.Hour

func TestClassify(t *testing.T) {
	th := DefaultThresholds()
	midnight := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		key  Key
		want Bucket
		why  string
	}{
		{"expired yesterday", Key{State: StateActive, Expires: at(-day)}, BucketExpired, "expired 24h ago"},
		{"expiring exactly now counts as expired", Key{State: StateActive, Expires: at(0)}, BucketExpired, ""},
		{"expired at midnight UTC today", Key{State: StateActive, Expires: &midnight}, BucketExpired, ""},
		{"expires in 3 days", Key{State: StateActive, Expires: at(3 * day)}, ExpiringBucket(7), "expires in 3d"},
		{"expires in exactly 7 days", Key{State: StateActive, Expires: at(7 * day)}, ExpiringBucket(7), ""},
		{"expires in 7 days and a second", Key{State: StateActive, Expires: at(7*day + time.Second)}, ExpiringBucket(30), ""},
		{"expires in 60 days", Key{State: StateActive, Expires: at(60 * day)}, ExpiringBucket(90), ""},
		{"far expiry, young", Key{State: StateActive, Created: at(-10 * day), Expires: at(400 * day)}, BucketHealthy, "expires in 1y35d"},
		{"no expiry, young", Key{State: StateActive, Created: at(-10 * day)}, BucketHealthy, "no expiry set"},
		{"no expiry, old", Key{State: StateActive, Created: at(-400 * day)}, BucketOverdue, "beyond rotation period 1y"},
		{"own rotation period", Key{State: StateActive, Created: at(-40 * day), RotateAfter: Duration(30 * day)}, BucketOverdue, "period 30d"},
		{"old, rotated recently", Key{State: StateActive, Created: at(-900 * day), Rotated: at(-20 * day)}, BucketHealthy, "no expiry set"},
		{"old, last rotated long ago", Key{State: StateActive, Created: at(-900 * day), Rotated: at(-400 * day)}, BucketOverdue, "last rotated 1y35d ago, beyond rotation period 1y"},
		{"own period from the last rotation", Key{State: StateActive, Created: at(-900 * day), Rotated: at(-40 * day), RotateAfter: Duration(30 * day)}, BucketOverdue, "last rotated 40d ago"},
		{"expiry beats rotation", Key{State: StateActive, Created: at(-400 * day), Expires: at(2 * day)}, ExpiringBucket(7), ""},
		{"disabled still ages", Key{State: StateDisabled, Expires: at(-day)}, BucketExpired, ""},
		{"deactivated is retired", Key{State: StateDeactivated, Expires: at(-day)}, BucketRetired, "deactivated"},
		{"destroyed is retired", Key{State: StateDestroyed}, BucketRetired, ""},
		{"soft-deleted is retired", Key{State: StateDeleted, Created: at(-900 * day)}, BucketRetired, ""},
		{"no dates at all", Key{State: StateActive}, BucketHealthy, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Classify(c.key, now, th)
			if got.Bucket != c.want {
				t.Fatalf("bucket %s (%s), want %s", got.Bucket, got.Reason, c.want)
			}
			if c.why != "" && !strings.Contains(got.Reason, c.why) {
				t.Fatalf("reason %q does not say %q", got.Reason, c.why)
			}
		})
	}
}

func TestClassifyTeamThresholds(t *testing.T) {
	th := Thresholds{ExpiringDays: []int{30, 10}}
	if b := Classify(Key{State: StateActive, Expires: at(9 * day)}, now, th).Bucket; b != ExpiringBucket(10) {
		t.Fatalf("9 days with windows 10/30: %s", b)
	}
	if b := Classify(Key{State: StateActive, Created: at(-5000 * day)}, now, th).Bucket; b != BucketHealthy {
		t.Fatalf("rotation check disabled but got %s", b)
	}
	want := []Bucket{BucketExpired, "expiring-10d", "expiring-30d", BucketOverdue, BucketHealthy, BucketRetired}
	got := th.Buckets()
	if strings.Join(bs(got), ",") != strings.Join(bs(want), ",") {
		t.Fatalf("buckets %v", got)
	}
}

func bs(b []Bucket) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

func TestTransitions(t *testing.T) {
	cases := []struct {
		from, to State
		ok       bool
	}{
		{StatePreActive, StateActive, true},
		{StateActive, StateDeactivated, true},
		{StateDeactivated, StateActive, false}, // KMIP never re-activates
		{StateCompromised, StateActive, false},
		{StateDestroyed, StateActive, false},
		{StateDisabled, StateActive, true},
		{StateDeleted, StateActive, true}, // recover
		{StateDeleted, StatePurged, true},
		{StatePurged, StateActive, false},
		{StateActive, StatePurged, false}, // purge needs a soft delete first
	}
	for _, c := range cases {
		if got := CanTransition(c.from, c.to); got != c.ok {
			t.Errorf("%s -> %s: %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	if !StateActive.CanEncrypt() || StateDeactivated.CanEncrypt() || !StateDeactivated.CanDecrypt() || StateCompromised.CanDecrypt() {
		t.Fatal("encrypt/decrypt rules broken")
	}
}

func TestParseState(t *testing.T) {
	for in, want := range map[string]State{"Active": StateActive, "pre_active": StatePreActive, "PreActive": StatePreActive, " deleted ": StateDeleted} {
		if got, err := ParseState(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseState("shiny"); err == nil || !strings.Contains(err.Error(), "active") {
		t.Fatalf("bad state error: %v", err)
	}
}

func TestSortKeysNumericVersions(t *testing.T) {
	keys := []Key{{ID: "a", Name: "k.10"}, {ID: "b", Name: "k.9"}, {ID: "c", Name: "k.1"}, {ID: "d", Name: "j"}}
	SortKeys(keys, SortName, false)
	got := []string{keys[0].Name, keys[1].Name, keys[2].Name, keys[3].Name}
	if strings.Join(got, " ") != "j k.1 k.9 k.10" {
		t.Fatalf("order %v", got)
	}
	keys = []Key{{ID: "a", Expires: at(day)}, {ID: "b"}, {ID: "c", Expires: at(-day)}}
	SortKeys(keys, SortExpires, false)
	if keys[0].ID != "c" || keys[2].ID != "b" {
		t.Fatalf("expiry order %v %v %v (no expiry must sort last)", keys[0].ID, keys[1].ID, keys[2].ID)
	}
}

func TestFilter(t *testing.T) {
	keys := []Key{{ID: "kms/acme.crm.key.1", Name: "acme.crm.key.1", Source: "kms", State: StateActive},
		{ID: "az/pay", Name: "pay", Source: "az", State: StateDisabled, Fingerprint: "sha256:abcd"},
		{ID: "aws/0f1e2d3c/current", Name: "0f1e2d3c", Source: "aws", State: StateActive, Tags: map[string]string{TagAliases: "ledger-batch,payments-old,settlement"}}}
	for _, q := range []string{"Ledger-B", "PAYMENTS-old", "settle"} {
		if got := FilterKeys(keys, Filter{Text: q}); len(got) != 1 || got[0].Source != "aws" {
			t.Fatalf("an AWS key by its alias %q: %v", q, got)
		}
	}
	if got := FilterKeys(keys, Filter{Text: "CRM"}); len(got) != 1 || got[0].Source != "kms" {
		t.Fatalf("text filter %v", got)
	}
	if got := FilterKeys(keys, Filter{Text: "abcd"}); len(got) != 1 {
		t.Fatal("fingerprint search")
	}
	if got := FilterKeys(keys, Filter{Source: "az", State: StateActive}); len(got) != 0 {
		t.Fatal("source+state filter")
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * day, "2w": 14 * day, "1y": 365 * day, "36h": 36 * time.Hour, "1h30m": 90 * time.Minute, "": 0} {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"d", "-3d", "a year", "5x"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if Duration(90*day).String() != "90d" {
		t.Fatal("90d renders as", Duration(90*day).String())
	}
	for in, want := range map[time.Duration]string{30 * time.Second: "30s", 5 * time.Minute: "5m", 30 * time.Hour: "30h", 3 * day: "3d", 400 * day: "1y35d", 730 * day: "2y"} {
		if got := HumanDuration(in); got != want {
			t.Errorf("%v: %s want %s", in, got, want)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "1y", "1h30m", "", "-1d", "99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("%q parsed to negative %v", s, d)
		}
	})
}

func TestPluralAndArticle(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Plural(1, "key"), "1 key"}, {Plural(0, "key"), "0 keys"}, {Plural(19, "certificate"), "19 certificates"},
		{WithArticle("admin"), "an admin"}, {WithArticle("user"), "a user"}, {WithArticle("unknown"), "an unknown"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// A bucket ParseBucket accepts is one some thresholds produce; what it
// refuses, it names.
func FuzzParseBucket(f *testing.F) {
	for _, s := range []string{"expired", "expiring-30d", "expiring-0d", "expiring-07d", "expiring-d", "expiring-30", "healthy", "retired", "rotation-overdue", "mouldy", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBucket(s)
		if err != nil {
			if !strings.Contains(err.Error(), "unknown aging bucket") {
				t.Fatalf("%q: unclear error %v", s, err)
			}
			return
		}
		th := DefaultThresholds()
		if d, ok := strings.CutPrefix(s, "expiring-"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(d, "d"))
			th.ExpiringDays = []int{n}
		}
		if !slices.Contains(th.Buckets(), b) || string(b) != s {
			t.Fatalf("%q accepted as %q, which no thresholds produce", s, b)
		}
	})
}

// TestDisplayName: an AWS key is named by its first alias (its key ID
// says nothing to a person); a key without aliases keeps its own name.
func TestDisplayName(t *testing.T) {
	for _, c := range []struct {
		k    Key
		want string
	}{
		{Key{Name: "0f1e2d3c-4b5a-4697-8877-66554433aa01", Tags: map[string]string{TagAliases: "orders-db,orders-db-old"}}, "orders-db"},
		{Key{Name: "0f1e2d3c-4b5a-4697-8877-66554433aa01", Tags: map[string]string{TagAliases: ""}}, "0f1e2d3c-4b5a-4697-8877-66554433aa01"},
		{Key{Name: "acme.crm.key.5"}, "acme.crm.key.5"},
	} {
		if got := c.k.DisplayName(); got != c.want {
			t.Errorf("%v: %q, want %q", c.k.Tags, got, c.want)
		}
	}
}

// TestClassifierDoesNotAllocate: an export classifies every key of the
// inventory, so a Classifier and AppendReason allocate nothing, whatever
// the reason (TestClassify checks the reasons themselves).
func TestClassifierDoesNotAllocate(t *testing.T) {
	th := DefaultThresholds()
	keys := []Key{
		{State: StateDestroyed},
		{State: StateActive, Expires: at(-3 * day)},
		{State: StateActive, Expires: at(20 * day)},
		{State: StateActive, Created: at(-900 * day), Rotated: at(-400 * day)},
		{State: StateActive, Created: at(-400 * day)},
		{State: StateActive, Created: at(-10 * day)},
		{State: StateActive, Expires: at(400 * day)},
	}
	c := NewClassifier(now, th)
	buf := make([]byte, 0, 128)
	for _, k := range keys {
		want := Classify(k, now, th)
		if n := testing.AllocsPerRun(100, func() { buf = c.Classify(&k).AppendReason(buf[:0]) }); n != 0 {
			t.Errorf("%+v (%s): %v allocations per key", k, want.Reason, n)
		}
	}
}
