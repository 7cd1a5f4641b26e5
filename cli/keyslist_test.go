package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// keyward keys list fits the terminal as the reports do: at 60 columns no
// line is wider, the id, state and aging stay and the fingerprint goes;
// unlimited (not a terminal, no COLUMNS) every column is there.
func TestKeysListFitsTheWidth(t *testing.T) {
	sock := startFixed(t)
	t.Setenv("COLUMNS", "")
	code, wide, errs := run(t, "--socket", sock, "keys", "list")
	if code != ExitOK || !strings.Contains(wide, "FINGERPRINT") {
		t.Fatalf("unlimited: exit %d %s\n%s", code, errs, wide)
	}
	for _, src := range []struct {
		name string
		args []string
		env  string
	}{{"COLUMNS=60", nil, "60"}, {"--width 60", []string{"--width", "60"}, "200"}} {
		t.Run(src.name, func(t *testing.T) {
			t.Setenv("COLUMNS", src.env)
			code, out, errs := run(t, append([]string{"--socket", sock, "keys", "list"}, src.args...)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) != 13 {
				t.Fatalf("%d lines, want a header and 12 keys:\n%s", len(lines), out)
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > 60 {
					t.Fatalf("line wider than 60 columns (%d): %q", ansi.StringWidth(l), l)
				}
			}
			for _, h := range []string{"ID", "STATE", "AGING"} {
				if !strings.Contains(lines[0], h) {
					t.Fatalf("header lost %s: %q", h, lines[0])
				}
			}
			if strings.Contains(lines[0], "FINGERPRINT") {
				t.Fatalf("fingerprint kept at 60 columns: %q", lines[0])
			}
			if !strings.Contains(out, "acme-kms/acme.hr.key.0") {
				t.Fatalf("key id cut at 60 columns:\n%s", out)
			}
		})
	}
}

// awsKeys are AWS keys as the connector writes them: named by their key
// ID, known by their aliases (aws:aliases, the first shown).
func awsKeys(source string, now time.Time) []engine.Key {
	at := func(days int) *time.Time { t := now.AddDate(0, 0, days); return &t }
	key := func(id, aliases string, state engine.State, created, expires *time.Time) engine.Key {
		return engine.Key{ID: engine.KeyID(source, id, "current"), Source: source, Name: id, Version: "current",
			Algorithm: "AES", Length: 256, State: state, Created: created, Expires: expires, Fingerprint: "sha256:" + id[:12],
			Tags: map[string]string{engine.TagAliases: aliases}}
	}
	return []engine.Key{
		key("0f1e2d3c-4b5a-4697-8877-66554433aa01", "payments-card-data,payments-legacy,pci-2019", engine.StateActive, at(-500), nil),
		key("1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c02", "ledger", engine.StateActive, at(-20), at(5)),
		key("2b3c4d5e-6f70-4b1c-8d2e-3f4a5b6c7d03", "", engine.StateDisabled, at(-90), nil),
		key("3c4d5e6f-7081-4c2d-9e3f-4a5b6c7d8e04", "hr-archive-2021-onboarding-documents", engine.StateDeactivated, at(-1200), nil),
	}
}

// keyward keys list shows the name an administrator knows an AWS key by —
// its alias, and how many more it has — beside the id that holds only its
// key ID, within 80 columns (the id and an alias too long for the rest cut
// alike, with "…", the state and aging whole);
// --json is the wire's keys as before, named by their key IDs with their
// aliases in their tags.
func TestKeysListShowsTheAlias(t *testing.T) {
	cfg := daemontest.NewConfig(t.TempDir())
	sock := runDaemon(t, cfg, daemon.Options{Now: func() time.Time { return fixedNow },
		Sources: []sources.Source{seed.New("aws-prod", awsKeys("aws-prod", fixedNow))}})
	var out, errs string
	var code int
	testkit.Eventually(t, 10*time.Second, "the four AWS keys", func() bool {
		code, out, errs = run(t, "--socket", sock, "keys", "list", "--source", "aws-prod", "--width", "80")
		return code == ExitOK && strings.Count(out, "\n") == 5
	}, func() string { return out + errs })
	golden(t, "keys.aws.table.80.golden", out)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if w := ansi.StringWidth(l); w > 80 {
			t.Fatalf("line of %d columns: %q", w, l)
		}
	}
	for _, want := range []string{"payments-card-data +2", "ledger", "hr-archive-2021-onboardi…", "ALIAS", "rotation-overdue", "deactivated"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the table at 80 columns lost %q:\n%s", want, out)
		}
	}
	code, out, errs = run(t, "--socket", sock, "keys", "list", "--source", "aws-prod", "--json")
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Keys) != 4 {
		t.Fatalf("--json: exit %d %s\n%s", code, errs, out)
	}
	for _, k := range doc.Keys {
		id, _ := k["id"].(string)
		name, _ := k["name"].(string)
		if !strings.HasPrefix(id, "aws-prod/"+name+"/") || k["tags"] == nil {
			t.Fatalf("--json key %v: want it named by its key ID, aliases in its tags", k)
		}
	}
}
