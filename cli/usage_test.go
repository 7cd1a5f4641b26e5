package cli

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
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
		// Events record "rotated": "rotate" used to match nothing and
		// exit 0 with "0 events".
		{[]string{"report", "activity", "--operation", "rotate"}, `unknown operation "rotate" (did you mean rotated?)`},
		{[]string{"report", "activity", "--operation", "purge"}, "did you mean purged?"},
		{[]string{"report", "activity", "--operation", "frobbed"}, "recorded operations: created, discovered, synced, rotated"},
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
		{"report", "activity", "--operation", "rotated"},
		{"report", "activity", "--operation", "schedule-run"},
	} {
		if code, _, errs := run(t, args...); code != ExitUnreachable {
			t.Errorf("%s without a daemon: exit %d, want %d: %s", strings.Join(args, " "), code, ExitUnreachable, errs)
		}
	}
	// The daemon refuses it too, for a client other than the CLI.
	q := url.Values{"operation": {"rotate"}}
	err := api.NewClient(live).Do(context.Background(), http.MethodGet, "/reports/activity", q, nil, new(map[string]any))
	if err == nil || !strings.Contains(err.Error(), "did you mean rotated?") {
		t.Errorf("GET /v1/reports/activity?operation=rotate: %v", err)
	}
}
