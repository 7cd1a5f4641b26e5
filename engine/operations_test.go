package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

// TestOperationsListsEveryOp: every Op* constant of the package is in
// Operations, once, so an operation added without it cannot be recorded
// and then refused as a filter.
func TestOperationsListsEveryOp(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "key.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if len(name.Name) < 3 || name.Name[:2] != "Op" || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				n++
				if !slices.Contains(Operations, v) {
					t.Errorf("%s (%q) is not in Operations", name.Name, v)
				}
			}
		}
	}
	if n != len(Operations) {
		t.Errorf("%d Op constants, %d in Operations (a duplicate?)", n, len(Operations))
	}
	if err := CheckOperation("rotated"); err != nil {
		t.Error(err)
	}
}
