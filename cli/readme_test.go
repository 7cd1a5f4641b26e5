package cli

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/testkit"
)

// TestREADMECommandsMatchCobra keeps the README's CLI table honest against
// the command tree: every command keyward has (hidden ones aside) has a row,
// every command a row names exists, and every flag a row names is a flag of
// one of the commands in that row.
func TestREADMECommandsMatchCobra(t *testing.T) {
	section := testkit.READMESection(t, "## CLI")
	root := NewRoot(&App{Out: os.Stdout, Err: os.Stderr, In: strings.NewReader("")})
	root.InitDefaultCompletionCmd()

	documented := map[string]bool{}
	span := regexp.MustCompile("`(keyward(?: [^`]*)?)`")
	flag := regexp.MustCompile(`--[a-z][a-z0-9-]*`)
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `keyward") {
			continue
		}
		rows++
		cell := strings.SplitN(strings.ReplaceAll(line, `\|`, "\x00"), "|", 3)[1]
		var cmds []*cobra.Command
		for _, m := range span.FindAllStringSubmatch(cell, -1) {
			for _, c := range readmeCommands(t, root, strings.Fields(m[1])[1:]) {
				documented[c.CommandPath()] = true
				cmds = append(cmds, c)
			}
		}
		if len(cmds) == 0 {
			t.Errorf("README CLI row names no command keyward has: %s", cell)
			continue
		}
		for _, f := range flag.FindAllString(cell, -1) {
			name := strings.TrimPrefix(f, "--")
			found := false
			for _, c := range cmds {
				if c.Flags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil {
					found = true
				}
			}
			if !found {
				t.Errorf("README CLI row %q names %s, a flag none of its commands has", strings.TrimSpace(strings.ReplaceAll(cell, "\x00", `\|`)), f)
			}
		}
	}
	if rows < 10 {
		t.Fatalf("found only %d command rows in the README's CLI table", rows)
	}

	var missing []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			// a group (keyward key, keyward schedule) is documented by its commands
			if !documented[sub.CommandPath()] && !(sub.HasSubCommands() && !sub.Runnable()) {
				missing = append(missing, sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%q is not in the README's CLI table", m)
	}
}

// readmeCommands resolves the words after "keyward" in one code span of the
// table (alternatives joined by an escaped |, NUL here) to the commands they
// name: "key create|rotate …" is key create and key rotate.
func readmeCommands(t *testing.T, root *cobra.Command, words []string) []*cobra.Command {
	t.Helper()
	cur := []*cobra.Command{root}
	for _, w := range words {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[") {
			break
		}
		if !cur[0].HasSubCommands() {
			break
		}
		var next []*cobra.Command
		for _, alt := range strings.Split(w, "\x00") {
			c := findSub(cur[0], alt)
			if c == nil {
				t.Errorf("README names %q, which %q does not have", cur[0].CommandPath()+" "+alt, cur[0].CommandPath())
				continue
			}
			next = append(next, c)
		}
		if len(next) == 0 {
			return cur
		}
		cur = next
		if len(cur) > 1 {
			break
		}
	}
	return cur
}

func findSub(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}
