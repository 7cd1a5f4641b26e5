package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
)

// runDaemon runs a real daemon for the test on cfg (its logger discards
// unless opts has one), waits until its socket answers, stops it at the
// end of the test, and returns the socket.
func runDaemon(t *testing.T, cfg *config.Config, opts daemon.Options) string {
	t.Helper()
	return daemontest.Start(t, cfg, opts)
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, &App{Out: &out, Err: &errb, In: strings.NewReader("")})
	return code, out.String(), errb.String()
}

func TestCLIAgainstRealDaemon(t *testing.T) {
	sock := startFixed(t)

	code, out, errs := run(t, "--socket", sock, "keys", "list", "--json")
	if code != ExitOK {
		t.Fatalf("keys list --json: exit %d: %s", code, errs)
	}
	var list KeysListJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("keys list --json is not JSON: %v\n%s", err, out)
	}
	if list.Total != 12 || len(list.Keys) != 12 {
		t.Fatalf("got %d of %d keys, want 12", len(list.Keys), list.Total)
	}
	for _, k := range list.Keys {
		if k.ID == "" || k.State == "" || k.Aging == nil {
			t.Fatalf("incomplete key in JSON: %+v", k)
		}
	}

	code, out, _ = run(t, "--socket", sock, "keys", "list", "--state", "active")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "ID ") || len(lines) != 1+7 {
		t.Fatalf("active keys table: %d lines\n%s", len(lines), out)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, " active ") {
			t.Fatalf("non-active row: %q", l)
		}
	}
	// Columns are aligned: every row has STATE where the header has it
	// (counted in characters: a dash is one, of three bytes).
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if r := []rune(l); len(r) < col+6 || string(r[col:col+6]) != "active" {
			t.Fatalf("misaligned row %q", l)
		}
	}

	code, out, _ = run(t, "--socket", sock, "keys", "show", "acme-kms/acme.hr.key.0")
	if code != ExitOK || !strings.Contains(out, "expiring-7d") || !strings.Contains(out, "discovered") {
		t.Fatalf("keys show: %d\n%s", code, out)
	}
	code, _, errs = run(t, "--socket", sock, "keys", "show", "acme-kms/nope")
	if code != ExitError || !strings.Contains(errs, "no key with id") {
		t.Fatalf("missing key: %d %s", code, errs)
	}
	code, out, _ = run(t, "--socket", sock, "status")
	if code != ExitOK || !strings.Contains(out, "acme-kms") || !strings.Contains(out, " ok ") {
		t.Fatalf("status: %d\n%s", code, out)
	}
	code, out, _ = run(t, "--socket", sock, "keys", "list", "--filter", "hr.key")
	if code != ExitOK || strings.Count(out, "acme.hr.key.") != 3 {
		t.Fatalf("--filter hr.key: %d\n%s", code, out)
	}
	code, _, errs = run(t, "--socket", sock, "keys", "list", "--state", "shiny")
	if code != ExitUsage || !strings.Contains(errs, "unknown key state") {
		t.Fatalf("bad state: %d %s", code, errs)
	}
	code, _, errs = run(t, "--socket", sock, "keys", "list", "--aging", "mouldy")
	if code != ExitUsage || !strings.Contains(errs, "unknown aging bucket") {
		t.Fatalf("bad aging bucket: %d %s", code, errs)
	}
	t.Setenv("KEYWARD_SOCKET", sock)
	code, out, _ = run(t, "keys", "list", "--source", "acme-kms", "--limit", "3")
	if code != ExitOK || strings.Count(strings.TrimSpace(out), "\n") != 3 {
		t.Fatalf("KEYWARD_SOCKET + --limit 3: %d\n%s", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.sock")
	code, _, errs := run(t, "--socket", missing, "keys", "list")
	if code != ExitUnreachable || !strings.Contains(errs, "keyward daemon") || !strings.Contains(errs, "keyward demo") {
		t.Fatalf("no daemon: exit %d: %s", code, errs)
	}
	code, _, _ = run(t, "keys", "list", "--bogus")
	if code != ExitUsage {
		t.Fatalf("unknown flag: exit %d", code)
	}
	code, _, _ = run(t, "frobnicate")
	if code != ExitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
	code, _, _ = run(t, "keys", "show")
	if code != ExitUsage {
		t.Fatalf("missing argument: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "keyward.toml")
	os.WriteFile(bad, []byte("data_dir = \"/tmp/x\"\nlog_levle = \"debug\"\n"), 0o600)
	code, _, errs = run(t, "--config", bad, "daemon")
	if code != ExitError || !strings.Contains(errs, "line 2") || !strings.Contains(errs, "log_levle") {
		t.Fatalf("bad config: exit %d: %s", code, errs)
	}
}
