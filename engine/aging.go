package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Bucket is the aging class of a key at one instant.
type Bucket string

const (
	BucketExpired  Bucket = "expired"
	BucketOverdue  Bucket = "rotation-overdue"
	BucketHealthy  Bucket = "healthy"
	BucketRetired  Bucket = "retired" // deactivated, compromised, destroyed, deleted or purged: no longer ages
	bucketExpiring        = "expiring-"
)

// ExpiringBucket names the bucket of keys expiring within days.
func ExpiringBucket(days int) Bucket { return Bucket(fmt.Sprintf("%s%dd", bucketExpiring, days)) }

// ParseBucket reads a bucket's name: expired, expiring-Nd (N days, 1 or
// more), rotation-overdue, healthy or retired. Which expiring-Nd windows
// exist is configured (Thresholds.Buckets); this checks the form only, for
// a front end that cannot see the configuration.
func ParseBucket(s string) (Bucket, error) {
	switch b := Bucket(s); b {
	case BucketExpired, BucketOverdue, BucketHealthy, BucketRetired:
		return b, nil
	}
	if d, ok := strings.CutPrefix(s, bucketExpiring); ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(d, "d")); err == nil && n > 0 && strings.HasSuffix(d, "d") && ExpiringBucket(n) == Bucket(s) {
			return Bucket(s), nil
		}
	}
	return "", fmt.Errorf("unknown aging bucket %q (known: expired, expiring-Nd such as expiring-30d, rotation-overdue, healthy, retired)", s)
}

// Thresholds configure aging. ExpiringDays are the warning windows in days,
// e.g. [7 30 90]; RotationPeriod is how old an active key may get before its
// rotation is overdue (zero disables the rotation check).
type Thresholds struct {
	ExpiringDays   []int
	RotationPeriod time.Duration
}

// DefaultThresholds are 7/30/90 days and a one-year rotation period.
func DefaultThresholds() Thresholds {
	return Thresholds{ExpiringDays: []int{7, 30, 90}, RotationPeriod: 365 * 24 * time.Hour}
}

// Buckets lists every bucket these thresholds can produce, most urgent first.
func (t Thresholds) Buckets() []Bucket {
	days := append([]int(nil), t.ExpiringDays...)
	sort.Ints(days)
	out := []Bucket{BucketExpired}
	for _, d := range days {
		out = append(out, ExpiringBucket(d))
	}
	return append(out, BucketOverdue, BucketHealthy, BucketRetired)
}

// Aging is the classification of one key at one instant, with the reason in
// words and the date that drove it.
type Aging struct {
	Bucket Bucket     `json:"bucket"`
	Reason string     `json:"reason"`
	Due    *time.Time `json:"due,omitempty"`
}

// RotationDue is when the key should be rotated: its rotation period
// after its last rotation, or after its creation when it was never
// rotated (AgedFrom); nil when it has neither date or no period applies.
func RotationDue(k Key, t Thresholds) *time.Time {
	period := t.RotationPeriod
	if k.RotateAfter > 0 {
		period = time.Duration(k.RotateAfter)
	}
	from := k.AgedFrom()
	if period <= 0 || from == nil {
		return nil
	}
	due := from.Add(period)
	return &due
}

// Classify puts k in its aging bucket at now. The rules, in order:
//  1. a key that is deactivated, compromised, destroyed, deleted or purged is retired;
//  2. a key whose expiry is at or before now is expired;
//  3. a key expiring within the smallest window that holds it is expiring-Nd;
//  4. an active, disabled or pre-active key whose last rotation (its creation
//     when never rotated) is older than its rotation period is rotation-overdue;
//  5. anything else is healthy.
func Classify(k Key, now time.Time, t Thresholds) Aging {
	switch k.State {
	case StateDeactivated, StateCompromised, StateDestroyed, StateDeleted, StatePurged:
		return Aging{Bucket: BucketRetired, Reason: "key is " + string(k.State)}
	}
	if k.Expires != nil {
		if !k.Expires.After(now) {
			return Aging{Bucket: BucketExpired, Reason: "expired " + HumanDuration(now.Sub(*k.Expires)) + " ago", Due: k.Expires}
		}
		days := append([]int(nil), t.ExpiringDays...)
		sort.Ints(days)
		left := k.Expires.Sub(now)
		for _, d := range days {
			if left <= time.Duration(d)*24*time.Hour {
				return Aging{Bucket: ExpiringBucket(d), Reason: "expires in " + HumanDuration(left), Due: k.Expires}
			}
		}
	}
	if due := RotationDue(k, t); due != nil && !due.After(now) {
		period := t.RotationPeriod
		if k.RotateAfter > 0 {
			period = time.Duration(k.RotateAfter)
		}
		if from := k.AgedFrom(); from != k.Created {
			return Aging{Bucket: BucketOverdue, Due: due,
				Reason: fmt.Sprintf("last rotated %s ago, beyond rotation period %s", HumanDuration(now.Sub(*from)), HumanDuration(period))}
		}
		return Aging{Bucket: BucketOverdue, Due: due,
			Reason: fmt.Sprintf("age %s beyond rotation period %s", HumanDuration(k.Age(now)), HumanDuration(period))}
	}
	if k.Expires == nil {
		return Aging{Bucket: BucketHealthy, Reason: "no expiry set", Due: RotationDue(k, t)}
	}
	return Aging{Bucket: BucketHealthy, Reason: "expires in " + HumanDuration(k.Expires.Sub(now)), Due: k.Expires}
}

// HumanDuration renders a duration the way an administrator reads key ages:
// 45s, 12m, 5h, 3d, 2y41d.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	days := int(d.Hours() / 24)
	if days < 365 {
		return fmt.Sprintf("%dd", days)
	}
	if days%365 == 0 {
		return fmt.Sprintf("%dy", days/365)
	}
	return fmt.Sprintf("%dy%dd", days/365, days%365)
}

// Duration is a time.Duration that reads and writes the units key
// administrators use: "90d", "1y", "36h", "15m" (and Go's "1h30m").
type Duration time.Duration

// ParseDuration parses "30d", "1y", "2w" or any time.ParseDuration string.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	units := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if u, ok := units[s[len(s)-1]]; ok {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n < 0 || n > 1000*365 {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 90d, 2w, 1y, 36h)", s)
		}
		return Duration(time.Duration(n) * u), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90d, 2w, 1y, 36h)", s)
	}
	return Duration(d), nil
}

// String renders whole days as "Nd", anything else as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what ParseDuration accepts.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Summary counts keys per aging bucket.
type Summary struct {
	Buckets []Bucket       `json:"buckets"`
	Counts  map[Bucket]int `json:"counts"`
	Total   int            `json:"total"`
}

// Summarize classifies every key and counts the buckets.
func Summarize(keys []Key, now time.Time, t Thresholds) Summary {
	s := Summary{Buckets: t.Buckets(), Counts: map[Bucket]int{}}
	for _, k := range keys {
		s.Counts[Classify(k, now, t).Bucket]++
		s.Total++
	}
	return s
}
