// Package fields finds the protected fields of request bodies and the keyward
// tokens of response bodies, and rewrites them in place: JSON documents by
// field path (records[*].ssn), form bodies by field name. It validates JSON
// strictly as it goes and never allocates a tree of the document.
package fields

import (
	"fmt"
	"strings"
)

// Path is a parsed field path: names separated by dots, "*" for any member
// of an object, "[*]" for any element of an array, "[N]" for one element.
//
//	contact.email          the email member of the top-level contact object
//	records[*].ssn         ssn in every element of the records array
//	accounts.*.iban        iban in every member of the accounts object
//	[*].card.number        number in the card of every top-level element
type Path struct {
	text  string
	steps []step
}

type stepKind uint8

const (
	stepName      stepKind = iota // object member by name
	stepAnyMember                 // "*": any member of an object, or any array element
	stepAnyElem                   // "[*]": any array element
	stepIndex                     // "[N]"
)

type step struct {
	kind  stepKind
	name  string
	fold  string // foldKey of name
	index int
}

func (p Path) String() string { return p.text }

// ParsePath parses one field path, with an error an administrator can act on.
func ParsePath(s string) (Path, error) {
	p := Path{text: s}
	if strings.TrimSpace(s) == "" {
		return p, fmt.Errorf("field path is empty")
	}
	rest := s
	first := true
	for len(rest) > 0 {
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return p, fmt.Errorf("field path %q: '[' without ']'", s)
			}
			in := rest[1:end]
			if in == "*" {
				p.steps = append(p.steps, step{kind: stepAnyElem})
			} else {
				n := 0
				if in == "" || len(in) > 9 {
					return p, fmt.Errorf("field path %q: [%s] is not [*] or an array index", s, in)
				}
				for _, c := range in {
					if c < '0' || c > '9' {
						return p, fmt.Errorf("field path %q: [%s] is not [*] or an array index", s, in)
					}
					n = n*10 + int(c-'0')
				}
				p.steps = append(p.steps, step{kind: stepIndex, index: n})
			}
			rest = rest[end+1:]
		case rest[0] == '.':
			if first {
				return p, fmt.Errorf("field path %q starts with '.'", s)
			}
			rest = rest[1:]
			if rest == "" || rest[0] == '.' || rest[0] == '[' {
				return p, fmt.Errorf("field path %q: a name must follow '.'", s)
			}
			fallthrough
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			if name == "" {
				return p, fmt.Errorf("field path %q: empty name", s)
			}
			if strings.ContainsAny(name, "]\"") {
				return p, fmt.Errorf("field path %q: unexpected character in %q", s, name)
			}
			if name == "*" {
				p.steps = append(p.steps, step{kind: stepAnyMember})
			} else {
				p.steps = append(p.steps, nameStep(name))
			}
			rest = rest[end:]
		}
		first = false
	}
	return p, nil
}

func nameStep(name string) step {
	return step{kind: stepName, name: name, fold: string(foldKey(nil, []byte(name)))}
}

// Rule says how one protected field is encrypted.
type Rule struct {
	Path          Path
	Deterministic bool
}

// Rules is the compiled set of protected fields of one application, for
// JSON documents, JSON Patch documents and forms.
type Rules struct {
	rules []Rule
	m     Matching
}

// Spec lists the protected fields of one application.
type Spec struct {
	// Random and Deterministic are field paths (records[*].ssn); a path
	// listed in both is deterministic.
	Random, Deterministic []string
	// FormNames are form field names, encrypted with random nonces: a
	// field path, or a form name in bracket syntax (user[ssn], tags[]).
	FormNames []string
	// Matching says how names are compared (default Fold).
	Matching Matching
}

// Compile checks and compiles a Spec, with an error an administrator can
// act on.
func Compile(s Spec) (*Rules, error) {
	r := &Rules{m: s.Matching}
	seen := map[string]int{}
	add := func(p Path, det bool) error {
		if len(p.steps) > 255 {
			return fmt.Errorf("field path %q: more than 255 steps", p.text)
		}
		if i, ok := seen[p.text]; ok {
			r.rules[i].Deterministic = r.rules[i].Deterministic || det
			return nil
		}
		seen[p.text] = len(r.rules)
		r.rules = append(r.rules, Rule{Path: p, Deterministic: det})
		return nil
	}
	for _, list := range []struct {
		paths []string
		det   bool
	}{{s.Random, false}, {s.Deterministic, true}} {
		for _, f := range list.paths {
			p, err := ParsePath(f)
			if err != nil {
				return nil, err
			}
			if err := add(p, list.det); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range s.FormNames {
		p, err := ParsePath(f)
		if err != nil {
			if p, err = parseFormName(f); err != nil {
				return nil, err
			}
		}
		if err := add(p, false); err != nil {
			return nil, err
		}
	}
	if len(r.rules) > 1<<16 {
		return nil, fmt.Errorf("%d protected fields: at most %d", len(r.rules), 1<<16)
	}
	return r, nil
}

// NewRules compiles field paths with the default (Fold) name matching;
// deterministic paths use deterministic encryption.
func NewRules(random, deterministic []string) (*Rules, error) {
	return Compile(Spec{Random: random, Deterministic: deterministic})
}

// Empty reports whether there is nothing to protect.
func (r *Rules) Empty() bool { return r == nil || len(r.rules) == 0 }
