package fields

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/engine/token"
)

// Form names are read the way common frameworks read them, and a pair is
// protected when any of these readings reaches a protected field:
//
//   - literally, as one name (Go, Java servlets, Express without qs);
//   - as PHP does: leading spaces dropped, the name cut at a NUL, ' ' and
//     '.' before the first '[' turned into '_', an unclosed '[' turned into
//     '_', then [key] and [] as nested keys (card[number]);
//   - as a path (Rails/Rack brackets, ASP.NET and Spring dots and
//     brackets, qs with allowDots): card.number, card[number],
//     records[0][ssn], records[].ssn;
//   - split at every '.', '[' and ']', for lenient parsers;
//   - the last two also with leading white space dropped, or kept.
//
// Name steps compare under the Rules' Matching; [] and any key match a [*]
// or * step, and [N] an index step.

// ErrAmbiguousName is a form naming one protected field in two different
// spellings, or hiding a protected name behind a ';' that some frameworks
// read as a separator.
var ErrAmbiguousName = errors.New("ambiguous field name")

// reason is an error whose text is only its reason, that errors.Is
// matches to its kind (ErrAmbiguousName, ErrPatch): callers say the kind
// in their own words without repeating it.
type reason struct {
	kind error
	msg  string
}

func (e *reason) Error() string        { return e.msg }
func (e *reason) Is(target error) bool { return target == e.kind }

// errBadEscape never quotes the bytes it refers to: they may belong to a
// protected value.
var errBadEscape = errors.New("invalid percent-encoding")

// FormError is a form body or query string that cannot be parsed or is
// ambiguous. It says where (the pair's position) and which configured field,
// never what the request held.
type FormError struct {
	Pair  int    // 1-based position of the pair
	Field string // the configured field concerned, if known
	Err   error
}

func (e *FormError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("pair %d (protected field %s): %v", e.Pair, e.Field, e.Err)
	}
	return fmt.Sprintf("pair %d: %v", e.Pair, e.Err)
}

func (e *FormError) Unwrap() error { return e.Err }

// formSeg is one step of a form name's reading: a name, or [] (elem).
type formSeg struct {
	text string
	elem bool
}

// EncryptForm appends the form body (application/x-www-form-urlencoded or a
// raw query) with the value of every protected field replaced by its token;
// other pairs are copied byte for byte. It returns the count encrypted.
func (r *Rules) EncryptForm(dst, body []byte, enc Encrypter) ([]byte, int, error) {
	n := 0
	s := string(body)
	var seen map[string]spelling
	for i := 1; s != ""; i++ {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if i > 1 {
			dst = append(dst, '&')
		}
		k, v, hasEq := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return dst, 0, &FormError{Pair: i, Err: fmt.Errorf("%w in a name", errBadEscape)}
		}
		if strings.IndexByte(pair, ';') >= 0 {
			if err := r.semicolons(pair, i); err != nil {
				return dst, 0, err
			}
		}
		rule, det, ok := r.formMatch(name)
		if !ok || !hasEq {
			dst = append(dst, pair...)
			continue
		}
		if seen, err = r.noteSpelling(seen, name, rule, i); err != nil {
			return dst, 0, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return dst, 0, &FormError{Pair: i, Field: rule, Err: errBadEscape}
		}
		dst = append(dst, k...)
		dst = append(dst, '=')
		pt := []byte(val)
		dst, err = enc(dst, pt, det, token.Text)
		clear(pt)
		if err != nil {
			return dst, 0, err
		}
		n++
	}
	return dst, n, nil
}

// ErrExposed is a form pair that reaches a protected field with a value
// that is not a keyward token.
var ErrExposed = errors.New("a protected field in plaintext")

// CheckForm reads a form body or query string as upstreams do, pairs split
// at '&' and at ';', and returns a *FormError wrapping ErrExposed for the
// first pair whose name reaches a protected field and whose value is
// neither empty nor one keyward token (or errBadEscape for a pair it cannot
// decode). The proxy checks with it what it does not rewrite, and what it
// rewrote.
func (r *Rules) CheckForm(form []byte) error {
	if r.Empty() {
		return nil
	}
	s := string(form)
	for i := 1; s != ""; i++ {
		var pair string
		if j := strings.IndexAny(s, "&;"); j >= 0 {
			pair, s = s[:j], s[j+1:]
		} else {
			pair, s = s, ""
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return &FormError{Pair: i, Err: fmt.Errorf("%w in a name", errBadEscape)}
		}
		rule, _, ok := r.formMatch(name)
		if !ok {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return &FormError{Pair: i, Field: rule, Err: errBadEscape}
		}
		if val != "" && token.Span([]byte(val)) != len(val) {
			return &FormError{Pair: i, Field: rule, Err: ErrExposed}
		}
	}
	return nil
}

