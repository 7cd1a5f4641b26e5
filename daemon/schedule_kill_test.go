package daemon_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/schedule"
)

const childEnv = "KEYWARD_SCHEDULE_CHILD_CONFIG"

// TestScheduleKillChild is the child daemon of TestKill9MidRotation: a
// real keyward daemon in its own process, killed with SIGKILL.
func TestScheduleKillChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("the child daemon of TestKill9MidRotation")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}); err != nil {
		t.Fatal(err)
	}
}

// startChild starts TestScheduleKillChild, a daemon of its own process
// with the configuration at cfgPath, logging to dir/daemon.log.
func startChild(t *testing.T, dir, cfgPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScheduleKillChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
	log, _ := os.OpenFile(filepath.Join(dir, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestKill9MidRotation: a rotation schedule runs over many keys of an
// emulated Azure vault in a real child daemon, which is killed with
// SIGKILL at a random moment of the run; a new daemon on the same data
// dir opens the database, resumes the run, and in the end every key was
// rotated exactly once — never twice, never zero times — whatever step
// the kill interrupted (before a call, after the vault answered and before
// the step was recorded, between two keys). Run it 20 times in a row with
// -count=20.
func TestKill9MidRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child daemons")
	}
	ctx := context.Background()
	const n = 40
	vs, dir, cfgPath, sock, names := vaultSetup(t, n)
	start := func() *exec.Cmd { return startChild(t, dir, cfgPath) }
	c := api.NewClient(sock)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, what, ok, func() string {
			logText, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			return "daemon log:\n" + tail(logText)
		})
	}
	rotated := func() (total int, twice []string) {
		for _, name := range names {
			v := len(vs.Versions(name)) - 1
			total += v
			if v > 1 {
				twice = append(twice, name)
			}
		}
		return
	}

	child := start()
	waitFor("the daemon and its first sync", func() bool {
		p, err := c.Keys(ctx, api.KeyQuery{Source: "vault", Limit: 100})
		return err == nil && len(p.Keys) == n+1
	})
	run, err := c.RunSchedule(ctx, "rot")
	if err != nil {
		t.Fatal(err)
	}
	k := 1 + rand.IntN(n-2)
	waitFor(fmt.Sprintf("%d rotations", k), func() bool { r, _ := rotated(); return r >= k })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killedAt, _ := rotated()
	dead, err := c.Schedule(ctx, "rot", run.ID)
	if err == nil { // the socket is gone with the daemon: expected
		t.Fatalf("the killed daemon still answers: %+v", dead.Run)
	}

	child = start()
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
	}()
	var d *api.ScheduleDetail
	waitFor("the resumed run to finish", func() bool {
		d, err = c.Schedule(ctx, "rot", run.ID)
		return err == nil && d.Run != nil && d.Run.Status != schedule.RunRunning
	})
	total, twice := rotated()
	if len(twice) > 0 || total != n {
		t.Fatalf("killed after %d rotations: %d rotations in all, rotated more than once: %v", killedAt, total, twice)
	}
	if len(vs.Versions("other-key")) != 1 {
		t.Fatal("a key outside the selection was rotated")
	}
	if d.Run.Status != schedule.RunDone || len(d.Steps) != n {
		t.Fatalf("run %+v, %d steps", d.Run, len(d.Steps))
	}
	for _, st := range d.Steps {
		if st.Status != schedule.StepDone || st.Before == "" || st.After == "" || st.Before == st.After {
			t.Fatalf("step %+v", st)
		}
	}
	t.Logf("killed after %d of %d rotations; resumed: %v", killedAt, n, d.Run.Resumed)
	if killedAt < n && !d.Run.Resumed {
		t.Fatalf("killed after %d of %d rotations, yet the run does not say it was resumed: %+v", killedAt, n, d.Run)
	}
}

