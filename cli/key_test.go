package cli

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/cloud/azure"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/kek"
)

// startCloudDaemon runs a real daemon on a real socket with one [[azure]]
// source pointing at an emulated vault, and the cloud routes mounted as the
// daemon wires them. Backups go to a second SQLite file (the daemon's own
// store is opened inside daemon.Run).
func startCloudDaemon(t *testing.T) (string, *vault.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	srv, err := vault.Start(ctx, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedDemo(time.Now()); err != nil {
		t.Fatal(err)
	}
	caFile, tokenFile, err := srv.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemontest.NewConfig(dir)
	az := azure.Settings{Name: "vault", VaultURL: srv.URL, Credential: azure.CredEmulator, TokenFile: tokenFile, CAFile: caFile}
	cfg.AddSource("azure", &az)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// The daemon builds the source, the life-cycle manager and its routes
	// from the config, as in production.
	cfg.Keys.KEKFile = filepath.Join(dir, "kek")
	if err := kek.Generate(cfg.Keys.KEKFile); err != nil {
		t.Fatal(err)
	}
	return runDaemon(t, cfg, daemon.Options{}), srv
}

// The key commands drive the whole life cycle against a real daemon and
// the emulated vault; the keys pane's data (keys list) follows.
func TestKeyCommandsAgainstRealDaemon(t *testing.T) {
	sock, srv := startCloudDaemon(t)
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := run(t, append([]string{"--socket", sock}, args...)...)
		if code != ExitOK {
			t.Fatalf("keyward %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	if out := cli("sync", "--source", "vault"); !strings.Contains(out, "synced vault") {
		t.Fatalf("sync: %q", out)
	}
	var list KeysListJSON
	if err := json.Unmarshal([]byte(cli("keys", "list", "--source", "vault", "--json")), &list); err != nil || list.Total < 15 {
		t.Fatalf("vault keys after sync: %d, %v", list.Total, err)
	}

	out := cli("key", "create", "vault", "acme-cli-kek", "--type", "RSA", "--size", "2048", "--expires", "365d", "--tag", "owner=ops")
	if !strings.Contains(out, "created RSA 2048") || !strings.Contains(out, "VERSION") {
		t.Errorf("create output:\n%s", out)
	}
	out = cli("key", "rotate", "vault/acme-cli-kek")
	if strings.Count(out, "active") != 2 {
		t.Errorf("rotate should list two active versions:\n%s", out)
	}
	cli("key", "update", "vault", "acme-cli-kek", "--disable")
	cli("key", "policy", "vault", "acme-cli-kek", "--rotate-after", "90d", "--notify-before", "30d")
	if out := cli("key", "policy", "vault", "acme-cli-kek"); !strings.Contains(out, "rotate after 90d") || !strings.Contains(out, "notify before 30d") {
		t.Errorf("policy: %q", out)
	}
	out = cli("key", "backup", "vault", "acme-cli-kek")
	id := strings.TrimPrefix(strings.Fields(out)[1], "")
	id = strings.TrimSuffix(id, ":")
	if out := cli("key", "backups"); !strings.Contains(out, id) {
		t.Errorf("backups list lacks %s:\n%s", id, out)
	}

	// Delete asks for the name again: a wrong answer does nothing.
	var errb strings.Builder
	code := Execute(context.Background(), []string{"--socket", sock, "key", "delete", "vault", "acme-cli-kek"},
		&App{Out: io.Discard, Err: &errb, In: strings.NewReader("acme-cli\n")})
	if code != ExitUsage || !strings.Contains(errb.String(), "nothing was done") {
		t.Errorf("delete with a wrong name: exit %d %q", code, errb.String())
	}
	if len(srv.Versions("acme-cli-kek")) != 2 {
		t.Fatal("the key was deleted although the name typed was wrong")
	}
	code = Execute(context.Background(), []string{"--socket", sock, "key", "delete", "vault", "acme-cli-kek"},
		&App{Out: io.Discard, Err: io.Discard, In: strings.NewReader("acme-cli-kek\n")})
	if code != ExitOK {
		t.Fatalf("delete with the name typed: exit %d", code)
	}
	cli("key", "purge", "vault", "acme-cli-kek", "--confirm", "acme-cli-kek")
	out = cli("key", "restore", id)
	if !strings.Contains(out, "restored from backup") || strings.Count(out, "\n") < 3 {
		t.Errorf("restore:\n%s", out)
	}
	if len(srv.Versions("acme-cli-kek")) != 2 {
		t.Errorf("restored key has versions %v, want 2", srv.Versions("acme-cli-kek"))
	}

	// Deleting a stored backup asks for the key's name too.
	errb.Reset()
	code = Execute(context.Background(), []string{"--socket", sock, "key", "delete-backup", id},
		&App{Out: io.Discard, Err: &errb, In: strings.NewReader("acme\n")})
	if code != ExitUsage || !strings.Contains(errb.String(), "nothing was done") || !strings.Contains(cli("key", "backups"), id) {
		t.Errorf("delete-backup with a wrong name: exit %d %q", code, errb.String())
	}
	if out := cli("key", "delete-backup", id, "--confirm", "acme-cli-kek"); !strings.Contains(out, "deleted backup "+id+" of vault/acme-cli-kek") {
		t.Errorf("delete-backup: %q", out)
	}
	if out := cli("key", "backups"); strings.Contains(out, id) {
		t.Errorf("the backup is still listed after delete-backup:\n%s", out)
	}
	if code, _, errs := run(t, "--socket", sock, "key", "delete-backup", id, "--confirm", "acme-cli-kek"); code != ExitError || !strings.Contains(errs, "no stored backup with id") {
		t.Errorf("delete-backup of a deleted backup: exit %d %q", code, errs)
	}

	// Usage mistakes are exit code 2 with a precise message.
	for _, args := range [][]string{
		{"key", "create", "vault", "x", "--type", "DSA"},
		{"key", "update", "vault", "x"},
		{"key", "rotate", "just-one-arg"},
		{"key", "create", "vault", "x", "--expires", "someday"},
	} {
		if code, _, errs := run(t, append([]string{"--socket", sock}, args...)...); code != ExitUsage || errs == "" {
			t.Errorf("keyward %s: exit %d %q, want usage error", strings.Join(args, " "), code, errs)
		}
	}
	// The vault's refusal comes back as an error naming the cause.
	if code, _, errs := run(t, "--socket", sock, "key", "recover", "vault", "acme-cli-kek"); code != ExitError || !strings.Contains(errs, "not found") {
		t.Errorf("recover of a live key: exit %d %q", code, errs)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"2027-01-31":           time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		"2027-01-31T12:30:00Z": time.Date(2027, 1, 31, 12, 30, 0, 0, time.UTC),
		"90d":                  now.Add(90 * 24 * time.Hour),
		"36h":                  now.Add(36 * time.Hour),
	}
	for in, want := range cases {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "tomorrow", "-5d", "0", "2027-13-01"} {
		if _, err := parseWhen(in, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", in)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2027-01-31", "2027-01-31T12:30:00Z", "90d", "1y", "36h", "", "x", "-1d", "99999999999d"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen(s, now)
		if err == nil && got.IsZero() {
			t.Fatalf("parseWhen(%q) gave the zero time", s)
		}
	})
}

func FuzzKeyArgs(f *testing.F) {
	for _, s := range []string{"vault/acme", "vault", "/acme", "vault/", "a/b/c", ""} {
		f.Add(s, "")
		f.Add(s, "acme")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		args := []string{a}
		if b != "" {
			args = append(args, b)
		}
		src, name, err := keyArgs(args)
		if err == nil && (src == "" || name == "") {
			t.Fatalf("keyArgs(%q) = %q, %q", args, src, name)
		}
	})
}
