package common

import (
	"testing"

	"github.com/keyward/keyward/engine"
)

func srcs(names ...string) []engine.Source {
	out := make([]engine.Source, len(names))
	for i, n := range names {
		out[i] = engine.Source{Name: n}
	}
	return out
}

// TestSourceFilter: o cycles every source, then each, then every source
// again; the chosen source survives a new list and is dropped when gone.
func TestSourceFilter(t *testing.T) {
	var f SourceFilter
	f.Set(srcs("kms-prod", "vault"))
	var seen []string
	for range 3 {
		seen = append(seen, f.Current())
		f.Next()
	}
	if want := []string{"", "kms-prod", "vault"}; seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] || f.Current() != "" {
		t.Fatalf("cycle: %q then %q, want %q then every source", seen, f.Current(), want)
	}
	f.Next()
	f.Next() // vault
	f.Set(srcs("azure-eu", "kms-prod", "vault"))
	if f.Current() != "vault" {
		t.Errorf("after a new list the filter is %q, want vault", f.Current())
	}
	f.Set(srcs("kms-prod"))
	if f.Current() != "" {
		t.Errorf("with vault gone the filter is %q, want every source", f.Current())
	}
	if n := f.Names(); len(n) != 1 || n[0] != "kms-prod" {
		t.Errorf("names %q", n)
	}
}
