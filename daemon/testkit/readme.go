package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// README is the text of the module's README.md, found from the test's
// directory upwards (beside go.mod), for the tests that keep it true.
func README(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			tb.Fatal("no go.mod above the test's directory: where is the README?")
		}
		dir = up
	}
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
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
