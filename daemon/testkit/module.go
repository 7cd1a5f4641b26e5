package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ModuleRoot is the directory of the module's go.mod, found from the
// test's directory upwards.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// README is the text of the module's README.md, for the tests that keep
// it true.
func README(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(ModuleRoot(tb), "README.md"))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// READMESection is the README's section under heading ("## CLI"): its
// text up to the next heading of the same level.
func READMESection(tb testing.TB, heading string) string {
	tb.Helper()
	_, rest, ok := strings.Cut(README(tb), "\n"+heading+"\n")
	if !ok {
		tb.Fatalf("the README has no %q section", heading)
	}
	level := strings.SplitN(heading, " ", 2)[0] + " "
	if i := strings.Index(rest, "\n"+level); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// Package is a package of the module as go list gives it: its import path
// and every package it depends on, directly or not.
type Package struct {
	Path string
	Deps []string
}

// Packages runs go list over patterns ("./...", "./engine/...") from the
// module's root, for the tests that keep its layering true.
func Packages(tb testing.TB, patterns ...string) []Package {
	tb.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)...)
	cmd.Dir = ModuleRoot(tb)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("go list: %v\n%s", err, out)
	}
	var pkgs []Package
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs = append(pkgs, Package{Path: f[0], Deps: f[1:]})
	}
	return pkgs
}
