package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONErrorsAreTextOnStderr holds the README's promise to scripts:
// with --json an error is still one text message on stderr naming what
// failed (for a daemon that is not running, its socket), stdout stays
// empty — so `keyward keys list --json | jq` reads no document, and the
// exit code (3 unreachable, 2 usage) is what tells the failure.
func TestJSONErrorsAreTextOnStderr(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "keyward.sock")
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"keys", "list", "--json"}, ExitUnreachable, "keyward daemon not reachable at " + missing},
		{[]string{"status", "--json"}, ExitUnreachable, "keyward daemon not reachable at " + missing},
		{[]string{"schedule", "list", "--json"}, ExitUnreachable, "keyward daemon not reachable at " + missing},
		{[]string{"keys", "list", "--json", "--state", "bogus"}, ExitUsage, `unknown key state "bogus"`},
	} {
		code, out, errs := run(t, append([]string{"--socket", missing}, c.args...)...)
		if code != c.code || out != "" || !strings.HasPrefix(errs, "keyward: ") || !strings.Contains(errs, c.says) || strings.HasPrefix(strings.TrimSpace(errs), "{") {
			t.Errorf("keyward %s: exit %d (want %d), stdout %q, stderr %q (want text saying %q)", strings.Join(c.args, " "), code, c.code, out, errs, c.says)
		}
	}
}
