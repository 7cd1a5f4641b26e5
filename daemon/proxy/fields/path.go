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
				p.steps = append(p.steps, step{kind: stepName, name: name})
			}
			rest = rest[end:]
		}
		first = false
	}
	return p, nil
}

// Rule says how one protected field is encrypted.
type Rule struct {
	Path          Path
	Deterministic bool
}

// Rules is the compiled set of JSON field rules of one application.
type Rules struct {
	rules []Rule
}

// NewRules compiles paths; deterministic paths use deterministic encryption.
// A path listed in both is deterministic.
func NewRules(random, deterministic []string) (*Rules, error) {
	r := &Rules{}
	seen := map[string]int{}
	add := func(s string, det bool) error {
		p, err := ParsePath(s)
		if err != nil {
			return err
		}
		if i, ok := seen[s]; ok {
			r.rules[i].Deterministic = r.rules[i].Deterministic || det
			return nil
		}
		seen[s] = len(r.rules)
		r.rules = append(r.rules, Rule{Path: p, Deterministic: det})
		return nil
	}
	for _, s := range random {
		if err := add(s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range deterministic {
		if err := add(s, true); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Empty reports whether there is nothing to protect.
func (r *Rules) Empty() bool { return r == nil || len(r.rules) == 0 }
