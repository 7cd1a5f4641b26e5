package cli

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// keyward keys list fits the terminal as the reports do: at 60 columns no
// line is wider, the id, state and aging stay and the fingerprint goes;
// unlimited (not a terminal, no COLUMNS) every column is there.
func TestKeysListFitsTheWidth(t *testing.T) {
	sock := startFixed(t)
	t.Setenv("COLUMNS", "")
	code, wide, errs := run(t, "--socket", sock, "keys", "list")
	if code != ExitOK || !strings.Contains(wide, "FINGERPRINT") {
		t.Fatalf("unlimited: exit %d %s\n%s", code, errs, wide)
	}
	for _, src := range []struct {
		name string
		args []string
		env  string
	}{{"COLUMNS=60", nil, "60"}, {"--width 60", []string{"--width", "60"}, "200"}} {
		t.Run(src.name, func(t *testing.T) {
			t.Setenv("COLUMNS", src.env)
			code, out, errs := run(t, append([]string{"--socket", sock, "keys", "list"}, src.args...)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) != 13 {
				t.Fatalf("%d lines, want a header and 12 keys:\n%s", len(lines), out)
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > 60 {
					t.Fatalf("line wider than 60 columns (%d): %q", ansi.StringWidth(l), l)
				}
			}
			for _, h := range []string{"ID", "STATE", "AGING"} {
				if !strings.Contains(lines[0], h) {
					t.Fatalf("header lost %s: %q", h, lines[0])
				}
			}
			if strings.Contains(lines[0], "FINGERPRINT") {
				t.Fatalf("fingerprint kept at 60 columns: %q", lines[0])
			}
			if !strings.Contains(out, "acme-kms/acme.hr.key.0") {
				t.Fatalf("key id cut at 60 columns:\n%s", out)
			}
		})
	}
}
