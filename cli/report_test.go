package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// startFixed runs a real daemon whose clock is pinned, with the seed
// inventory dated from the same instant, so report output is reproducible.
func startFixed(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := daemontest.NewConfig(dir)
	return runAcme(t, cfg, daemon.Options{Now: func() time.Time { return fixedNow }}, fixedNow)
}

// runAcme runs a daemon on cfg serving the seed inventory of acme-kms
// (its 12 keys dated from now) and waits until the keys are in and the
// source's first sync is recorded (the inventory is applied before the
// sync's health, so "keys": 12 alone can be seen with health "unknown").
func runAcme(t *testing.T, cfg *config.Config, opts daemon.Options, now time.Time) string {
	t.Helper()
	opts.Sources = []sources.Source{seed.New("acme-kms", seed.AcmeKeys("acme-kms", now))}
	sock := runDaemon(t, cfg, opts)
	for range 200 {
		if code, out, _ := run(t, "--socket", sock, "status", "--json"); code == 0 && strings.Contains(out, `"keys": 12`) && strings.Contains(out, `"health": "ok"`) {
			return sock
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the daemon did not hold the 12 seed keys with its source healthy after 4 s")
	return ""
}

func runAt(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, &App{Out: &out, Err: &errb, Now: func() time.Time { return fixedNow }})
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(p, []byte(got), 0o644)
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestReportGoldens(t *testing.T) {
	sock := startFixed(t)
	cases := []struct {
		file string
		args []string
	}{
		{"aging.table.80.golden", []string{"report", "aging", "--width", "80"}},
		{"aging.table.160.golden", []string{"report", "aging", "--width", "160"}},
		{"aging.csv.golden", []string{"report", "aging", "--format", "csv"}},
		{"aging.json.golden", []string{"report", "aging", "--format", "json"}},
		{"aging.source.from.golden", []string{"report", "aging", "--from", "-30d", "--to", "+30d", "--width", "100"}},
		{"activity.table.80.golden", []string{"report", "activity", "--origin", "source", "--from", "-5y", "--to", "now", "--width", "80"}},
		{"activity.csv.golden", []string{"report", "activity", "--comparison", "--from", "2020-01-01", "--format", "csv"}},
		{"activity.json.golden", []string{"report", "activity", "--origin", "source", "--from", "-400d", "--format", "json", "--limit", "3"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			code, out, errs := runAt(t, append([]string{"--socket", sock}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			golden(t, c.file, out)
		})
	}
	code, _, errs := runAt(t, "--socket", sock, "report", "aging", "--from", "+10d", "--to", "-10d")
	if code != ExitUsage || !strings.Contains(errs, "is empty") {
		t.Fatalf("reversed range: %d %s", code, errs)
	}
	code, _, errs = runAt(t, "--socket", sock, "report", "aging", "--from", "last tuesday")
	if code != ExitUsage || !strings.Contains(errs, "is not a time") {
		t.Fatalf("bad date: %d %s", code, errs)
	}
	code, _, errs = runAt(t, "--socket", sock, "report", "aging", "--format", "xml")
	if code != ExitUsage {
		t.Fatalf("bad format: %d %s", code, errs)
	}
}
