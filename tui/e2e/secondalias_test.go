package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// TestSecondAliasAgainstAWS: an AWS key on local-kms given a second alias
// (keyward key update … --tag aws:aliases=…: CreateAlias on the KMS) is
// found by that alias, in any case, on the socket (q=), with keyward keys
// list --filter, whose table shows "ledger-batch +1", and in the TUI (/),
// and ":key" opens it by it — it was found by its first alias only.
func TestSecondAliasAgainstAWS(t *testing.T) {
	c, socket := startAWS(t)
	kw := clitest.Runner(t, socket)
	kw("key", "create", "aws-prod", "ledger-batch", "--type", "oct")
	ledger := awsKeyShownAs(t, c, "ledger-batch")
	kw("key", "update", "aws-prod", "ledger-batch", "--tag", "aws:aliases=ledger-batch,ledger-legacy")
	var p *api.KeysPage
	testkit.Eventually(t, 30*time.Second, "the second alias in the inventory", func() bool {
		var err error
		p, err = c.Keys(context.Background(), api.KeyQuery{Text: "Ledger-Legacy", Limit: 100})
		return err == nil && len(p.Keys) == 1 && p.Keys[0].ID == ledger.ID && p.Total == 1
	}, func() string { return "" })
	if out := kw("keys", "list", "--filter", "LEDGER-LEGACY", "--width", "80"); !strings.Contains(out, "ledger-batch +1") || strings.Count(out, "\n") != 2 {
		t.Errorf("keys list --filter LEDGER-LEGACY:\n%s", out)
	}
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: socket}, 120, 30)
	waitFor(t, tm, "● connected")
	tm.Type("/r-legacy")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "› ledger-batch", "1–1 of 1 key")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc}) // the filter
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(":")})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("key ledger-legacy")})
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, ledger.ID+"  (esc back)", "aws:aliases=ledger-batch,ledger-legacy")
	tuitest.Quit(t, tm, 10*time.Second)
}
