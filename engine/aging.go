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
	due, _, ok := rotationDue(&k, t)
	if !ok {
		return nil
	}
	return &due
}

// rotationDue is RotationDue as a value, with the rotation period that
// applies to k (its own RotateAfter, else the default); ok is false when
// there is no due date.
func rotationDue(k *Key, t Thresholds) (due time.Time, period time.Duration, ok bool) {
	period = t.RotationPeriod
	if k.RotateAfter > 0 {
		period = time.Duration(k.RotateAfter)
	}
	from := k.AgedFrom()
	if period <= 0 || from == nil {
		return time.Time{}, period, false
	}
	return from.Add(period), period, true
}

// Classify puts k in its aging bucket at now. The rules, in order:
//  1. a key that is deactivated, compromised, destroyed, deleted or purged is retired;
//  2. a key whose expiry is at or before now is expired;
//  3. a key expiring within the smallest window that holds it is expiring-Nd;
//  4. an active, disabled or pre-active key whose last rotation (its creation
//     when never rotated) is older than its rotation period is rotation-overdue;
//  5. anything else is healthy.
//
// A caller classifying many keys at one instant uses a Classifier, which
// applies the same rules without allocating.
func Classify(k Key, now time.Time, t Thresholds) Aging {
	c := NewClassifier(now, t)
	return c.Classify(&k).Aging()
}

// Classifier classifies keys at one instant under one set of thresholds,
// as Classify does, without allocating: an export classifies every key of
// the inventory.
type Classifier struct {
	now     time.Time
	t       Thresholds
	days    []int    // t.ExpiringDays, ascending
	windows []Bucket // the bucket of each of days
}

// NewClassifier prepares the classification of keys at now under t.
func NewClassifier(now time.Time, t Thresholds) *Classifier {
	c := &Classifier{now: now, t: t, days: append([]int(nil), t.ExpiringDays...)}
	sort.Ints(c.days)
	for _, d := range c.days {
		c.windows = append(c.windows, ExpiringBucket(d))
	}
	return c
}

// Class is a key's aging classification as values: Aging with its reason
// kept as the figures it is written from (AppendReason).
type Class struct {
	Bucket Bucket
	Due    time.Time
	HasDue bool
	reason reasonKind
	state  State
	// d is the duration the reason names first (time since expiry, time
	// left, age or time since the last rotation); period the rotation period.
	d, period time.Duration
}

type reasonKind uint8

const (
	reasonRetired   reasonKind = iota // key is <state>
	reasonExpired                     // expired <d> ago
	reasonExpiresIn                   // expires in <d>
	reasonRotated                     // last rotated <d> ago, beyond rotation period <period>
	reasonAge                         // age <d> beyond rotation period <period>
	reasonNoExpiry                    // no expiry set
)

// Classify classifies the key k points to (k is only read).
func (c *Classifier) Classify(k *Key) Class {
	switch k.State {
	case StateDeactivated, StateCompromised, StateDestroyed, StateDeleted, StatePurged:
		return Class{Bucket: BucketRetired, reason: reasonRetired, state: k.State}
	}
	now := c.now
	if k.Expires != nil {
		exp := *k.Expires
		if !exp.After(now) {
			return Class{Bucket: BucketExpired, reason: reasonExpired, d: now.Sub(exp), Due: exp, HasDue: true}
		}
		left := exp.Sub(now)
		for i, d := range c.days {
			if left <= time.Duration(d)*24*time.Hour {
				return Class{Bucket: c.windows[i], reason: reasonExpiresIn, d: left, Due: exp, HasDue: true}
			}
		}
	}
	due, period, hasDue := rotationDue(k, c.t)
	if hasDue && !due.After(now) {
		if k.Rotated != nil {
			return Class{Bucket: BucketOverdue, reason: reasonRotated, d: now.Sub(*k.Rotated), period: period, Due: due, HasDue: true}
		}
		return Class{Bucket: BucketOverdue, reason: reasonAge, d: k.Age(now), period: period, Due: due, HasDue: true}
	}
	if k.Expires == nil {
		return Class{Bucket: BucketHealthy, reason: reasonNoExpiry, Due: due, HasDue: hasDue}
	}
	return Class{Bucket: BucketHealthy, reason: reasonExpiresIn, d: k.Expires.Sub(now), Due: *k.Expires, HasDue: true}
}

// AppendReason appends the reason in words, as Aging.Reason has it.
func (c Class) AppendReason(dst []byte) []byte {
	switch c.reason {
	case reasonRetired:
		return append(append(dst, "key is "...), c.state...)
	case reasonExpired:
		return append(AppendHumanDuration(append(dst, "expired "...), c.d), " ago"...)
	case reasonExpiresIn:
		return AppendHumanDuration(append(dst, "expires in "...), c.d)
	case reasonRotated:
		dst = AppendHumanDuration(append(dst, "last rotated "...), c.d)
		return AppendHumanDuration(append(dst, " ago, beyond rotation period "...), c.period)
	case reasonAge:
		dst = AppendHumanDuration(append(dst, "age "...), c.d)
		return AppendHumanDuration(append(dst, " beyond rotation period "...), c.period)
	}
	return append(dst, "no expiry set"...)
}

// Aging is c as the Aging a served Key carries.
func (c Class) Aging() Aging {
	a := Aging{Bucket: c.Bucket, Reason: string(c.AppendReason(nil))}
	if c.HasDue {
		due := c.Due
		a.Due = &due
	}
	return a
}

// HumanDuration renders a duration the way an administrator reads key ages:
// 45s, 12m, 5h, 3d, 2y41d.
func HumanDuration(d time.Duration) string { return string(AppendHumanDuration(nil, d)) }

// AppendHumanDuration appends what HumanDuration returns for d.
func AppendHumanDuration(dst []byte, d time.Duration) []byte {
	if d < 0 {
		d = -d
	}
	n := func(v int, unit string) []byte { return append(strconv.AppendInt(dst, int64(v), 10), unit...) }
	switch {
	case d < time.Minute:
		return n(int(d.Seconds()), "s")
	case d < time.Hour:
		return n(int(d.Minutes()), "m")
	case d < 48*time.Hour:
		return n(int(d.Hours()), "h")
	}
	days := int(d.Hours() / 24)
	if days < 365 {
		return n(days, "d")
	}
	if days%365 == 0 {
		return n(days/365, "y")
	}
	dst = n(days/365, "y")
	return append(strconv.AppendInt(dst, int64(days%365), 10), 'd')
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
	b, _ := d.AppendText(nil)
	return string(b)
}

// AppendText appends what String returns (encoding.TextAppender), with no
// allocation for whole days.
func (d Duration) AppendText(dst []byte) ([]byte, error) {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return append(strconv.AppendInt(dst, int64(td/(24*time.Hour)), 10), 'd'), nil
	}
	return append(dst, td.String()...), nil
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
