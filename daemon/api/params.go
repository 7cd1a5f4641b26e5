package api

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Param declares one query parameter a route accepts. Every route of the
// socket API declares its parameters, and CheckQuery holds every route to
// the same rules, so an unexpected parameter can never silently widen or
// change what a request does.
type Param struct {
	Name     string
	kind     paramKind
	min, max int
}

type paramKind int

const (
	paramText paramKind = iota
	paramBool
	paramInt
)

// TextParam is a parameter whose value is free text (checked by the route).
func TextParam(name string) Param { return Param{Name: name, kind: paramText} }

// BoolParam is a parameter whose value is exactly "true" or "false".
func BoolParam(name string) Param { return Param{Name: name, kind: paramBool} }

// IntParam is a parameter whose value is a whole number from min to max.
func IntParam(name string, min, max int) Param {
	return Param{Name: name, kind: paramInt, min: min, max: max}
}

// TextParams declares several text parameters.
func TextParams(names ...string) []Param {
	out := make([]Param, 0, len(names))
	for _, n := range names {
		out = append(out, TextParam(n))
	}
	return out
}

// CheckQuery checks a raw query string against the parameters a route
// declares. It refuses a query string that does not parse (bad escapes,
// semicolons), parameters the route does not declare, a parameter given
// more than once, an empty value or one holding a NUL byte (leaving a parameter out is how to ask
// for "all"; an empty value never means it), a boolean other than "true"
// or "false", and a number out of its range. The error is a 400 *Error
// whose message names the parameter and the rule.
func CheckQuery(raw string, declared []Param) *Error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return badParam("the query string is not well-formed (%v); separate parameters with & and escape values", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p, ok := findParam(declared, name)
		if !ok {
			if len(declared) == 0 {
				return badParam("unknown query parameter %q: this endpoint takes no query parameters", name)
			}
			known := make([]string, 0, len(declared))
			for _, d := range declared {
				known = append(known, d.Name)
			}
			return badParam("unknown query parameter %q (known: %s)", name, strings.Join(known, ", "))
		}
		vs := q[name]
		if len(vs) > 1 {
			return badParam("query parameter %q is given %d times; give it once", name, len(vs))
		}
		if err := p.check(vs[0]); err != nil {
			return err
		}
	}
	return nil
}

func findParam(declared []Param, name string) (Param, bool) {
	for _, p := range declared {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

func (p Param) check(v string) *Error {
	if v == "" {
		return badParam("query parameter %q is empty; leave it out instead (an empty value never means \"all\")", p.Name)
	}
	// SQLite reads a bound text only up to a NUL: "a\x00b" would filter
	// by "a" (and a lone NUL by nothing at all, matching every key).
	if strings.IndexByte(v, 0) >= 0 {
		return badParam("query parameter %q holds a NUL byte (%%00); no name, source or application contains one", p.Name)
	}
	switch p.kind {
	case paramBool:
		if v != "true" && v != "false" {
			return badParam("query parameter %q must be true or false, got %q", p.Name, v)
		}
	case paramInt:
		n, err := strconv.Atoi(v)
		if err != nil || n < p.min || n > p.max {
			return badParam("query parameter %q must be a whole number from %d to %d, got %q", p.Name, p.min, p.max, v)
		}
	}
	return nil
}

func badParam(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, a...)}
}
