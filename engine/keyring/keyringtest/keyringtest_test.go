package keyringtest

import "testing"

func TestOneGeneration(t *testing.T) {
	rings := OneGeneration(t, "crm")
	r, ok := rings.Ring("crm")
	if !ok || len(r.Gens) != 1 || r.Gens[0].Name != "crm.key.1" || !r.Gens[0].Encrypts {
		t.Fatalf("ring %+v", r)
	}
}
