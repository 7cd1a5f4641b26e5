package e2e

import (
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

// TestCommandLineKeyAgainstDaemon: ":key ID" opens a KMIP key by its id
// (one slash: source/name) and ":key NAME" a cloud key whose name holds
// slashes (Google's location/ring/key) — the first used to be searched as
// a name and answered "no key named acme-kms/acme.crm.key.2", the second
// taken for an id and opened as an empty key of dashes, "not_found" below.
func TestCommandLineKeyAgainstDaemon(t *testing.T) {
	cfg := testConfig(t)
	keys := seed.AcmeKeys("acme-kms", now)
	created := now.Add(-30 * 24 * time.Hour)
	gcp := engine.Key{ID: engine.KeyID("gcp-like", "us/acme-signing/sso-decrypt", "1"), Source: "gcp-like",
		Name: "us/acme-signing/sso-decrypt", Version: "1", Algorithm: "RSA", Length: 3072, State: engine.StateActive,
		Created: &created, Activated: &created}
	signer := gcp
	signer.ID, signer.Name, signer.Version, signer.Algorithm, signer.Length = engine.KeyID("gcp-like", "us/acme-signing/release-signer", "2"),
		"us/acme-signing/release-signer", "2", "EC P-256", 256
	startWith(t, cfg, daemon.Options{
		Sources: []sources.Source{seed.New("acme-kms", keys), seed.New("gcp-like", []engine.Key{gcp, signer})},
		Now:     func() time.Time { return now },
	})
	c := api.NewClient(cfg.SocketPath())
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath(), Now: func() time.Time { return now }}, 80, 24)
	typed := func(s string) { tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}) }
	command := func(s string) {
		typed(":")
		typed(s)
		tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	}
	waitFor(t, tm, "● connected", "of 14 keys")

	command("key acme-kms/acme.crm.key.2")
	waitFor(t, tm, "acme-kms/acme.crm.key.2  (esc back)", "deactivated")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})

	command("key us/acme-signing/sso-decrypt")
	waitFor(t, tm, "gcp-like/us/acme-signing/sso-decrypt/1", "(esc back)", "RSA")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})

	// A full id opens its key too; an id or name of no key says so, and
	// opens nothing.
	command("key gcp-like/us/acme-signing/release-signer/2")
	waitFor(t, tm, "id           gcp-like/us/acme-signing/release-signer/2", "EC P-256")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	command("key us/acme-signing/gone")
	waitFor(t, tm, "no key named us/acme-signing/gone")
	_ = tm.Quit()
}