// semicolons refuses a pair in which a ';' (a pair separator for Rack 2,
// older Python and some servlet containers) is followed by a protected name:
// the proxy would read one value where such an upstream reads two.
func (r *Rules) semicolons(pair string, i int) error {
	for _, sub := range strings.Split(pair, ";")[1:] {
		k, _, _ := strings.Cut(sub, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			continue // not a name to Go either; the value is encrypted whole if the pair is protected
		}
		if rule, _, ok := r.formMatch(name); ok {
			return &FormError{Pair: i, Field: rule, Err: &reason{ErrAmbiguousName, "a ';' inside the pair precedes a protected name, and some frameworks split pairs at ';'; separate pairs with '&'"}}
		}
	}
	return nil
}

// spelling is a protected name seen in a form, by its shape (the folded
// path reading) and exact decoded text.
type spelling struct {
	name string
	pair int
}

// noteSpelling refuses a second, different spelling of a name already seen
// with the same shape (ssn and SSN, card[number] and card.number): which
// one an upstream keeps depends on the framework. seen maps a shape to its
// first spelling: one lookup a pair (a list scanned for every protected
// pair made a 4 MiB form of "ssn=1&" pairs cost hours of CPU).
func (r *Rules) noteSpelling(seen map[string]spelling, name, rule string, i int) (map[string]spelling, error) {
	shape := r.shape(name)
	if s, ok := seen[shape]; ok {
		if s.name != name {
			return seen, &FormError{Pair: i, Field: rule, Err: &reason{ErrAmbiguousName, fmt.Sprintf("pairs %d and %d spell it differently, and frameworks differ on which one counts; send one spelling", s.pair, i)}}
		}
		return seen, nil
	}
	if seen == nil {
		seen = map[string]spelling{}
	}
	seen[shape] = spelling{name: name, pair: i}
	return seen, nil
}

func (r *Rules) shape(name string) string {
	var b []byte
	for _, s := range pathReading(nil, phpTrim(name)) {
		if s.elem {
			b = append(b, 1)
		} else if r.m == Exact {
			b = append(b, s.text...)
		} else {
			b = foldKey(b, []byte(s.text))
		}
		b = append(b, 0)
	}
	return string(b)
}

// formMatch reports whether any reading of a form name reaches a protected
// field: the first such field's path, and whether any is deterministic.
func (r *Rules) formMatch(name string) (rule string, det, ok bool) {
	if r.Empty() {
		return "", false, false
	}
	var buf [8]formSeg
	check := func(segs []formSeg) {
		for i := range r.rules {
			budget := maxReach
			if r.reach(r.rules[i].Path.steps, segs, &budget) {
				if !ok {
					rule = r.rules[i].Path.text
				}
				ok = true
				det = det || r.rules[i].Deterministic
			}
		}
	}
	check(append(buf[:0], formSeg{text: name}))
	if !strings.ContainsAny(name, " .[]\x00") && (name == "" || name[0] > ' ' && name[0] < utf8.RuneSelf) {
		return rule, det, ok // every reading is the literal one
	}
	php := phpTrim(name)
	check(phpReading(buf[:0], php))
	for _, v := range []string{php, name, strings.TrimLeftFunc(name, unicode.IsSpace)} {
		check(pathReading(buf[:0], v))
		check(splitReading(buf[:0], v))
		check(bracketReading(buf[:0], v))
	}
	return rule, det, ok
}

// maxReach bounds the work of matching one reading against one rule; past
// it the name counts as protected.
const maxReach = 1024

// reach reports whether steps are complete within segs: the value is the
// protected field or lies inside it. An element step may also match no
// segment: tags=a&tags=b binds to a list in Spring, ASP.NET and qs, and
// records[ssn] or records.ssn may be read as the records' ssn.
func (r *Rules) reach(steps []step, segs []formSeg, budget *int) bool {
	if *budget--; *budget < 0 {
		return true
	}
	if len(steps) == 0 {
		return true
	}
	st := &steps[0]
	if (st.kind == stepAnyElem || st.kind == stepIndex) && r.reach(steps[1:], segs, budget) {
		return true
	}
	return len(segs) > 0 && r.segMatches(st, segs[0]) && r.reach(steps[1:], segs[1:], budget)
}

func (r *Rules) segMatches(st *step, s formSeg) bool {
	switch st.kind {
	case stepAnyMember, stepAnyElem:
		return true
	case stepIndex:
		if s.elem {
			return true
		}
		n, err := strconv.ParseUint(s.text, 10, 32)
		return err == nil && int(n) == st.index
	default:
		return st.nameMatches([]byte(s.text), r.m) // [] has no text: no name matches it
	}
}

