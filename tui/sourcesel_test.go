package tui_test

import (
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// The Sources pane keeps the selected row on the same generation when the
// sources are fetched again and a rotation (by another admin, a schedule,
// the KMS) put a new generation above it: enter then opens the key the
// cursor was on. The selection used to stay on the row number, so it moved
// to another generation under the operator's cursor.
func TestSourcesSelectionFollowsItsGeneration(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 24)
	openPane(t, tm, "5", "acme.crm.key.4")
	press(tm, "G")
	waitFor(t, tm, "› decrypts")
	f.mu.Lock()
	ring := &f.sources[0].Rings[0]
	at := fixedNow
	ring.Generations = append([]api.GenerationInfo{{Name: "acme.crm.key.5", KeyID: "5f607182", Fingerprint: "sha256:5f60718293a4b5c6d7e8f90a",
		State: engine.StateActive, Encrypts: true, Activated: &at}}, ring.Generations...)
	ring.Generations[1].Encrypts = false
	f.mu.Unlock()
	f.notes <- notification(api.NoteSources, "kms-prod")
	waitFor(t, tm, "acme.crm.key.5")
	press(tm, "enter")
	waitFor(t, tm, "kms-prod/acme.crm.key.0", "(esc back)")
}
