package localapi

import (
	"os/exec"
	"strings"
	"testing"
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
	args := append([]string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		for _, d := range strings.Fields(deps) {
			if d == "github.com/keyward/keyward/daemon/api" {
				t.Errorf("%s depends on daemon/api (the wire format); give it domain types instead", pkg)
			}
		}
	}
}
