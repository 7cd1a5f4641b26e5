package fields

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Matching says how the names of a request are compared with the configured
// ones.
type Matching uint8

const (
	// Fold matches a name the way the most lenient common parser binds it:
	// case-insensitively with Unicode simple case folding (Go encoding/json,
	// Json.NET, ASP.NET, Jackson with ACCEPT_CASE_INSENSITIVE_PROPERTIES),
	// ignoring '_' and '-' (Go json/v2 case:ignore), with Turkish dotted and
	// dotless i as i (Jackson under a Turkish locale). The default.
	Fold Matching = iota
	// Exact matches a name byte for byte (after JSON or percent unescaping).
	Exact
)

// ParseMatching reads the name_matching setting ("" is the default, fold).
func ParseMatching(s string) (Matching, error) {
	switch s {
	case "", "fold":
		return Fold, nil
	case "exact":
		return Exact, nil
	}
	return Fold, fmt.Errorf("%q is not \"fold\" or \"exact\"", s)
}

func (m Matching) String() string {
	if m == Exact {
		return "exact"
	}
	return "fold"
}

// foldKey is the folded form of a name: two names match under Fold when
// their keys are equal.
func foldKey(dst []byte, name []byte) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			i++
			if c == '_' || c == '-' {
				continue
			}
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		i += n
		dst = utf8.AppendRune(dst, foldRune(r))
	}
	return dst
}

// foldRune is the smallest rune of r's simple case folding orbit (so K, k
// and the Kelvin sign all give K; s, S and long s give S), with U+0130 and
// U+0131 (Turkish İ and ı) as I.
func foldRune(r rune) rune {
	if r == 'İ' || r == 'ı' {
		return 'I'
	}
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// foldEqual reports whether name folds to key (a foldKey). ASCII names are
// compared byte by byte with no copy; a name with a non-ASCII byte is
// folded whole.
func foldEqual(name []byte, key string) bool {
	j := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			var buf [64]byte
			return string(foldKey(buf[:0], name)) == key
		}
		if c == '_' || c == '-' {
			continue
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		// The folded prefix so far is ASCII and aligned with key: a
		// difference here is a difference of the whole.
		if j >= len(key) || key[j] != c {
			return false
		}
		j++
	}
	return j == len(key)
}

// foldFirst is the folded first byte of a name, or 0 when one byte cannot
// tell (empty, non-ASCII, '_' or '-').
func foldFirst(name []byte) byte {
	if len(name) == 0 {
		return 0
	}
	c := name[0]
	if c >= utf8.RuneSelf || c == '_' || c == '-' {
		return 0
	}
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	return c
}

// nameMatches compares a request's name with a step's configured name.
func (st *step) nameMatches(name []byte, m Matching) bool {
	if m == Exact {
		return st.name == string(name)
	}
	return foldEqual(name, st.fold)
}
