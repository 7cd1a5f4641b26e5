package e2e

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/awskms"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// waitVersion waits until version of the key id is in state.
func waitVersion(t *testing.T, c *api.Client, id, version string, state engine.State) {
	t.Helper()
	var got engine.Key
	testkit.Eventually(t, 30*time.Second, "version "+version+" of "+id+" "+string(state), func() bool {
		d, err := c.Key(context.Background(), id) // not there before the first sync
		if err != nil {
			return false
		}
		for _, v := range d.Versions {
			if v.Version == version {
				got = v
			}
		}
		return got.State == state
	}, func() string { return string(got.State) })
}

const cardKEK = "europe-west1/acme-payments/card-kek"

// TestVersionActionsAgainstGCP: against the real daemon and keyward's
// Cloud KMS fake (the demo's project, the real Cloud KMS client over
// gRPC), the versions of card-kek are listed in the TUI and acted on one
// at a time: a burst enables version 3 (once, that version), P makes it the
// primary, destroying the primary is refused by the daemon with its reason
// shown in the dialog, version 4 is scheduled for destruction (its name
// typed) and restored.
func TestVersionActionsAgainstGCP(t *testing.T) {
	fake := gcpkms.New(gcpkms.DemoProject)
	if err := fake.SeedDemo(time.Now()); err != nil {
		t.Fatal(err)
	}
	addr, stopFake, err := fake.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopFake)
	cfg := testConfig(t)
	cfg.AddSource("gcp", &gcp.Settings{Name: "gcp-prod", Project: gcpkms.DemoProject, Locations: []string{"europe-west1", "us"},
		Credential: gcp.CredNone, Endpoint: addr, SyncInterval: engine.Duration(time.Hour)})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	startWith(t, cfg, daemon.Options{})
	c := api.NewClient(cfg.SocketPath())
	id := "gcp-prod/" + cardKEK + "/1"
	waitVersion(t, c, id, "3", engine.StateDisabled)
	if v := daemontest.Versions(t, c, id); v["4"].Tags[gcp.TagPrimary] != "true" || v["4"].State != engine.StateActive {
		t.Fatalf("card-kek as seeded: %+v", v)
	}

	tm := openCardVersions(t, c, cfg.SocketPath(), id)
	// From version 1 (selected, the last row) up twice: version 3,
	// disabled. One burst, then enter twice: the second comes while the
	// request is in flight (ignored) or after it (it opens version 3's
	// details); either way one request, for version 3.
	burst(tm, "kkxe")
	tuitest.WaitText(t, tm, 15*time.Second, "Enable version 3 of", "can be used again")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "✔ enabled version 3 of "+cardKEK+" in gcp-prod")
	waitVersion(t, c, id, "3", engine.StateActive)
	enabled := 0
	for _, ev := range activity(t, c, "gcp-prod/"+cardKEK+"/3") {
		if ev.Operation == engine.OpEnabled && ev.Origin == engine.OriginKeyward {
			enabled++
		}
	}
	if enabled != 1 {
		t.Errorf("version 3 was enabled through keyward %d times, want once", enabled)
	}
	tuitest.Quit(t, tm, 10*time.Second)

	tm = openCardVersions(t, c, cfg.SocketPath(), id)
	tm.Type("kk")
	tm.Type("xP")
	tuitest.WaitText(t, tm, 15*time.Second, "Make version 3 the primary of")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "made version 3 of "+cardKEK+" the primary in gcp-prod")
	testkit.Eventually(t, 15*time.Second, "version 3 primary", func() bool {
		v := daemontest.Versions(t, c, id)
		return v["3"].Tags[gcp.TagPrimary] == "true" && v["4"].Tags[gcp.TagPrimary] == ""
	}, func() string { return "" })

	// Destroying the primary is refused by keyward, in the dialog.
	tm.Type("xd")
	tuitest.WaitText(t, tm, 15*time.Second, "Schedule the destruction of version 3")
	tm.Type(cardKEK)
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	tuitest.WaitText(t, tm, 15*time.Second, "✖", "primary")
	if v := daemontest.Versions(t, c, id)["3"]; v.State != engine.StateActive {
		t.Fatalf("the primary was scheduled for destruction: %+v", v)
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})

	// Version 4, no longer primary: scheduled, then restored.
	tm.Type("g")
	tm.Type("xd")
	tuitest.WaitText(t, tm, 15*time.Second, "Schedule the destruction of version 4")
	tm.Type(cardKEK)
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	// The list, fetched again on the daemon's notification, shows it
	// scheduled (deleted), still selected.
	tuitest.WaitLine(t, tm, 15*time.Second, "version 4 selected and deleted", func(l string) bool {
		return strings.HasPrefix(l, "› 4 ") && strings.Contains(l, "deleted")
	})
	waitVersion(t, c, id, "4", engine.StateDeleted)
	tm.Type("x")
	tuitest.WaitText(t, tm, 15*time.Second, "[v] restore this version")
	tm.Type("v")
	tuitest.WaitText(t, tm, 15*time.Second, "Restore version 4 of")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "restored version 4 of "+cardKEK)
	waitVersion(t, c, id, "4", engine.StateActive)
	tuitest.Quit(t, tm, 10*time.Second)
}

// openCardVersions starts a TUI on the daemon, opens card-kek's version 1
// (id) and lists its versions.
func openCardVersions(t *testing.T, c *api.Client, socket, id string) *teatest.TestModel {
	t.Helper()
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: socket}, 120, 30)
	waitFor(t, tm, "● connected")
	tm.Type("/card-kek")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "1–4 of 4 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "Activity", id)
	tm.Type("V")
	waitFor(t, tm, "Versions of "+cardKEK, "4 versions")
	return tm
}

