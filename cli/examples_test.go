package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command's --help has examples, and each example that runs keyward
// names a command that exists with flags it takes.
func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRoot(&App{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	seen := map[string]bool{}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := commandPath(cmd)
		seen[path] = true
		if strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("keyward %s: --help has no examples (add them to the examples table)", path)
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			checkExample(t, path, line)
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
	for path := range examples {
		if !seen[path] {
			t.Errorf("examples names %q, which is not a command", path)
		}
	}
	if len(seen) < 40 {
		t.Fatalf("walked only %d commands", len(seen))
	}
}

// checkExample parses the keyward command of an example line (what comes
// before a pipe, a redirection or a comment) as cobra would.
func checkExample(t *testing.T, path, line string) {
	t.Helper()
	line = strings.TrimSpace(line)
	if i := strings.Index(line, "keyward "); i >= 0 && !strings.HasPrefix(line, "keyward ") {
		line = line[i:] // after "source <(" or a pipe into keyward
	}
	if !strings.HasPrefix(line, "keyward") {
		return
	}
	for _, stop := range []string{" |", " >", " <", ")", "  #"} {
		if i := strings.Index(line, stop); i >= 0 {
			line = line[:i]
		}
	}
	args := shellFields(line)[1:]
	root := NewRoot(&App{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Errorf("keyward %s: example %q: %v", path, line, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("keyward %s: example %q: %v", path, line, err)
		return
	}
	if cmd.Args != nil {
		if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
			t.Errorf("keyward %s: example %q: %v", path, line, err)
		}
	}
}

// shellFields splits a line into words, keeping what is in quotes whole.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
