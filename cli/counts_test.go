package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// TestOneIsSingular: what a new administrator reads first on a daemon
// says "1 event" and "1 version", not "1 events" (keyward status on a new
// data dir) or "(1 versions, taken …)" (the activity log's record of a
// one-version key's deleted backup).
func TestOneIsSingular(t *testing.T) {
	sock, _ := startCloudDaemon(t)
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := run(t, append([]string{"--socket", sock}, args...)...)
		if code != ExitOK {
			t.Fatalf("keyward %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	cli("key", "create", "vault", "acme-one", "--type", "EC")
	out := cli("key", "backup", "vault", "acme-one")
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	cli("key", "delete-backup", id, "--confirm", "acme-one")
	var act api.ActivityReport
	if err := json.Unmarshal([]byte(cli("report", "activity", "--operation", "backup-deleted", "--from", "-1d", "--format", "json")), &act); err != nil || len(act.Events) != 1 {
		t.Fatalf("backup-deleted events: %+v %v", act, err)
	}
	if d := act.Events[0].Details; !strings.Contains(d, "of acme-one (1 version, taken ") {
		t.Errorf("the deleted backup is recorded as %q", d)
	}
}
