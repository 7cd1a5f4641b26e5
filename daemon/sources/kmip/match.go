package kmip

// Match reports whether name matches pattern, where * matches any run of
// characters (including none) and ? exactly one; every other character
// matches itself. A pattern without wildcards is an exact name. Matching is
// iterative with one backtrack point, so it is linear-ish even for hostile
// patterns.
func Match(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	pi, ni := 0, 0
	star, mark := -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]) && p[pi] != '*':
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// literalPrefix is the part of a pattern before its first wildcard.
func literalPrefix(pattern string) string {
	for i, r := range pattern {
		if r == '*' || r == '?' {
			return pattern[:i]
		}
	}
	return pattern
}
