package localapi

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/testkit"
)

// TestREADMEQueryParameters keeps the README's Socket API table true to the
// route table: where a row names a route with its query parameters
// (`GET /v1/keys?source&state…`, `POST /v1/sync[?source=S]`), they are
// exactly the parameters the route declares (and so the only ones its one
// query check lets through), and a route that takes parameters is not shown
// without them.
func TestREADMEQueryParameters(t *testing.T) {
	sec := testkit.READMESection(t, "## Socket API")

	routes := map[string][]string{}
	for _, rt := range New(Services{}).Routes() {
		var names []string
		for _, p := range rt.Params {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		routes[rt.Method+" "+strings.ReplaceAll(rt.Pattern, "...}", "}")] = names
	}

	span := regexp.MustCompile("`(GET|POST|PUT|DELETE) (/v1/[^`?\\[ ]*)(\\[?\\?[^`]*)?`")
	checked := 0
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line, " | ", 2)[0]
		for _, m := range span.FindAllStringSubmatch(cell, -1) {
			if strings.ContainsAny(m[2], `\…`) {
				continue // several routes in one span
			}
			key := m[1] + " " + m[2]
			declared, ok := routes[key]
			if !ok {
				declared, ok = matchRoute(routes, m[1], m[2])
			}
			if !ok {
				t.Errorf("the README's Socket API names %s, which is no route", key)
				continue
			}
			var shown []string
			for _, p := range strings.FieldsFunc(m[3], func(r rune) bool { return strings.ContainsRune("[]?&", r) }) {
				name, _, _ := strings.Cut(p, "=")
				shown = append(shown, name)
			}
			slices.Sort(shown)
			if !slices.Equal(shown, declared) {
				t.Errorf("the README shows %s with parameters %v; the route takes %v", key, shown, declared)
			}
			checked++
		}
	}
	if checked < 15 {
		t.Fatalf("checked only %d routes of the README's Socket API table", checked)
	}
}

// matchRoute finds the route that serves method and path, where a {wildcard}
// segment of a pattern matches any one segment (POST /v1/schedules/{name}/run
// is served by /v1/schedules/{name}/{op}).
func matchRoute(routes map[string][]string, method, path string) ([]string, bool) {
	want := strings.Split(path, "/")
	for key, params := range routes {
		m, pattern, _ := strings.Cut(key, " ")
		got := strings.Split(pattern, "/")
		if m != method || len(got) != len(want) {
			continue
		}
		match := true
		for i := range got {
			if got[i] != want[i] && !strings.HasPrefix(got[i], "{") {
				match = false
			}
		}
		if match {
			return params, true
		}
	}
	return nil, false
}
