package cloud

import (
	"testing"

	"github.com/keyward/keyward/engine"
)

// A per-key limit keyward derives (engine.TagUnsupported), new after an
// upgrade, is no edit made in the cloud: a sync that finds it records no
// "edited in the cloud" event for it, and names only the cloud's tags
// when they changed too.
func TestDerivedLimitsAreNoCloudEdit(t *testing.T) {
	before := engine.Key{Tags: map[string]string{"team": "payments", engine.TagUnsupported + engine.CapBackup: "not supported: no export"}}
	after := engine.Key{Tags: map[string]string{"team": "payments", engine.TagUnsupported + engine.CapBackup: "not supported: no export",
		engine.TagUnsupported + engine.CapVersionPrimary: "not supported: only ENCRYPT_DECRYPT keys have a primary version"}}
	if what := editedFields(before, after); what != "" {
		t.Errorf("a derived limit added reads as a cloud edit: %q", what)
	}
	after.Tags["team"] = "cards"
	delete(after.Tags, engine.TagUnsupported+engine.CapBackup)
	if what := editedFields(before, after); what != "tags team" {
		t.Errorf("edited fields %q, want only the cloud's tag team", what)
	}
}