// phpTrim drops leading spaces and cuts the name at a NUL, as PHP does.
func phpTrim(name string) string {
	name = strings.TrimLeft(name, " ")
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return name
}

// phpReading appends PHP's reading of a (trimmed) name.
func phpReading(segs []formSeg, name string) []formSeg {
	open := strings.IndexByte(name, '[')
	if open < 0 {
		return append(segs, formSeg{text: phpMangle(name, false)})
	}
	if strings.IndexByte(name[open:], ']') < 0 {
		// Not an index: the '[' becomes '_' and so do ' ', '.' and '['
		// after it (PHP 8).
		return append(segs, formSeg{text: phpMangle(name[:open], false) + "_" + phpMangle(name[open+1:], true)})
	}
	segs = append(segs, formSeg{text: phpMangle(name[:open], false)})
	rest := name[open:]
	for len(rest) > 0 && rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break // junk after the last complete key is ignored
		}
		key := rest[1:end]
		segs = append(segs, formSeg{text: key, elem: key == ""})
		rest = rest[end+1:]
	}
	return segs
}

func phpMangle(s string, bracket bool) string {
	return strings.Map(func(c rune) rune {
		if c == ' ' || c == '.' || bracket && c == '[' {
			return '_'
		}
		return c
	}, s)
}

// pathReading appends the dots-and-brackets reading of a name.
func pathReading(segs []formSeg, name string) []formSeg {
	cur := 0
	for i := 0; i < len(name); {
		switch name[i] {
		case '.', ']': // a stray ']' ends a name too (wider than any reader)
			if i > cur {
				segs = append(segs, formSeg{text: name[cur:i]})
			}
			i++
			cur = i
		case '[':
			end := strings.IndexByte(name[i:], ']')
			if i > cur {
				segs = append(segs, formSeg{text: name[cur:i]})
			}
			if end < 0 {
				// Rack 3 nests an unclosed "[0" under the name before
				// it, Rack 2 nests "0" (its key pattern drops the
				// brackets): the second reaches a named field
				// (records[0][ssn=1 binds ssn), and either matches a
				// [*] step.
				return append(segs, formSeg{text: strings.TrimLeft(name[i:], "[")})
			}
			key := name[i+1 : i+end]
			segs = append(segs, formSeg{text: key, elem: key == ""})
			i += end + 1
			cur = i
		default:
			i++
		}
	}
	if cur < len(name) {
		segs = append(segs, formSeg{text: name[cur:]})
	}
	return segs
}

// splitReading appends the loosest reading: every '.', '[' and ']' ends a
// name, and empty names are dropped (records[0.ssn and records[]0.ssn give
// records, 0, ssn).
func splitReading(segs []formSeg, name string) []formSeg {
	for len(name) > 0 {
		i := strings.IndexAny(name, ".[]")
		if i < 0 {
			return append(segs, formSeg{text: name})
		}
		if i > 0 {
			segs = append(segs, formSeg{text: name[:i]})
		}
		name = name[i+1:]
	}
	return segs
}

// bracketReading appends the reading that cuts what follows the first '['
// at each "][" (one trailing ']' dropped) and keeps every other character,
// dots and stray brackets included, in the keys: records[]0.0][ssn gives
// records, "]0.0", ssn, which the dots-and-brackets reading (records, [],
// 0, 0, ssn) and the loosest one (records, 0, 0, ssn) do not bring to
// records[*].ssn. Hand-written readers cut names this way.
func bracketReading(segs []formSeg, name string) []formSeg {
	i := strings.IndexByte(name[min(1, len(name)):], '[')
	if i < 0 {
		return append(segs, formSeg{text: name})
	}
	i++
	segs = append(segs, formSeg{text: name[:i]})
	for _, key := range strings.Split(strings.TrimSuffix(name[i+1:], "]"), "][") {
		segs = append(segs, formSeg{text: key, elem: key == ""})
	}
	return segs
}

// parseFormName reads a configured form field name that is not a field
// path (user[ssn], tags[]) as one: its path reading, [] as [*].
func parseFormName(s string) (Path, error) {
	p := Path{text: s}
	if strings.TrimSpace(s) == "" {
		return p, fmt.Errorf("form field name is empty")
	}
	for _, seg := range pathReading(nil, s) {
		switch {
		case seg.elem || seg.text == "*":
			p.steps = append(p.steps, step{kind: stepAnyElem})
		default:
			if n, err := strconv.ParseUint(seg.text, 10, 32); err == nil && len(seg.text) <= 9 {
				p.steps = append(p.steps, step{kind: stepIndex, index: int(n)})
			} else {
				p.steps = append(p.steps, nameStep(seg.text))
			}
		}
	}
	if len(p.steps) == 0 || p.steps[0].kind != stepName {
		return p, fmt.Errorf("form field name %q does not start with a name", s)
	}
	return p, nil
}
