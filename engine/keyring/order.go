package keyring

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// Rules a ring is ordered by (see the package documentation).
const (
	RuleVersion        = "version"
	RuleActivationDate = "activation-date"
	RuleInitialDate    = "initial-date"
)

// Reasons a candidate the KMS holds is left out of a version-ordered ring.
const (
	// LeftNoNumber: the name carries no generation number while the ring's
	// other names do.
	LeftNoNumber = "no-generation-number"
	// LeftOtherPrefix: the name's number follows another prefix than the
	// ring's generations (another spelling, another case).
	LeftOtherPrefix = "other-prefix"
	// LeftDuplicate: another object carries the same generation number
	// (key.7 twice, or key.7 and key.007).
	LeftDuplicate = "duplicate-generation"
)

// LeftOut is an eligible candidate the ordering rule keeps out of the ring.
type LeftOut struct {
	UID, Name string
	// Reason is one of the Left* constants; Detail says it in words.
	Reason, Detail string
}

// genNumber is the generation number a name ends in: the digits after a
// '.', '-' or '_' that follows a non-empty prefix. Leading zeros are not
// significant (key.007 is generation 7) and there is no size limit: numbers
// compare by their digits, never overflow.
type genNumber struct {
	prefix string
	digits string // without leading zeros; "0" for zero
}

func parseGen(name string) (genNumber, bool) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i < 2 {
		return genNumber{}, false
	}
	if c := name[i-1]; c != '.' && c != '-' && c != '_' {
		return genNumber{}, false
	}
	d := strings.TrimLeft(name[i:], "0")
	if d == "" {
		d = "0"
	}
	return genNumber{prefix: name[:i], digits: d}, true
}

// compareDigits compares two numbers written without leading zeros.
func compareDigits(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// naturalCompare compares text with runs of digits compared as numbers, so
// key.10 sorts after key.9 and uid 10 after uid 9.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := compareDigits(na, nb); c != 0 {
				return c
			}
			if c := cmp.Compare(da, db); c != 0 { // 7 before 007
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func compareTimes(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1 // unknown sorts after known
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// arrangement is the outcome of the ordering rule over one poll's
// candidates.
type arrangement struct {
	rule    string
	ranked  []Candidate // eligible, newest first
	leftOut []LeftOut   // eligible, kept out by the rule
}

// arrange applies the ordering rule to cands (any states; only eligible ones
// are ranked). held reports whether the ring already holds a uid: among
// objects carrying the same generation number the held one keeps its place,
// so a newcomer never displaces a generation that tokens were made with.
//
// The version rule applies when one prefix carries more numbered names than
// any other and at least as many as all the other names together (every
// state counts: the KMS's history says how the administrators name keys).
// Then names without a number, or with another prefix, are left out: they
// never encrypt and never reorder the ring.
func arrange(cands []Candidate, held func(uid string) bool, keep func(Candidate) bool) arrangement {
	if held == nil {
		held = func(string) bool { return false }
	}
	count := map[string]int{}
	for _, c := range cands {
		if g, ok := parseGen(c.Name); ok {
			count[g.prefix]++
		}
	}
	prefix, best, unique := "", 0, false
	for _, p := range slices.Sorted(maps.Keys(count)) {
		switch n := count[p]; {
		case n > best:
			prefix, best, unique = p, n, true
		case n == best:
			unique = false
		}
	}
	var el []Candidate
	for _, c := range cands {
		if keep(c) {
			el = append(el, c)
		}
	}
	if unique && 2*best >= len(cands) {
		return arrangeByVersion(el, prefix, held)
	}
	rule := RuleActivationDate
	for _, c := range el {
		if c.Activated == nil {
			rule = RuleInitialDate
			break
		}
	}
	slices.SortStableFunc(el, func(a, b Candidate) int { return compareByDate(rule, a, b) })
	return arrangement{rule: rule, ranked: el}
}

// compareByDate orders newest first by the rule's date, then by name and
// unique identifier compared naturally (the higher first).
func compareByDate(rule string, a, b Candidate) int {
	var c int
	if rule == RuleActivationDate {
		c = compareTimes(b.Activated, a.Activated)
	} else {
		c = compareTimes(b.Created, a.Created)
		if (a.Created == nil) != (b.Created == nil) {
			c = -c // an undated key is the oldest
		}
	}
	if c == 0 {
		c = naturalCompare(b.Name, a.Name)
	}
	if c == 0 {
		c = naturalCompare(b.UID, a.UID)
	}
	return c
}

func arrangeByVersion(el []Candidate, prefix string, held func(string) bool) arrangement {
	out := arrangement{rule: RuleVersion}
	type numbered struct {
		Candidate
		digits string
	}
	var ns []numbered
	for _, c := range el {
		g, ok := parseGen(c.Name)
		switch {
		case !ok:
			out.leftOut = append(out.leftOut, LeftOut{UID: c.UID, Name: c.Name, Reason: LeftNoNumber,
				Detail: "the name carries no generation number while the ring's names do (" + prefix + "N); it never encrypts nor reorders the ring"})
		case g.prefix != prefix:
			out.leftOut = append(out.leftOut, LeftOut{UID: c.UID, Name: c.Name, Reason: LeftOtherPrefix,
				Detail: "its number follows " + g.prefix + " while the ring's generations are named " + prefix + "N; it never encrypts nor reorders the ring"})
		default:
			ns = append(ns, numbered{c, g.digits})
		}
	}
	// Newest first by number; among equal numbers the one the ring holds,
	// then the earliest activated, then created, then the lowest
	// identifier: the first object to carry a number keeps it.
	slices.SortStableFunc(ns, func(a, b numbered) int {
		if c := compareDigits(b.digits, a.digits); c != 0 {
			return c
		}
		if ha, hb := held(a.UID), held(b.UID); ha != hb {
			if ha {
				return -1
			}
			return 1
		}
		if c := compareTimes(a.Activated, b.Activated); c != 0 {
			return c
		}
		if c := compareTimes(a.Created, b.Created); c != 0 {
			return c
		}
		if c := naturalCompare(a.Name, b.Name); c != 0 {
			return c
		}
		return naturalCompare(a.UID, b.UID)
	})
	for i, n := range ns {
		if i > 0 && ns[i-1].digits == n.digits {
			keep := out.ranked[len(out.ranked)-1]
			out.leftOut = append(out.leftOut, LeftOut{UID: n.UID, Name: n.Name, Reason: LeftDuplicate,
				Detail: "generation " + n.digits + " is already " + keep.Name + " (uid " + keep.UID + "); a second object with the same number never takes its place"})
			continue
		}
		out.ranked = append(out.ranked, n.Candidate)
	}
	slices.SortStableFunc(out.leftOut, func(a, b LeftOut) int {
		if c := naturalCompare(a.Name, b.Name); c != 0 {
			return c
		}
		return naturalCompare(a.UID, b.UID)
	})
	return out
}

// Order sorts candidates by the ring ordering rule, newest first, and
// returns the rule used: RuleVersion, RuleActivationDate or
// RuleInitialDate. States are not looked at. Candidates the rule leaves out
// follow the ranked ones, by name.
func Order(cands []Candidate) string {
	a := arrange(cands, nil, func(Candidate) bool { return true })
	var rest []Candidate
	for _, l := range a.leftOut {
		for _, c := range cands {
			if c.UID == l.UID && c.Name == l.Name {
				rest = append(rest, c)
				break
			}
		}
	}
	n := copy(cands, a.ranked)
	copy(cands[n:], rest)
	return a.rule
}
