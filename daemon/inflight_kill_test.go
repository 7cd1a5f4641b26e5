package daemon_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/storetest"
)

// TestKill9InsideRequest: a real child daemon is killed with SIGKILL
// while an operator's rotation waits inside the Azure call (the vault
// holds it, then does it once the daemon is gone). The next start records
// exactly one "request-unanswered" event naming the caller and the
// request, keyward audit verify passes, and a further restart adds
// nothing; no request is left noted in flight.
func TestKill9InsideRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child daemons")
	}
	ctx := context.Background()
	vs, dir, cfgPath, sock, names := vaultSetup(t, 1)
	name := names[0]
	logPath := filepath.Join(dir, "daemon.log")
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestScheduleKillChild$")
		cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
		log, _ := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	c := api.NewClient(sock)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, what, ok, func() string {
			logText, _ := os.ReadFile(logPath)
			return "daemon log:\n" + tail(logText)
		})
	}
	unanswered := func() []engine.Event {
		t.Helper()
		var p api.EventsPage
		if err := c.Do(ctx, http.MethodGet, "/activity", url.Values{"operation": {engine.OpUnanswered}}, nil, &p); err != nil {
			t.Fatal(err)
		}
		return p.Events
	}
	// synced: the daemon answers and has synced n keys (a version each).
	synced := func(n int) func() bool {
		return func() bool {
			p, err := c.Keys(ctx, api.KeyQuery{Source: "vault", Limit: 100})
			return err == nil && len(p.Keys) == n
		}
	}

	child := start()
	waitFor("the daemon and its first sync", synced(2))
	// A normal request before: it is answered, and leaves no note.
	if _, err := c.Sync(ctx, "vault"); err != nil {
		t.Fatal(err)
	}

	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	// The vault makes the rotation, then holds the answer until the
	// daemon that asked is dead.
	vs.BeforeRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/keys/"+name+"/rotate") {
			return false
		}
		once.Do(func() {
			if _, err := vs.RotateKey(name); err != nil {
				t.Error(err)
			}
			close(arrived)
		})
		<-release
		http.Error(w, "the client is gone", http.StatusServiceUnavailable)
		return true
	})
	asked := make(chan error, 1)
	go func() {
		_, err := c.CloudKeyOp(ctx, "vault", name, "rotate", "")
		asked <- err
	}()
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("the rotation never reached the vault")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if err := <-asked; err == nil {
		t.Fatal("the rotation was answered although the daemon was killed inside it")
	}
	close(release)
	vs.BeforeRequest(nil)
	if v := vs.Versions(name); len(v) != 2 {
		t.Fatalf("the vault holds %d versions of %s, want 2 (rotated once)", len(v), name)
	}

	child = start()
	// The restart's sync finds the version the vault made and records it
	// as rotated outside keyward: the pair the README tells how to read.
	waitFor("the restarted daemon to sync the new version", synced(3))
	var rot api.EventsPage
	if err := c.Do(ctx, http.MethodGet, "/activity", url.Values{"operation": {engine.OpRotated}}, nil, &rot); err != nil {
		t.Fatal(err)
	}
	if len(rot.Events) != 1 || rot.Events[0].Origin == engine.OriginKeyward {
		t.Fatalf("rotated events after the restart's sync: %+v, want one the sync saw in the vault", rot.Events)
	}
	got := unanswered()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d request-unanswered events after the restart, want 1: %+v", len(got), got)
	}
	ev := got[0]
	want := "POST /v1/cloud/vault/keys/" + name + "/rotate"
	if ev.Actor != me.Username || ev.Origin != engine.OriginKeyward || !strings.Contains(ev.Details, "asked by "+me.Username) ||
		!strings.Contains(ev.Details, want) || !strings.Contains(ev.Details, "outcome unknown") {
		t.Fatalf("the unanswered event %+v does not name the caller %s and %s, outcome unknown", ev, me.Username, want)
	}
	t.Logf("recorded: %s", ev.Details)
	stop(child)

	// A second restart records nothing more.
	child = start()
	waitFor("the daemon started again", synced(3))
	if got := unanswered(); len(got) != 1 {
		t.Fatalf("%d request-unanswered events after a second restart, want still 1: %+v", len(got), got)
	}
	stop(child)

	var out, errs bytes.Buffer
	if code := cli.Execute(ctx, []string{"--config", cfgPath, "audit", "verify"}, &cli.App{Out: &out, Err: &errs, In: strings.NewReader("")}); code != cli.ExitOK {
		t.Fatalf("keyward audit verify: exit %d\n%s%s", code, out.String(), errs.String())
	}
	st := storetest.Open(t, filepath.Join(dir, "data", "keyward.db"))
	defer st.Close()
	if n, err := st.InFlightCount(ctx); err != nil || n != 0 {
		t.Fatalf("%d requests still noted in flight (err %v), want none", n, err)
	}
}
