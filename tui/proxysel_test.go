package tui_test

import (
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// The Proxy pane keeps the selected ring generation when a rotation puts a
// new one above it: enter opens the key the cursor was on. It used to stay
// on the row number and open the generation that slid under the cursor.
func TestProxySelectionFollowsItsGeneration(t *testing.T) {
	f := newFixture()
	g := func(name, id, fp string, enc bool) api.GenerationInfo {
		return api.GenerationInfo{Name: name, KeyID: id, Fingerprint: "sha256:" + fp, Encrypts: enc}
	}
	g3 := g("acme.crm.key.3", "3d4e5f60", "3d4e5f60718293a4b5c6d7e8", false)
	g4 := g("acme.crm.key.4", "4e5f6071", "4e5f60718293a4b5c6d7e8f9", true)
	f.proxy = []api.ProxyStatus{{App: "crm", Listen: "127.0.0.1:8443", Upstream: "http://127.0.0.1:9000", Time: fixedNow,
		Health: api.UpstreamHealth{OK: true}, Ring: api.ProxyRing{KeyID: g4.KeyID, Size: 2, Capacity: 16, Generations: []api.GenerationInfo{g4, g3}}}}
	tm := start(t, f, 100, 40)
	openPane(t, tm, "4", "acme.crm.key.3")
	press(tm, "G")
	f.mu.Lock()
	g4.Encrypts = false
	f.proxy[0].Ring = api.ProxyRing{KeyID: "5f607182", Size: 3, Capacity: 16, Generations: []api.GenerationInfo{
		g("acme.crm.key.5", "5f607182", "5f60718293a4b5c6d7e8f90a", true), g4, g3}}
	f.mu.Unlock()
	f.notes <- notification(api.NoteRing, "crm")
	waitFor(t, tm, "acme.crm.key.5")
	press(tm, "enter")
	waitFor(t, tm, "kms-prod/acme.crm.key.3/1", "(esc back)")
}
