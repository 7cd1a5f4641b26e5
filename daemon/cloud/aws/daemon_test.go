package aws_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/engine"
)

// awsConfig writes keyward.toml in dir — a data dir, a socket, a KEK and
// one [[aws]] section "aws-prod" pointed at lk, with extra lines in the
// section — and loads it.
func awsConfig(t *testing.T, dir string, lk *aws.LocalKMS, extra string) *config.Config {
	t.Helper()
	return daemontest.Config(t, dir, fmt.Sprintf(`[[aws]]
name = "aws-prod"
region = %q
static_keys_file = %q
endpoint = %q
%s`, aws.TestRegion, aws.WriteStaticKeys(t, dir), lk.URL, extra))
}

// awsDaemon starts local-kms and a daemon over it (awsConfig with extra, in
// a directory of the test's) until the test ends: local-kms, the
// directory, the daemon's socket and a CLI runner on it.
func awsDaemon(t *testing.T, extra string) (lk *aws.LocalKMS, dir, sock string, kw func(...string) string) {
	t.Helper()
	lk = aws.StartLocalKMS(t)
	dir = t.TempDir()
	sock = daemontest.Start(t, awsConfig(t, dir, lk, extra), daemon.Options{})
	return lk, dir, sock, clitest.Runner(t, sock)
}

