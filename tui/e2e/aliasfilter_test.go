package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// TestFilterByAliasAgainstAWS: an AWS key created through the CLI on
// local-kms is named by its key ID and shown by its alias; the "/" filter
// finds it by part of the alias, in any case — on the socket (q=), with
// `keyward keys list --filter` and in the TUI (/ and typing) — and still
// by its key ID; the TUI's ":key NAME" opens it by its alias. A KMIP key
// is found by its name as before.
func TestFilterByAliasAgainstAWS(t *testing.T) {
	c, socket := startAWS(t)
	kw := clitest.Runner(t, socket)
	kw("key", "create", "aws-prod", "ledger-batch", "--type", "oct")
	ledger := awsKeyShownAs(t, c, "ledger-batch")
	invoice := awsKeyShownAs(t, c, "invoice-signing")
	if strings.Contains(ledger.Name, "ledger") {
		t.Fatalf("the AWS key is named %q: its name should be its key ID", ledger.Name)
	}

	for q, want := range map[string][]string{
		"ledger-ba":       {ledger.ID},
		"LEDGER-Batch":    {ledger.ID},
		"voice-sig":       {invoice.ID},
		"le":              nil, // short text scans: checked below to hold ledger-batch
		ledger.Name[:13]:  {ledger.ID},
		"acme.backup.kek": {"acme-kms/acme.backup.kek"},
	} {
		p, err := c.Keys(context.Background(), api.KeyQuery{Text: q, Limit: 1000})
		if err != nil {
			t.Fatalf("q=%s: %v", q, err)
		}
		var ids []string
		for _, k := range p.Keys {
			ids = append(ids, k.ID)
		}
		if want == nil {
			if !slices.Contains(ids, ledger.ID) || p.Total != len(ids) {
				t.Errorf("q=%s: %q (total %d), want ledger-batch among them", q, ids, p.Total)
			}
			continue
		}
		if !slices.Equal(ids, want) || p.Total != len(want) {
			t.Errorf("q=%s: %q (total %d), want %q", q, ids, p.Total, want)
		}
	}

	var l cli.KeysListJSON
	if err := json.Unmarshal([]byte(kw("keys", "list", "--filter", "Ledger-Ba", "--json")), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Keys) != 1 || l.Keys[0].ID != ledger.ID || l.Total != 1 {
		t.Errorf("keys list --filter Ledger-Ba: %+v", l)
	}
	// The table lists keys by inventory ID (which holds the key ID, not
	// the alias).
	if out := kw("keys", "list", "--filter", "ledger-ba"); !strings.Contains(out, ledger.ID) || strings.Count(out, "\n") != 2 {
		t.Errorf("keys list --filter ledger-ba:\n%s", out)
	}

	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: socket}, 120, 30)
	waitFor(t, tm, "● connected")
	tm.Type("/ledger-ba")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "› ledger-batch", "1–1 of 1 key")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc}) // the filter
	openOnly(t, tm, "VOICE-SIG", "invoice-signing", invoice.ID)
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc}) // the key
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc}) // the filter
	// ":key NAME" opens a key by the name it is shown by, its alias.
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(":")})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("key ledger-batch")})
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, ledger.ID+"  (esc back)", "aws:aliases=ledger-batch")
	tuitest.Quit(t, tm, 10*time.Second)
}
