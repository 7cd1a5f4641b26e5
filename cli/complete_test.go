package cli

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/testkit"
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
	testkit.Accept(t, l, func(c net.Conn) { t.Cleanup(func() { c.Close() }) }) // accepted, never answered
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

// TestCompletionOfSourcesAndIDs: a key id starts with its source, so the
// start of a source's name completes to that source's ids (it suggested
// nothing: "az" is in no key's name); and the schedules' health rows that
// GET /v1/sources lists (schedule:NAME) are no sources to sync or filter
// by (the daemon answers: no source named "schedule:…").
func TestCompletionOfSourcesAndIDs(t *testing.T) {
	sock := startFixed(t)
	t.Setenv("KEYWARD_SOCKET", sock)
	if code, out, errs := run(t, "schedule", "add", "nightly-sync", "--kind", "sync", "--every", "daily 02:00"); code != ExitOK {
		t.Fatalf("schedule add: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := run(t, "schedule", "run", "nightly-sync", "--wait", "--timeout", "20s"); code != ExitOK {
		t.Fatalf("schedule run: exit %d\n%s%s", code, out, errs)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, out, _ := run(t, "status"); strings.Contains(out, "schedule:nightly-sync") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("keyward status does not list the schedule's health row")
		}
	}
	for _, args := range [][]string{{"sync", "--source", ""}, {"keys", "list", "--source", ""}} {
		if got, _ := complete(t, args...); !slices.Equal(got, []string{"acme-kms"}) {
			t.Errorf("complete %q: got %q, want only the source of keys", args, got)
		}
	}
	got, _ := complete(t, "keys", "show", "acme-k")
	if len(got) != 12 {
		t.Errorf("complete keys show acme-k: %d ids, want acme-kms's 12: %q", len(got), got)
	}
	for _, id := range got {
		if !strings.HasPrefix(id, "acme-kms/") {
			t.Errorf("complete keys show acme-k: %q", id)
		}
	}
}