// TestAWSThroughDaemonAndCLI runs the real daemon with an [[aws]] section
// pointed at local-kms and drives sync and the life cycle through the
// real CLI on the real socket; changes made in "AWS" behind keyward's
// back show as source events, keyward's own changes do not come back as
// such.
func TestAWSThroughDaemonAndCLI(t *testing.T) {
	lk := aws.StartLocalKMS(t)
	ctx := context.Background()
	dir := t.TempDir()
	keysFile := aws.WriteStaticKeys(t, dir)
	// Someone else's key, made before keyward looks.
	outside, err := aws.New(ctx, aws.Settings{Name: "console", Region: aws.TestRegion, StaticKeysFile: keysFile, Endpoint: lk.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := outside.Create(ctx, cloud.CreateRequest{Name: "legacy", Type: "RSA", Size: 2048, Tags: map[string]string{"owner": "finance"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := awsConfig(t, dir, lk, "deletion_window_days = 7\nfull_refresh_every = 1\n")
	sock := daemontest.Start(t, cfg, daemon.Options{})
	c := api.NewClient(sock)
	kw := clitest.Runner(t, sock)
	list := func() map[string]engine.Key {
		t.Helper()
		return clitest.KeysBy(t, sock, "aws-prod", func(k engine.Key) string { return k.Name })
	}
	details := map[string]string{}
	sourceEvents := func() []string {
		t.Helper()
		ops, evs := clitest.SourceEvents(t, sock, "aws-prod")
		for k, ev := range evs {
			details[k] = ev.Details
		}
		return ops
	}

	clouds, err := c.CloudSources(ctx)
	if err != nil || len(clouds) != 1 || clouds[0].Kind != "aws" || clouds[0].Geography != "aws" || !strings.Contains(clouds[0].Address, lk.URL) {
		t.Fatalf("cloud sources %+v, %v", clouds, err)
	}
	// Backup and restore are of the material keyward uploads; an
	// AWS-generated key says it has none (below).
	if caps := clouds[0].Capabilities; !slices.Contains(caps, engine.CapBackup) || !slices.Contains(caps, engine.CapRestore) ||
		slices.Contains(caps, engine.CapPurge) || !slices.Contains(caps, engine.CapRotationPolicy) {
		t.Errorf("capabilities %v", caps)
	}
	// What the source says it creates (the TUI's create form offers
	// exactly these; TestDeclaredSpecsCreate makes each one); no dates
	// (Azure only).
	if cr := clouds[0].Creates; len(cr) != 11 || cr[0] != "oct" || !slices.Contains(cr, "HMAC 224") || !slices.Contains(cr, "EC P-521") ||
		slices.Contains(clouds[0].Capabilities, engine.CapDates) {
		t.Errorf("creates %v, capabilities %v", cr, clouds[0].Capabilities)
	}

	kw("sync", "--source", "aws-prod")
	keys := list()
	lk0, ok := keys[legacy.Name]
	if !ok || lk0.Algorithm != "RSA" || lk0.Length != 2048 || lk0.State != engine.StateActive || lk0.Tags["owner"] != "finance" ||
		lk0.Tags[aws.TagAliases] != "legacy" || lk0.ID != "aws-prod/"+legacy.Name+"/current" {
		t.Fatalf("the outside key in the inventory: %+v", lk0)
	}

	// The life cycle through the CLI.
	if out := kw("key", "create", "aws-prod", "payments", "--type", "oct", "--tag", "aws:description=card data"); !strings.Contains(out, "created oct") {
		t.Errorf("create:\n%s", out)
	}
	kw("key", "create", "aws-prod", "macs", "--type", "HMAC", "--size", "384")
	kw("key", "policy", "aws-prod", "payments", "--rotate-after", "180d")
	if out := kw("key", "policy", "aws-prod", "payments"); !strings.Contains(out, "rotate after 180d") {
		t.Errorf("policy: %q", out)
	}
	kw("key", "rotate", "aws-prod", "payments")
	kw("key", "update", "aws-prod", "macs", "--disable")
	keys = list()
	var pay, macs engine.Key
	for _, k := range keys {
		switch k.Tags[aws.TagAliases] {
		case "payments":
			pay = k
		case "macs":
			macs = k
		}
	}
	if pay.Algorithm != "oct" || pay.Tags[aws.TagDescription] != "card data" || !strings.HasPrefix(pay.Tags[aws.TagRotation], "on, every 180 days") {
		t.Errorf("payments in the inventory: %+v", pay)
	}
	if macs.Algorithm != "HMAC" || macs.Length != 384 || macs.State != engine.StateDisabled {
		t.Errorf("macs in the inventory: %+v", macs)
	}
	if n := lk.Rotations(strings.Split(pay.Name, "/")[0]); n != 1 {
		t.Errorf("%d on-demand rotations in AWS", n)
	}

	// Scheduled deletion and its cancellation.
	if out := kw("key", "delete", "aws-prod", macs.Name, "--confirm", macs.Name); !strings.Contains(out, "deleted") {
		t.Errorf("delete:\n%s", out)
	}
	if k := list()[macs.Name]; k.State != engine.StateDeleted || k.PurgeAt == nil || k.PurgeAt.Sub(time.Now()) < 6*24*time.Hour {
		t.Errorf("after scheduling deletion (7 days): %+v", k)
	}
	kw("key", "recover", "aws-prod", macs.Name)
	if k := list()[macs.Name]; k.State == engine.StateDeleted {
		t.Errorf("after cancelling the deletion: %+v", k)
	}

	// What AWS cannot do is refused by the daemon with the reason.
	if code, _, errs := clitest.Run(sock, "key", "backup", "aws-prod", pay.Name); code == cli.ExitOK || !strings.Contains(errs, "not supported by this cloud: AWS cannot export key material") {
		t.Errorf("backup: exit %d %q", code, errs)
	}
	if k := list()[pay.Name]; k.Unsupported(engine.CapBackup) == "" || k.Unsupported(engine.CapDeleteMaterial) == "" {
		t.Errorf("the socket's key does not say what it cannot do: %v", k.Tags)
	}
	if code, _, errs := clitest.Run(sock, "key", "create", "aws-prod", "tiny", "--type", "HMAC", "--size", "100"); code == cli.ExitOK || !strings.Contains(errs, "224, 256, 384 or 512") {
		t.Errorf("HMAC 100: exit %d %q", code, errs)
	}

	// keyward's own operations do not come back as cloud events; a
	// change behind keyward's back does.
	kw("sync", "--source", "aws-prod")
	if ev := sourceEvents(); !slices.Equal(ev, []string{"discovered " + legacy.Name + "/current"}) {
		t.Errorf("source events after keyward's own changes: %v", ev)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := outside.Update(ctx, legacy.Name, "", cloud.Update{Tags: map[string]string{"owner": "finance", aws.TagAliases: "legacy,ledger"}}); err != nil {
		t.Fatal(err)
	}
	kw("sync", "--source", "aws-prod")
	if k := list()[legacy.Name]; k.Tags[aws.TagAliases] != "ledger,legacy" {
		t.Errorf("the outside alias change: %v", k.Tags)
	}
	if ev := sourceEvents(); len(ev) != 2 || details["edited "+legacy.Name+"/current"] != "edited in the cloud: tags aws:aliases" {
		t.Errorf("source events after an outside change: %v %v", ev, details)
	}
	// A rotation outside keyward changes the key material in use.
	if _, err := outside.Rotate(ctx, pay.Name); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	kw("sync", "--source", "aws-prod")
	evs := sourceEvents()
	if d := details["edited "+pay.Name+"/current"]; d != "edited in the cloud: tags aws:key-material" {
		t.Errorf("an outside rotation: %q (events %v)", d, evs)
	}

	// Expired session credentials: the sync fails, the source is
	// degraded with what to do, and the inventory stays as it was.
	if n := len(list()); n != 3 {
		t.Fatalf("%d keys before the refused sync, want 3", n)
	}
	lk.SetFail(func(string) string { return "ExpiredTokenException" })
	clitest.RefusedSync(t, sock, "aws-prod", "session credentials have expired", "renew them")
	lk.SetFail(nil)
	kw("sync", "--source", "aws-prod")
	srcs, err := c.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(srcs, func(s api.SourceInfo) bool { return s.Name == "aws-prod" }); i < 0 || srcs[i].Health != engine.HealthOK {
		t.Errorf("the source after credentials came back: %+v", srcs)
	}
}
