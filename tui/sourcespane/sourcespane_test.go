package sourcespane

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/styles"
)

func drawSource(t *testing.T, s api.SourceInfo, width int) []string {
	t.Helper()
	lipgloss.SetColorProfile(termenv.Ascii)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	lines := strings.Split(Render([]api.SourceInfo{s}, true, nil, width, now, styles.Default()), "\n")
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("line %d cells wide (> %d): %q", w, width, l)
		}
	}
	return lines
}

func has(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimRight(l, " ") == want {
			return true
		}
	}
	return false
}

// A poll that failed says why once: not again when the health reason
// above says the same; on its own line when the reason is another.
func TestPollLinesFailed(t *testing.T) {
	p := &api.KMIPPoll{Duration: 30 * time.Second, Wildcards: "probing", Err: "dial tcp 10.0.0.5:5696: i/o timeout"}
	s := api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip", Health: engine.HealthDegraded, Reason: p.Err}, Poll: p}
	lines := drawSource(t, s, 80)
	if !has(lines, "    not connected · last poll 30s: 0 requests, 0 Gets") || !has(lines, "    0 keys matched, 0 new, 0 dropped") ||
		!has(lines, "    learning whether the KMS expands wildcards") {
		t.Errorf("poll lines:\n%s", strings.Join(lines, "\n"))
	}
	if n := strings.Count(strings.Join(lines, "\n"), "i/o timeout"); n != 1 {
		t.Errorf("the failure is shown %d times, want once (in the health reason):\n%s", n, strings.Join(lines, "\n"))
	}
	s.Reason = "the rings lack 1 generation the KMS holds"
	if lines := drawSource(t, s, 80); !has(lines, "    last poll failed: dial tcp 10.0.0.5:5696: i/o timeout") {
		t.Errorf("a failure the reason does not name is not shown:\n%s", strings.Join(lines, "\n"))
	}
}

