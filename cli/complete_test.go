package cli

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// complete runs cobra's hidden __complete command, as the shell scripts of
// keyward completion bash|zsh|fish do, and returns the suggestions (the
// lines before the ":directive" line) and what reached stderr.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, errs := run(t, append([]string{"__complete"}, args...)...)
	if code != ExitOK {
		t.Fatalf("__complete %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, ":") {
			if l != ":4" {
				t.Errorf("__complete %s: directive %s, want :4 (no file names)", strings.Join(args, " "), l)
			}
			break
		}
		got = append(got, l)
	}
	return got, errs
}

func TestCompletionSuggestsLiveValues(t *testing.T) {
	sock := startFixed(t)
	t.Setenv("KEYWARD_SOCKET", sock)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"keys", "show", "acme-kms/acme.hr."}, []string{"acme-kms/acme.hr.key.0", "acme-kms/acme.hr.key.1", "acme-kms/acme.hr.key.2"}},
		{[]string{"keys", "show", "acme-kms/acme.hr.key.0", ""}, nil},
		{[]string{"keys", "list", "--source", ""}, []string{"acme-kms"}},
		{[]string{"report", "aging", "--key", "acme-kms/acme.hr.key.1"}, []string{"acme-kms/acme.hr.key.1"}},
		{[]string{"keys", "list", "--aging", "exp"}, []string{"expired", "expiring-30d", "expiring-7d", "expiring-90d"}},
		{[]string{"keys", "list", "--state", "de"}, []string{"deactivated", "deleted", "destroyed"}},
		{[]string{"keys", "list", "--sort", "cr"}, []string{"created"}},
		{[]string{"keys", "list", "--format", ""}, []string{"table", "json", "ndjson", "csv"}},
		{[]string{"report", "usage", "--format", ""}, []string{"table", "json", "csv"}},
		{[]string{"report", "activity", "--origin", "s"}, []string{"source", "system"}},
		{[]string{"key", "rotate", "acme"}, []string{"acme-kms"}},
		{[]string{"key", "policy", "acme-kms", "acme.hr.key.2"}, []string{"acme.hr.key.2"}},
	} {
		got, errs := complete(t, tc.args...)
		if !slices.Equal(got, tc.want) || errs != "" && !strings.HasPrefix(errs, "Completion ended") {
			t.Errorf("complete %q: got %q, want %q; stderr %q", tc.args, got, tc.want, errs)
		}
	}
}

// No daemon, or one that does not answer: no suggestions, exit 0, nothing
// but cobra's own debug line on stderr, and at once.
func TestCompletionFailsSilently(t *testing.T) {
	dir := t.TempDir()
	hung := filepath.Join(dir, "hung.sock")
	l, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	for _, sock := range []string{filepath.Join(dir, "none.sock"), hung} {
		t.Setenv("KEYWARD_SOCKET", sock)
		for _, args := range [][]string{{"keys", "show", ""}, {"keys", "list", "--source", ""}, {"report", "usage", "--app", ""}, {"keys", "list", "--aging", ""}, {"key", "backup", ""}} {
			start := time.Now()
			got, errs := complete(t, args...)
			if len(got) != 0 || strings.Contains(errs, "keyward:") || strings.Contains(errs, "daemon") {
				t.Errorf("%s, complete %q: got %q, stderr %q; want nothing", filepath.Base(sock), args, got, errs)
			}
			// Bounded by completeTimeout (the client's own default is
			// 30 s), with room for a loaded machine.
			if d := time.Since(start); d > completeTimeout+2*time.Second {
				t.Errorf("%s, complete %q took %v", filepath.Base(sock), args, d)
			}
		}
	}
}
