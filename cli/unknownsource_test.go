package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestKeysListNamesAnUnknownSource: keys list --source with a name the
// daemon has never heard of (a typo) printed an empty list and nothing
// else, like a source with no keys; it still prints the daemon's answer
// and exits 0 (scripts keep their contract), and says on stderr that no
// such source exists, naming those that do. A known source says nothing.
func TestKeysListNamesAnUnknownSource(t *testing.T) {
	sock := startFixed(t)
	code, out, errs := run(t, "--socket", sock, "keys", "list", "--json", "--source", "acme-km")
	var list KeysListJSON
	if code != ExitOK || json.Unmarshal([]byte(out), &list) != nil || len(list.Keys) != 0 || list.Total != 0 {
		t.Fatalf("unknown source: exit %d, stdout %q", code, out)
	}
	if want := `keyward: the daemon has no source "acme-km" (its sources: acme-kms)`; strings.TrimSpace(errs) != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	code, out, errs = run(t, "--socket", sock, "keys", "list", "--source", "acme-kms")
	if code != ExitOK || errs != "" || strings.Count(out, "\n") < 12 {
		t.Errorf("known source: exit %d, stderr %q\n%s", code, errs, out)
	}
}