// vaultSetup starts an emulated Azure vault with n keys kill-00… (and
// other-key) and writes a config of a daemon in a new data dir with a
// rotation schedule "rot" of the kill-* keys.
func vaultSetup(t *testing.T, n int) (vs *vault.Server, dir, cfgPath, sock string, names []string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	vs, err := vault.Start(ctx, vault.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vs.Close() })
	names = make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("kill-%02d", i)
		if err := vs.AddKey(vault.KeySpec{Name: names[i], Type: "EC"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := vs.AddKey(vault.KeySpec{Name: "other-key"}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vault"), 0o700); err != nil {
		t.Fatal(err)
	}
	caFile, tokenFile, err := vs.WriteFiles(filepath.Join(dir, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(dir, "keyward.sock")
	cfgPath = filepath.Join(dir, "keyward.toml")
	toml := fmt.Sprintf(`data_dir = %q
socket = %q
[[azure]]
name = "vault"
vault_url = %q
credential = "emulator"
ca_file = %q
token_file = %q
sync_interval = "1h"

[[schedule]]
name = "rot"
kind = "rotate"
every = "monthly 1 03:00"
pattern = "kill-*"
`, filepath.Join(dir, "data"), sock, vs.URL, caFile, tokenFile)
	if err := os.WriteFile(cfgPath, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return vs, dir, cfgPath, sock, names
}

// A schedule whose run fails (the vault refuses the rotations) is a
// degraded item beside the sources, with the reason, and an outage event;
// the next good run brings it back, with a recovery event.
func TestFailingScheduleIsDegraded(t *testing.T) {
	ctx := context.Background()
	vs, _, cfgPath, _, names := vaultSetup(t, 2)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(daemontest.Start(t, cfg, daemon.Options{}))
	wait := func(what string, ok func() bool) {
		t.Helper()
		testkit.Eventually(t, 30*time.Second, what, ok, nil)
	}
	wait("the first sync", func() bool {
		p, err := c.Keys(ctx, api.KeyQuery{Source: "vault", Limit: 100})
		return err == nil && len(p.Keys) == 3
	})
	health := func() (string, string) {
		srcs, _ := c.Sources(ctx)
		for _, s := range srcs {
			if s.Name == "schedule:rot" {
				return string(s.Health), s.Reason
			}
		}
		return "", ""
	}
	runOnce := func() *api.ScheduleDetail { return daemontest.RunSchedule(t, c, "rot") }
	vs.SetFault(vault.Fault{Kind: vault.FaultForbidden})
	d := runOnce()
	if d.Run.Status != schedule.RunFailed || len(d.Steps) != 2 || d.Steps[0].Status != schedule.StepFailed || !strings.Contains(d.Steps[0].Reason, "access") {
		t.Fatalf("run against a refusing vault: %+v %+v", d.Run, d.Steps)
	}
	h, reason := health()
	if h != "degraded" || !strings.Contains(reason, "last run failed") || !strings.Contains(reason, "key:vault/kill-00") {
		t.Fatalf("schedule health %q %q", h, reason)
	}
	if in, _ := c.Schedules(ctx); len(in) != 1 || in[0].Health != "degraded" {
		t.Fatalf("schedules %+v", in)
	}
	vs.ClearFault()
	if d = runOnce(); d.Run.Status != schedule.RunDone {
		t.Fatalf("run after the vault recovered: %+v %+v", d.Run, d.Steps)
	}
	if h, _ = health(); h != "ok" {
		t.Fatalf("health after a good run %q", h)
	}
	ev, err := c.ActivityReport(ctx, api.ReportQuery{Source: "schedule:rot"})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range ev.Events {
		ops = append(ops, e.Operation)
	}
	if got := strings.Join(ops, " "); got != "source-recovered source-outage" {
		t.Fatalf("schedule health events %q, want the outage then the recovery", got)
	}
	for _, name := range names {
		if v := len(vs.Versions(name)); v != 2 {
			t.Fatalf("%s has %d versions after one good run", name, v)
		}
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
