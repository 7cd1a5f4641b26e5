package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// A flag value the daemon would refuse is a usage mistake (exit 2) whether
// or not a daemon answers: the CLI checks it before asking, with the same
// parser the daemon uses.
func TestBadFlagValueIsUsageWithAndWithoutDaemon(t *testing.T) {
	live := startFixed(t)
	missing := filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "aging", "--from", "yesterday"}, `"yesterday" is not a time`},
		{[]string{"report", "activity", "--to", "banana"}, `"banana" is not a time`},
		{[]string{"report", "usage", "--from", "soon"}, `"soon" is not a time`},
		{[]string{"report", "aging", "--from", "2026-12-01", "--to", "2026-11-01"}, "is empty"},
		{[]string{"report", "activity", "--from", "1990-01-01", "--to", "2026-01-01"}, "longer than the maximum"},
		{[]string{"keys", "list", "--sort", "colour"}, `cannot sort by "colour"`},
		{[]string{"keys", "list", "--sort", "-colour"}, `cannot sort by "-colour"`},
		{[]string{"keys", "list", "--state", "shiny"}, "unknown key state"},
		{[]string{"keys", "list", "--aging", "mouldy"}, `unknown aging bucket "mouldy"`},
		{[]string{"keys", "list", "--aging", "expiring-0d"}, `unknown aging bucket "expiring-0d"`},
		{[]string{"keys", "list", "--aging", "expiring-030d"}, `unknown aging bucket "expiring-030d"`},
	} {
		for _, sock := range []string{live, missing} {
			t.Setenv("KEYWARD_SOCKET", sock)
			code, _, errs := run(t, tc.args...)
			if code != ExitUsage || !strings.Contains(errs, tc.want) {
				t.Errorf("%s (socket %s): exit %d, want %d with %q: %s", strings.Join(tc.args, " "), filepath.Base(sock), code, ExitUsage, tc.want, errs)
			}
		}
	}
	// The same values pass the check: a good value reaches the daemon.
	t.Setenv("KEYWARD_SOCKET", missing)
	for _, args := range [][]string{
		{"report", "aging", "--from", "-30d", "--to", "+30d"},
		{"report", "activity", "--from", "2026-11-01"},
		{"keys", "list", "--sort", "-expires"},
		{"keys", "list", "--aging", "expiring-30d"},
	} {
		if code, _, errs := run(t, args...); code != ExitUnreachable {
			t.Errorf("%s without a daemon: exit %d, want %d: %s", strings.Join(args, " "), code, ExitUnreachable, errs)
		}
	}
}
