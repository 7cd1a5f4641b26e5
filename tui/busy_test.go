package tui_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/tuitest"
)

// While a sync runs, the status line shows a turning spinner, what runs
// and for how long — never a tick; then the outcome, in words.
func TestSyncSpinnerThenOutcome(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse *api.Error
		want   string
	}{
		{"ok", nil, "✔ synced kms-prod, vault-emu"},
		{"refused", &api.Error{Status: 502, Code: "upstream", Message: "vault-emu: the vault answered 403 Forbidden: the identity lacks the keys/list permission"},
			"✖ sync of every source refused: vault-emu: the vault answered 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			f.cloud.syncHold = make(chan struct{})
			f.cloud.refuse = tc.refuse
			tm := startLoaded(t, f, 80, 24)
			press(tm, "Y")
			var seen []byte
			tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return "two frames of the spinner" }, func(b []byte) bool {
				seen = b
				return bytes.Contains(seen, []byte("⠋ syncing every source… 0s")) && bytes.Contains(seen, []byte("⠙ syncing every source… 0s"))
			})
			if bytes.Contains(seen, []byte("✔")) || bytes.Contains(seen, []byte("✖")) {
				t.Fatalf("an outcome was shown while the sync ran:\n%s", seen)
			}
			close(f.cloud.syncHold)
			waitFor(t, tm, tc.want[:len("✖ sync of")])
			view := golden(t, tm, 80, 24)
			if !strings.Contains(strings.Join(strings.Fields(view), " "), tc.want) || strings.Contains(view, "syncing") {
				t.Errorf("the outcome is not %q:\n%s", tc.want, view)
			}
		})
	}
}
