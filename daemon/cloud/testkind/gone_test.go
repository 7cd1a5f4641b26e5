package testkind_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// TestOperationOutlivesItsCaller: an administrator who gives up on a slow
// rotation (ctrl-C, the CLI's 30 s, a TUI quit) does not stop the daemon
// half-way: the cloud made the version, and keyward records it as that
// administrator's rotation once the cloud answers. The daemon ran the
// operation on the request's context, so the caller's going away failed
// its record: the rotation was in the cloud, keyward's log had no word of
// it, and the next sync took it for a change made outside keyward.
func TestOperationOutlivesItsCaller(t *testing.T) {
	sock, v, _ := startDaemon(t)
	kw := clitest.Runner(t, sock)
	kw("sync", "--source", "moon")
	kw("key", "create", "moon", "slow-kek", "--type", "EC")
	v.mu.Lock()
	v.answered = make(chan struct{})
	v.mu.Unlock()

	impatient := api.NewClient(sock).WithTimeout(300 * time.Millisecond)
	if _, err := impatient.CloudKeyOp(context.Background(), "moon", "slow-kek", "rotate", ""); err == nil {
		t.Fatal("the rotation answered before the cloud did")
	}
	close(v.answered)

	c := api.NewClient(sock)
	var rotated []engine.Event
	testkit.Eventually(t, 10*time.Second, "the rotation recorded as the caller's", func() bool {
		rep, err := c.ActivityReport(context.Background(), api.ReportQuery{Source: "moon", Operation: engine.OpRotated})
		rotated = nil
		if err == nil {
			rotated = rep.Events
		}
		return len(rotated) == 1
	}, func() string { return describe(rotated) })
	if ev := rotated[0]; ev.Origin != engine.OriginKeyward || !strings.HasPrefix(ev.KeyID, "moon/slow-kek/2") {
		t.Errorf("the rotation is recorded as %+v", ev)
	}
	if v.versions("slow-kek") != 2 {
		t.Errorf("the vault holds %d versions, want 2", v.versions("slow-kek"))
	}
}

func describe(evs []engine.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Operation + " " + e.KeyID + " by " + e.Actor + " (" + string(e.Origin) + "); ")
	}
	if b.Len() == 0 {
		return "no rotated event"
	}
	return b.String()
}
