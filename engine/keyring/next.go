package keyring

import (
	"fmt"
	"strings"
)

// NextName is the name of the generation after the newest of names, in
// the names' own scheme: the prefix most generation numbers follow, and
// the highest number plus one, written as wide as the numbers are
// (acme.crm.key.5 → acme.crm.key.6, key-009 → key-010). Names without a
// number, or with another prefix, do not count, as in the ring's ordering
// rule. newest is the name it follows.
func NextName(names []string) (newest, next string, err error) {
	count := map[string]int{}
	best := map[string]genNumber{}
	bestName := map[string]string{}
	for _, n := range names {
		g, ok := parseGen(n)
		if !ok {
			continue
		}
		count[g.prefix]++
		if b, ok := best[g.prefix]; !ok || compareDigits(g.digits, b.digits) > 0 {
			best[g.prefix], bestName[g.prefix] = g, n
		}
	}
	prefix := ""
	for p, c := range count {
		if c > count[prefix] || c == count[prefix] && p < prefix {
			prefix = p
		}
	}
	if prefix == "" {
		return "", "", fmt.Errorf("no name carries a generation number (such as acme.crm.key.5) to follow")
	}
	newest = bestName[prefix]
	written := newest[len(prefix):]
	inc := increment(best[prefix].digits)
	if pad := len(written) - len(inc); pad > 0 {
		inc = strings.Repeat("0", pad) + inc
	}
	return newest, prefix + inc, nil
}

// increment adds one to a number written in decimal digits, of any size.
func increment(d string) string {
	b := []byte(d)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}
