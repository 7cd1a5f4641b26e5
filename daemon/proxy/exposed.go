package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/keyward/keyward/engine/token"
)

// The second half of the rule: a form body or query string is checked after
// the proxy has rewritten it, the way upstreams read one, for any value of a
// protected field that is still plaintext. A name is protected when,
// read as common frameworks bind form names, it addresses a configured
// field path or form field: case and Unicode simple folding ignored,
// leading spaces stripped (PHP), and "a.b", "a[b]", "a[]", "a[0][b]" read as
// nested names (PHP, Rails, Spring). Pairs are split at '&' and at ';' (the
// separator older Python, Perl and Java servers still accept).

// namePath is a protected field's path as a form name can spell it: its
// names in order, "*" for any member, and "[]" for an array element.
type namePath []string

const anyElem = "[]"

// protectedNames are the paths of an application's protected fields.
type protectedNames []namePath

// newProtectedNames reads the configured JSON field paths and form field
// names (already validated by config) into name paths.
func newProtectedNames(lists ...[]string) protectedNames {
	var out protectedNames
	for _, l := range lists {
		for _, p := range l {
			var np namePath
			for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == '[' }) {
				if name, ok := strings.CutSuffix(part, "]"); ok {
					part = anyElem // [*] or [N]: an element
					if name != "*" && !isIndex(name) {
						part = name // a form name such as user[ssn]
					}
				}
				np = append(np, part)
			}
			if len(np) > 0 {
				out = append(out, np)
			}
		}
	}
	return out
}

func isIndex(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// formNameParts splits a decoded form name the way frameworks nest it.
func formNameParts(name string) []string {
	name = strings.TrimLeftFunc(name, unicode.IsSpace)
	return strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}

// phpNameParts reads a decoded form name as PHP does: leading spaces
// dropped, '.' and ' ' in the name before its first '[' read as '_', then
// "[k]" nesting.
func phpNameParts(name string) []string {
	name = strings.TrimLeft(name, " ")
	base, rest, nested := strings.Cut(name, "[")
	parts := []string{strings.NewReplacer(".", "_", " ", "_").Replace(base)}
	if nested {
		parts = append(parts, formNameParts(rest)...)
	}
	return parts
}

// covers returns the protected field a form name addresses (or something
// inside it), read as Go, Spring and Rails read it or as PHP does.
func (ps protectedNames) covers(name string) (namePath, bool) {
	parts, php := formNameParts(name), phpNameParts(name)
	for _, p := range ps {
		if matchParts(p, parts) || matchParts(p, php) {
			return p, true
		}
	}
	return nil, false
}

// String is the path as configured, with "[]" for any element.
func (p namePath) String() string { return strings.ReplaceAll(strings.Join(p, "."), ".[]", "[]") }

// matchParts matches a path against a name's parts: the path must be a
// prefix of the name (anything under a protected field is protected); an
// element step takes an index part when there is one ("a[]" leaves none).
func matchParts(p namePath, parts []string) bool {
	for _, step := range p {
		switch {
		case step == anyElem:
			if len(parts) > 0 && isIndex(parts[0]) {
				parts = parts[1:]
			}
		case len(parts) == 0:
			return false
		case step == "*" || strings.EqualFold(step, parts[0]):
			parts = parts[1:]
		default:
			return false
		}
	}
	return true
}

// exposed reads a form body or query string as upstreams do and returns a
// refusal when a protected field's value is not a keyward token. what names
// the part of the request ("form body", "query string"). The refusal gives
// the pair's position and the configured field, never the request's bytes.
func (ps protectedNames) exposed(form []byte, what string) *refusal {
	if len(ps) == 0 || len(form) == 0 {
		return nil
	}
	pair := 0
	for rest := form; len(rest) > 0; {
		var raw []byte
		if i := bytes.IndexAny(rest, "&;"); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		pair++
		if len(raw) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(raw, []byte("="))
		name, err := url.QueryUnescape(string(k))
		if err != nil {
			return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
				fmt.Sprintf("the %s is not a valid form: pair %d has an invalid percent-encoding in its name", what, pair)}
		}
		field, ok := ps.covers(name)
		if !ok {
			continue
		}
		val, err := url.QueryUnescape(string(v))
		if err != nil {
			return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
				fmt.Sprintf("the %s is not a valid form: pair %d has an invalid percent-encoding in its value", what, pair)}
		}
		if val != "" && token.Span([]byte(val)) != len(val) {
			return &refusal{http.StatusBadRequest, ErrKindExposed,
				fmt.Sprintf("pair %d of the %s names protected field %q as frameworks read names, and its value is not encrypted there; send the field where the rules encrypt it", pair, what, field)}
		}
	}
	return nil
}

// strictForm refuses a form body that another reader could take for
// something else: a JSON document or a pair that starts like one (an
// upstream that sniffs JSON reads it as JSON), a byte order mark or a NUL
// byte (UTF-16 text sent as a form).
func strictForm(body []byte) *refusal {
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) || bytes.HasPrefix(body, []byte("\xff\xfe")) ||
		bytes.HasPrefix(body, []byte("\xfe\xff")) || bytes.IndexByte(body, 0) >= 0 {
		return &refusal{http.StatusUnsupportedMediaType, ErrKindCharset,
			"the form body is not UTF-8 text (a byte order mark or a NUL byte); send it as UTF-8"}
	}
	pair := 0
	for rest := body; len(rest) > 0; {
		var raw []byte
		if i := bytes.IndexAny(rest, "&;"); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		pair++
		if looksJSON(raw) {
			return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
				fmt.Sprintf("the form body is not a valid form: pair %d starts like a JSON document, which some upstreams would read as JSON", pair)}
		}
		if dec, err := url.QueryUnescape(string(raw)); err == nil && looksJSON([]byte(dec)) {
			return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
				fmt.Sprintf("the form body is not a valid form: pair %d is a percent-encoded JSON document", pair)}
		}
	}
	return nil
}

// looksJSON reports whether b, after JSON whitespace, starts an object or
// an array.
func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}
