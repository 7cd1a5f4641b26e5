package localapi

import (
	"slices"
	"testing"

	"github.com/keyward/keyward/daemon/testkit"
)

// TestDomainDoesNotImportTheWire: no source, service, engine or store
// package depends on daemon/api, the wire format: data flows sources →
// engine → store → API, and only the API (this package) and its clients
// speak the wire.
func TestDomainDoesNotImportTheWire(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	patterns := []string{"./daemon/cloud/...", "./daemon/proxy/...", "./daemon/pki/...", "./daemon/sources/...",
		"./daemon/scheduler/...", "./daemon/auditlog/...", "./daemon/kek/...", "./daemon/config/...", "./engine/...", "./store/..."}
	for _, p := range testkit.Packages(t, patterns...) {
		if slices.Contains(p.Deps, "github.com/keyward/keyward/daemon/api") {
			t.Errorf("%s depends on daemon/api (the wire format); give it domain types instead", p.Path)
		}
	}
}
