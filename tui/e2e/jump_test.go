package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// flaky is a source that reports an outage, a recovery and a second outage
// through the daemon's sink, as a KMS that comes and goes does.
type flaky struct{}

func (flaky) Name() string    { return "edge-kms" }
func (flaky) Kind() string    { return "kmip" }
func (flaky) Address() string { return "10.0.0.7:5696" }
func (flaky) Run(ctx context.Context, sink sources.Sink) error {
	for _, h := range []struct {
		health engine.Health
		reason string
	}{
		{engine.HealthDegraded, "dial tcp 10.0.0.7:5696: i/o timeout"},
		{engine.HealthOK, ""},
		{engine.HealthDegraded, "tls: the KMS's certificate has expired"},
	} {
		if err := sink.SetHealth(ctx, "edge-kms", h.health, h.reason); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// TestSourceViewAgainstDaemon: enter on a source shows its health history
// from the daemon's activity log (GET /v1/reports/activity by source and
// operation), and K its keys from GET /v1/keys?source=; esc comes back.
func TestSourceViewAgainstDaemon(t *testing.T) {
	cfg := testConfig(t)
	keys := seed.AcmeKeys("acme-kms", now)
	startWith(t, cfg, daemon.Options{
		Sources: []sources.Source{seed.New("acme-kms", keys), flaky{}},
		Now:     func() time.Time { return now },
	})
	c := api.NewClient(cfg.SocketPath())
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath(), Now: func() time.Time { return now }}, 100, 30)
	key := func(s string) { tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}) }
	waitFor(t, tm, "● connected", fmt.Sprintf("of %d keys", len(keys)))
	key("5")
	waitFor(t, tm, "edge-kms", "acme-kms", "certificate has")
	key("j")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "source edge-kms", "Health history", "dial tcp 10.0.0.7:5696: i/o timeout", "recovered")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	key("k")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "source acme-kms", "no outage recorded")
	key("K")
	waitFor(t, tm, "source acme-kms", fmt.Sprintf("of %d keys", len(keys)))
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	waitFor(t, tm, "Health history")
	_ = tm.Quit()
}