// burst sends runes in one key message, as tmux send-keys -l does.
func burst(tm *teatest.TestModel, s string) {
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)})
}

func activity(t *testing.T, c *api.Client, id string) []engine.Event {
	t.Helper()
	d, err := c.Key(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Activity
}

// TestVersionActionsAgainstVault: Azure announces enabling and disabling
// a version, nothing else; the older version of a rotated key is disabled
// from the TUI in the (emulated) vault, the newer one left enabled.
func TestVersionActionsAgainstVault(t *testing.T) {
	cfg, _ := startVaultDaemon(t)
	c := api.NewClient(cfg.SocketPath())
	ctx := context.Background()
	testkit.Eventually(t, 30*time.Second, "orders-kek synced", func() bool {
		p, err := c.Keys(ctx, api.KeyQuery{Source: "vault"})
		return err == nil && len(p.Keys) == 1
	}, func() string { return "" })
	if clouds, err := c.CloudSources(ctx); err != nil || len(clouds) != 1 || clouds[0].PrimaryTag != "" {
		t.Fatalf("an Azure vault has no primary version to announce: %+v, %v", clouds, err)
	}
	res, err := c.CloudKeyOp(ctx, "vault", "orders-kek", "rotate", "")
	if err != nil || len(res.Keys) != 2 {
		t.Fatalf("rotate: %v %+v", err, res)
	}
	older, newer := res.Keys[0], res.Keys[1]
	if newer.Created.Before(*older.Created) || (newer.Created.Equal(*older.Created) && newer.ID < older.ID) {
		older, newer = newer, older
	}
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath()}, 120, 30)
	waitFor(t, tm, "● connected", "1–2 of 2 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "Activity")
	tm.Type("V")
	waitFor(t, tm, "Versions of orders-kek", "2 versions")
	tm.Type("G") // the older version, last of newest-first
	tm.Type("x")
	tuitest.WaitText(t, tm, 15*time.Second, "Actions — version "+older.Version[:12], "[e] disable this version")
	tm.Type("e")
	tuitest.WaitText(t, tm, 15*time.Second, "Disable version", "until it is enabled again")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "disabled version "+older.Version+" of orders-kek in vault")
	v := daemontest.Versions(t, c, older.ID)
	if v[older.Version].State != engine.StateDisabled || v[newer.Version].State != engine.StateActive {
		t.Errorf("after disabling %s: older %s, newer %s", older.Version, v[older.Version].State, v[newer.Version].State)
	}
	tuitest.Quit(t, tm, 10*time.Second)
}

// TestVersionsOfAWSAndKMIPKeys: an AWS key (local-kms, the real
// aws-sdk-go-v2 client) lists its one version, whose menu says AWS
// announces no action on single versions; a KMIP key has no versions to
// list.
func TestVersionsOfAWSAndKMIPKeys(t *testing.T) {
	c, socket := startAWS(t)
	invoice := awsKeyShownAs(t, c, "invoice-signing")
	// Filtered on the key's ID (its name): the "/" filter finds an AWS
	// key by its ID as by its alias (TestFilterByAliasAgainstAWS).
	tm := tuitest.Start(t, c, tui.Options{Title: "keyward e2e", Socket: socket}, 120, 30)
	waitFor(t, tm, "● connected")
	openOnly(t, tm, invoice.Name, "invoice-signing", invoice.ID)
	tm.Type("V")
	waitFor(t, tm, "1 version")
	tm.Type("x")
	tuitest.WaitText(t, tm, 15*time.Second, "announces no action on single versions")
	for range 4 { // the menu, the versions, the details, the filter
		tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	}
	openOnly(t, tm, "acme.backup.kek", "acme.backup.kek", "acme-kms/acme.backup.kek")
	tm.Type("V")
	tuitest.WaitText(t, tm, 15*time.Second, "has no versions")
	tuitest.Quit(t, tm, 10*time.Second)
}

// openOnly filters the Keys pane on text, which only the key id (shown
// as shown) matches, and opens it.
func openOnly(t *testing.T, tm *teatest.TestModel, text, shown, id string) {
	t.Helper()
	tm.Type("/" + text)
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "› "+shown)
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor(t, tm, "Activity", id)
}

// startAWS runs local-kms seeded with the demo's AWS account (keys shown
// by their aliases: awskms.Seeded) and a daemon with it as aws-prod beside
// the seeded KMIP source acme-kms, until the test ends: a client and the
// daemon's socket.
func startAWS(t *testing.T) (*api.Client, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	srv, err := awskms.Start(filepath.Join(dir, "aws"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("local-kms: %v", err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := awskms.WriteKeys(filepath.Join(dir, "aws"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.AddSource("aws", &aws.Settings{Name: "aws-prod", Region: awskms.Region, StaticKeysFile: keys, Endpoint: srv.URL,
		DeletionWindowDays: 7, SyncInterval: engine.Duration(time.Hour)})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	startWith(t, cfg, daemon.Options{Sources: []sources.Source{seed.New("acme-kms", seed.AcmeKeys("acme-kms", time.Now()))}})
	return api.NewClient(cfg.SocketPath()), cfg.SocketPath()
}

// awsKeyShownAs waits for aws-prod's key shown as alias (its display
// name) to be in the inventory, and returns it.
func awsKeyShownAs(t *testing.T, c *api.Client, alias string) engine.Key {
	t.Helper()
	var found engine.Key
	testkit.Eventually(t, 30*time.Second, "aws-prod's "+alias+" in the inventory", func() bool {
		p, err := c.Keys(context.Background(), api.KeyQuery{Source: "aws-prod", Limit: 1000})
		if err != nil {
			return false
		}
		for _, k := range p.Keys {
			if k.DisplayName() == alias {
				found = k
			}
		}
		return found.Name != ""
	}, func() string { return "" })
	return found
}
