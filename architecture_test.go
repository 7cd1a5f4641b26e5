package main

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/testkit"
)

// TestREADMEArchitecture keeps the README's architecture section true of
// the code: every package of the module is named there (by its path, or by
// its last two elements inside its parent's row: `sources/kmip`), and no
// engine or store package imports a terminal library. (That no domain
// package imports the wire types of daemon/api is TestDomainDoesNotImportTheWire,
// in daemon/localapi.)
func TestREADMEArchitecture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	arch := testkit.READMESection(t, "## Architecture")

	const mod = "github.com/keyward/keyward/"
	terminal := []string{"github.com/charmbracelet/", "github.com/muesli/", "github.com/spf13/cobra", "golang.org/x/term"}
	n := 0
	for _, p := range testkit.Packages(t, "./...") {
		rel, ok := strings.CutPrefix(p.Path, mod)
		if !ok {
			continue // the main package: main.go has its row
		}
		n++
		parts := strings.Split(rel, "/")
		short := rel
		if len(parts) > 2 {
			short = strings.Join(parts[len(parts)-2:], "/")
		}
		if !strings.Contains(arch, "`"+rel+"`") && !strings.Contains(arch, "`"+rel+"/`") && !strings.Contains(arch, "`"+short+"`") {
			t.Errorf("package %s is not in the README's architecture table", rel)
		}
		isEngine := rel == "engine" || rel == "store" || strings.HasPrefix(rel, "engine/") || strings.HasPrefix(rel, "store/")
		for _, dep := range p.Deps {
			for _, term := range terminal {
				if isEngine && strings.HasPrefix(dep, term) {
					t.Errorf("%s imports %s: an engine or store package must not import a terminal library", rel, dep)
				}
			}
		}
	}
	if n < 30 {
		t.Fatalf("go list found only %d packages", n)
	}
}
