package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// TestTUIRotateFinishesAHalfDoneRotation: x, enter on a crm generation in
// the Sources pane rotates the application through a real daemon and the
// embedded KMS; the KMS made acme.crm.key.3 but lost its answer, so the
// rotation fails. The administrator's second x, enter finishes it —
// key.3 activated, no key.4 — and the flash says so. Then keyward key
// rotate-app refuses a Pre-Active key keyward would not have made.
func TestTUIRotateFinishesAHalfDoneRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(t.TempDir(), "kms"),
		Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	cfg := testConfig(t)
	cfg.KMIP = []config.KMIPSource{srv.SourceConfig("kms", time.Hour)}
	startWith(t, cfg, daemon.Options{})
	tm := tuitest.Start(t, api.NewClient(cfg.SocketPath()), tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath()}, 120, 30)
	waitFor(t, tm, "● connected")
	tm.Type("5")
	waitFor(t, tm, "acme.crm.key.2")
	tm.Type("jjjx")
	waitFor(t, tm, "Rotate application crm of kms now?")
	srv.ResetCounts()
	made := srv.LoseNextCreateAnswer()
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "acme.crm.key.3") // the failed rotation names what it was making
	<-made
	srv.RewriteAnswers(nil)
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	waitFor(t, tm, "SOURCE")
	tm.Type("x")
	waitFor(t, tm, "Rotate application crm of kms now?")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	// The message takes the help line's row when it is long: its parts.
	waitFor(t, tm, "rotated crm: acme.crm.key.3 (after acme.crm.key.2)", "finished the rotation a lost answer left", "half done")
	if n := srv.Counts()[kmip.OperationCreate]; n != 1 {
		t.Fatalf("the KMS got %d Creates for one rotation, want 1", n)
	}
	tuitest.Quit(t, tm, 10*time.Second)

	// keyward key rotate-app over a Pre-Active key keyward would not have
	// made (a lost Create's key renamed out of the scheme): exit 1, naming
	// it; nothing created or activated.
	made = srv.LoseNextCreateAnswer()
	if code, _, _ := clitest.Run(cfg.SocketPath(), "key", "rotate-app", "kms", "crm"); code == cli.ExitOK {
		t.Fatal("keyward key rotate-app whose Create answer was lost exited 0")
	}
	uid := <-made
	srv.RewriteAnswers(nil)
	if err := srv.Rename(uid, "acme.crm.key.6"); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	code, out, errs := clitest.Run(cfg.SocketPath(), "key", "rotate-app", "kms", "crm")
	if code != 1 || !strings.Contains(errs, "acme.crm.key.6") || !strings.Contains(errs, "after acme.crm.key.3 keyward makes acme.crm.key.4") {
		t.Fatalf("keyward key rotate-app over a foreign Pre-Active key: exit %d\n%s%s", code, out, errs)
	}
	if c := srv.Counts(); c[kmip.OperationCreate]+c[kmip.OperationActivate] != 0 {
		t.Fatalf("the refused rotation created or activated: %v", c)
	}
}
