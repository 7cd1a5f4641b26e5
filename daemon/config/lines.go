package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Problems are the values Validate refuses, each "key: what is wrong", the
// key written as in the file with array tables indexed: kmip[0].addresses.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "; ") }

// keyLines maps every key and table of a TOML document to the line it is
// on, naming the elements of arrays of tables by index as Validate does
// (kmip[0], kmip[0].application[1]).
func keyLines(b []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(b)
	counts := map[string]int{} // array-table path → elements seen
	prefix := ""
	line := func(n *unstable.Node) int {
		for it := n.Key(); it.Next(); {
			return p.Shape(p.Range(it.Node().Data)).Start.Line
		}
		return 0
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var parts []string
			for it := e.Key(); it.Next(); {
				parts = append(parts, string(it.Node().Data))
			}
			// Resolve each parent that is an array table to its current element.
			path := ""
			for i, part := range parts {
				if path != "" {
					path += "."
				}
				path += part
				if n, ok := counts[path]; ok && (i < len(parts)-1 || e.Kind == unstable.Table) {
					path = fmt.Sprintf("%s[%d]", path, n-1)
				}
			}
			if e.Kind == unstable.ArrayTable {
				n := counts[path]
				counts[path] = n + 1
				path = fmt.Sprintf("%s[%d]", path, n)
			}
			prefix = path
			lines[prefix] = line(e)
		case unstable.KeyValue:
			var parts []string
			for it := e.Key(); it.Next(); {
				parts = append(parts, string(it.Node().Data))
			}
			k := strings.Join(parts, ".")
			if prefix != "" {
				k = prefix + "." + k
			}
			lines[k] = line(e)
		}
	}
	return lines
}

// withLines prefixes each problem with the line of its key (or of the
// nearest enclosing table) in the file b.
func withLines(err error, b []byte) error {
	var probs Problems
	if !errors.As(err, &probs) {
		return err
	}
	lines := keyLines(b)
	out := make(Problems, len(probs))
	for i, pr := range probs {
		key, _, _ := strings.Cut(pr, ": ")
		for k := key; k != ""; {
			if n, ok := lines[k]; ok && n > 0 {
				pr = fmt.Sprintf("line %d: %s", n, pr)
				break
			}
			j := strings.LastIndexAny(k, ".[")
			if j < 0 {
				break
			}
			k = k[:j]
		}
		out[i] = pr
	}
	return out
}