// Many left-out generations: the first few are listed, the rest counted.
func TestPollLinesLeftOutCapped(t *testing.T) {
	p := &api.KMIPPoll{Protocol: "1.2", Address: "kms:5696", Wildcards: "client"}
	for i := range 8 {
		p.LeftOut = append(p.LeftOut, fmt.Sprintf("acme.crm.key.%d: the KMS refused the Get", i))
	}
	lines := drawSource(t, api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip", Health: engine.HealthDegraded}, Poll: p}, 80)
	all := strings.Join(lines, "\n")
	if !has(lines, "    8 generations a ring could not take:") || !has(lines, "      · acme.crm.key.4: the KMS refused the Get") ||
		strings.Contains(all, "acme.crm.key.5") || !has(lines, "      … and 3 more") {
		t.Errorf("left out:\n%s", all)
	}
	if !has(lines, "    names matched here (the KMS does not expand wildcards)") {
		t.Errorf("wildcards:\n%s", all)
	}
	// Narrow: every part still whole words, within the width.
	drawSource(t, api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip"}, Poll: p}, 40)
}

// A failover is shown: which address failed first and why.
func TestPollLinesFailover(t *testing.T) {
	p := &api.KMIPPoll{Protocol: "1.4", Address: "kms2:5696", Wildcards: "server",
		FailedAddresses: []string{"kms1:5696: connection refused"}}
	lines := drawSource(t, api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip", Health: engine.HealthDegraded}, Poll: p}, 80)
	if !has(lines, "    failed first: kms1:5696: connection refused") {
		t.Errorf("failover not shown:\n%s", strings.Join(lines, "\n"))
	}
}

// A poll that located again (the KMS changed during it) says so; one that
// did not shows nothing more.
func TestPollLinesRelocates(t *testing.T) {
	p := &api.KMIPPoll{Protocol: "1.4", Address: "kms:5696", Wildcards: "server", Relocates: 1}
	lines := drawSource(t, api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip", Health: engine.HealthOK}, Poll: p}, 80)
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "located again 1 time (an encrypting generation left during the poll)") {
		t.Errorf("relocates not shown:\n%s", all)
	}
	p.Relocates = 0
	if all := strings.Join(drawSource(t, api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip"}, Poll: p}, 80), "\n"); strings.Contains(all, "located again") {
		t.Errorf("a poll without relocates:\n%s", all)
	}
}

// A full ring marks the generation the next rotation pushes out and says
// whether tokens still need it, at 80 columns and wide.
func TestRingShowsWhatLeavesNext(t *testing.T) {
	last := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ring := api.RingInfo{Application: "crm", Capacity: 2, Generations: []api.GenerationInfo{
		{Name: "acme.crm.key.2", KeyID: "BBBBBBBB", State: engine.StateActive, Encrypts: true},
		{Name: "acme.crm.key.1", KeyID: "AAAAAAAA", State: engine.StateDeactivated},
	}, NextOut: &api.NextOut{Name: "acme.crm.key.1", KeyID: "AAAAAAAA", Window: "7d", Decrypts: 42, LastDecrypt: &last}}
	s := api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip", Health: engine.HealthOK}, Rings: []api.RingInfo{ring}}
	for _, width := range []int{80, 160} {
		lines := drawSource(t, s, width)
		all := strings.Join(lines, "\n")
		var row string
		for _, l := range lines {
			if strings.Contains(l, "acme.crm.key.1") && strings.Contains(l, "AAAAAAAA") && !strings.Contains(l, "next rotation") {
				row = l
			}
		}
		if !strings.Contains(row, "◀ out next") {
			t.Errorf("width %d: the leaving generation is not marked:\n%s", width, all)
		}
		flat := strings.Join(strings.Fields(all), " ")
		if !strings.Contains(flat, "next rotation pushes acme.crm.key.1 (key id AAAAAAAA) out of the crm ring: it still decrypted 42 token(s) in the last 7d, latest in the hour from 2026-11-23 09:00 UTC; rewrap stored data first (keyward rewrap --app crm)") {
			t.Errorf("width %d: no next-out line:\n%s", width, all)
		}
	}
	ring.NextOut = nil
	s.Rings = []api.RingInfo{ring}
	if all := strings.Join(drawSource(t, s, 80), "\n"); strings.Contains(all, "out next") || strings.Contains(all, "next rotation") {
		t.Errorf("a ring with room marks a generation as leaving:\n%s", all)
	}
}

// The Sources pane says which client identity a KMIP source presents, that
// a new key waits for its certificate (the live one still in use), and that
// configured cipher suites are weaker; at 80 columns nothing is cut.
func TestClientIdentityLines(t *testing.T) {
	na := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	s := api.SourceInfo{Source: engine.Source{Name: "kms", Kind: "kmip", Health: engine.HealthOK}, Client: &api.KMIPClient{
		Identity: &api.ClientIdentity{Origin: "installed", From: "installed by keyward cert in /var/lib/keyward/kmip/kms", Subject: "CN=keyward",
			Issuer: "CN=Acme Root", Serial: "0A:1B", KeyType: "ECDSA P-256", NotAfter: na},
		Pending: &api.PendingKey{Subject: "CN=keyward-2027", KeyType: "ECDSA P-256", Created: na.AddDate(0, -1, 0)},
		Warning: "cipher_suites offers TLS_RSA_WITH_AES_128_CBC_SHA256, weaker than the default"}}
	all := strings.Join(drawSource(t, s, 80), "\n")
	for _, w := range []string{"client certificate CN=keyward (serial 0A:1B, issuer CN=Acme Root", "a new ECDSA P-256 key for CN=keyward-2027",
		"the certificate above stays in use", "warning: cipher_suites offers TLS_RSA_WITH_AES_128_CBC_SHA256"} {
		if !strings.Contains(strings.Join(strings.Fields(all), " "), w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
}
