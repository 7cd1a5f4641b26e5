// Package keyringtest gives tests key rings without a KMS: filled here as
// the KMIP poller would fill them.
package keyringtest

import (
	"crypto/rand"
	"testing"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// OneGeneration is rings holding app's ring (pattern "<app>.key.*", 16
// generations) with one Active generation, <app>.key.1, of random 256-bit
// material. The rings are closed (their material zeroed) when the test
// ends.
func OneGeneration(tb testing.TB, app string) *keyring.Rings {
	tb.Helper()
	rings := keyring.NewRings()
	tb.Cleanup(rings.Close)
	rings.Configure(app, app+".key.*", 16)
	k := make([]byte, 32)
	rand.Read(k)
	if _, err := rings.Apply(app, []keyring.Candidate{{UID: "1", Name: app + ".key.1", State: engine.StateActive, Material: k}}); err != nil {
		tb.Fatal(err)
	}
	return rings
}
