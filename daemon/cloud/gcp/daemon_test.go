package gcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// TestGCPThroughDaemonAndCLI runs the real daemon with a [[gcp]] section
// pointed at keyward's Cloud KMS fake and drives sync and the whole life
// cycle through the real CLI on the real socket: create (and key ring),
// labels, rotation schedule, rotate, enable/disable and primary of a
// version, scheduled destruction and restore, BYOK from a KMIP ring, and
// what Google cannot do refused with the reason. Changes made in "Google"
// behind keyward's back show as source events; keyward's own do not.
func TestGCPThroughDaemonAndCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fake, addr := gcp.ServeFake(t)
	dir := t.TempDir()
	outside := gcp.Console(t, addr)
	legacy, err := outside.Create(ctx, cloud.CreateRequest{Name: "ledger", Type: "RSA", Size: 2048, Tags: map[string]string{"owner": "finance", gcp.TagPurpose: "ASYMMETRIC_DECRYPT"}})
	if err != nil {
		t.Fatal(err)
	}
	// Two hours ago, other workloads used an outside key; Google's log
	// holds the calls by name (Decrypt names the key, AsymmetricDecrypt
	// the version). The Logging fake serves them once the source reads
	// that settled hour.
	tokens, err := outside.Create(ctx, cloud.CreateRequest{Name: "tokens", Type: "oct"})
	if err != nil {
		t.Fatal(err)
	}
	two := time.Now().UTC().Add(-2 * time.Hour)
	tokensKey := "projects/acme-prod-kms/locations/us/keyRings/legacy/cryptoKeys/tokens"
	for i := range 5 {
		fake.Record(gcpkms.AuditEntry{Time: two.Add(time.Duration(i) * time.Minute), DataAccess: true, Method: "Decrypt", Resource: tokensKey, Principal: "orders@acme-prod-kms.iam.gserviceaccount.com"})
	}
	fake.Record(gcpkms.AuditEntry{Time: two, DataAccess: true, Method: "AsymmetricDecrypt", Resource: "projects/acme-prod-kms/locations/us/keyRings/legacy/cryptoKeys/ledger/cryptoKeyVersions/1",
		Principal: "billing@acme-prod-kms.iam.gserviceaccount.com"})
	fake.Record(gcpkms.AuditEntry{Time: two, DataAccess: true, Method: "GetCryptoKey", Resource: tokensKey, Principal: "auditor@acme.example"})
	cfg := daemontest.Config(t, dir, gcp.ProdSection(addr))
	daemontest.AddKMIPRings(t, cfg, dir)
	sock := daemontest.Start(t, cfg, daemon.Options{})
	c := api.NewClient(sock)
	kw := clitest.Runner(t, sock)
	list := func() map[string]engine.Key {
		t.Helper()
		return clitest.KeysBy(t, sock, "gcp-prod", func(k engine.Key) string { return k.Name + "/" + k.Version })
	}
	details, actors := map[string]string{}, map[string]string{}
	sourceEvents := func() []string {
		t.Helper()
		ops, evs := clitest.SourceEvents(t, sock, "gcp-prod")
		for k, ev := range evs {
			details[k], actors[k] = ev.Details, ev.Actor
		}
		return ops
	}

	clouds, err := c.CloudSources(ctx)
	if err != nil || len(clouds) != 1 || clouds[0].Kind != "gcp" || !strings.Contains(clouds[0].Address, "projects/acme-prod-kms") {
		t.Fatalf("cloud sources %+v, %v", clouds, err)
	}
	if caps := clouds[0].Capabilities; slices.Contains(caps, engine.CapPurge) || !slices.Contains(caps, engine.CapRotationPolicy) || !slices.Contains(caps, engine.CapUploadOct) {
		t.Errorf("capabilities %v", caps)
	}
	// What the source says it creates and the options it takes by tag,
	// over the socket (the TUI's create form offers exactly these;
	// TestDeclaredSpecsCreate makes each one).
	if cr, opts := clouds[0].Creates, clouds[0].CreateOptions; !slices.Equal(cr, (&gcp.Project{}).CreateSpecs()) || len(opts) != 3 ||
		opts[0].Tag != gcp.TagPurpose || opts[2].Tag != gcp.TagProtection || !slices.Equal(opts[2].Values, []string{"SOFTWARE", "HSM"}) {
		t.Errorf("declared %v, options %+v", cr, opts)
	}

	kw("sync", "--source", "gcp-prod")
	keys := list()
	l0, ok := keys[legacy.Name+"/1"]
	if !ok || legacy.Name != "us/legacy/ledger" || l0.Algorithm != "RSA" || l0.Length != 2048 || l0.State != engine.StateActive ||
		l0.Tags["owner"] != "finance" || l0.Tags[gcp.TagPurpose] != "ASYMMETRIC_DECRYPT" || l0.Tags[gcp.TagAlgorithm] != "RSA_DECRYPT_OAEP_2048_SHA256" ||
		l0.Tags[gcp.TagProtection] != "SOFTWARE" || l0.ID != "gcp-prod/us/legacy/ledger/1" || !strings.Contains(l0.Tags[gcp.TagDeletion], "never deletes keys or key rings") {
		t.Fatalf("the outside key in the inventory: %+v", l0)
	}

	// Create: into create_in (the ring is made), and into a ring named by
	// tag; every purpose.
	if out := kw("key", "create", "gcp-prod", "card-kek", "--type", "oct", "--tag", "team=payments"); !strings.Contains(out, "created oct") {
		t.Errorf("create:\n%s", out)
	}
	kw("key", "create", "gcp-prod", "signer", "--type", "EC", "--curve", "P-384", "--tag", gcp.TagKeyRing+"=us/signing")
	kw("key", "create", "gcp-prod", "macs", "--type", "HMAC", "--size", "256")
	kw("key", "policy", "gcp-prod", "europe-west1/payments/card-kek", "--rotate-after", "90d")
	if out := kw("key", "policy", "gcp-prod", "europe-west1/payments/card-kek"); !strings.Contains(out, "rotate after 90d") {
		t.Errorf("policy: %q", out)
	}
	kw("key", "rotate", "gcp-prod", "europe-west1/payments/card-kek")
	kw("key", "update", "gcp-prod", "europe-west1/payments/card-kek", "--version", "1", "--disable")
	keys = list()
	v1, v2 := keys["europe-west1/payments/card-kek/1"], keys["europe-west1/payments/card-kek/2"]
	if v1.State != engine.StateDisabled || v2.State != engine.StateActive || v2.Tags[gcp.TagPrimary] != "true" || v1.Tags[gcp.TagPrimary] != "" ||
		!strings.HasPrefix(v2.Tags[gcp.TagRotation], "every 90d, next ") || v2.Tags["team"] != "payments" {
		t.Errorf("card-kek after rotate and disable:\n%+v\n%+v", v1, v2)
	}
	if k := keys["us/signing/signer/1"]; k.Algorithm != "EC P-384" || k.Tags[gcp.TagPurpose] != "ASYMMETRIC_SIGN" {
		t.Errorf("signer %+v", k)
	}
	if k := keys["europe-west1/payments/macs/1"]; k.Algorithm != "HMAC" || k.Length != 256 || k.Tags[gcp.TagPurpose] != "MAC" {
		t.Errorf("macs %+v", k)
	}
	// Enable version 1 again and make it the primary; labels untouched.
	kw("key", "update", "gcp-prod", "europe-west1/payments/card-kek", "--version", "1", "--enable")
	kw("key", "update", "gcp-prod", "europe-west1/payments/card-kek", "--version", "1", "--tag", gcp.TagPrimary+"=true")
	keys = list()
	if v1 := keys["europe-west1/payments/card-kek/1"]; v1.Tags[gcp.TagPrimary] != "true" || v1.Tags["team"] != "payments" || v1.State != engine.StateActive {
		t.Errorf("version 1 made primary: %+v", v1)
	}
	// Labels replaced.
	kw("key", "update", "gcp-prod", "europe-west1/payments/card-kek", "--tag", "team=cards", "--tag", "env=prod")
	if v := list()["europe-west1/payments/card-kek/2"]; v.Tags["team"] != "cards" || v.Tags["env"] != "prod" {
		t.Errorf("labels: %v", v.Tags)
	}

	// Dates: Google keys have none (no engine.CapDates). The CLI refuses
	// the flags before asking (exit 2), and the daemon refuses a request
	// that carries one, in the same words; nothing reaches Google.
	if slices.Contains(clouds[0].Capabilities, engine.CapDates) {
		t.Errorf("gcp declares dates: %v", clouds[0].Capabilities)
	}
	noDates := engine.NoDates("gcp-prod")
	for _, flag := range []string{"--expires", "--not-before"} {
		if code, _, errs := clitest.Run(sock, "key", "update", "gcp-prod", "europe-west1/payments/card-kek", flag, "30d"); code != cli.ExitUsage || !strings.Contains(errs, noDates) {
			t.Errorf("key update %s: exit %d: %s", flag, code, errs)
		}
	}
	if code, _, errs := clitest.Run(sock, "key", "create", "gcp-prod", "dated", "--type", "oct", "--expires", "30d"); code != cli.ExitUsage || !strings.Contains(errs, noDates) {
		t.Errorf("key create --expires: exit %d: %s", code, errs)
	}
	in30 := time.Now().Add(30 * 24 * time.Hour)
	if _, err := c.UpdateCloudKey(ctx, "gcp-prod", "europe-west1/payments/card-kek", api.UpdateKeyRequest{Expires: &in30}); err == nil || !strings.Contains(err.Error(), noDates) {
		t.Errorf("the daemon took an expiry for a Google key: %v", err)
	}

	// One version: delete --version schedules only its destruction; the
	// primary of a symmetric key is refused with what to do instead;
	// recover --version restores it. Through the CLI and the socket.
	const ck = "europe-west1/payments/card-kek"
	if code, _, errs := clitest.Run(sock, "key", "delete", "gcp-prod", ck, "--version", "1", "--confirm", ck); code == cli.ExitOK || !strings.Contains(errs, "primary version") || !strings.Contains(errs, "make another version primary first") {
		t.Errorf("delete of the primary version: exit %d: %s", code, errs)
	}
	if code, _, errs := clitest.Run(sock, "key", "delete", "gcp-prod", ck, "--version", "9", "--confirm", ck); code == cli.ExitOK || !strings.Contains(errs, `no version "9"`) {
		t.Errorf("delete of a version that does not exist: exit %d: %s", code, errs)
	}
	if out := kw("key", "delete", "gcp-prod", ck, "--version", "2", "--confirm", ck); !strings.Contains(out, "version 2 deleted via keyward") {
		t.Errorf("delete --version 2:\n%s", out)
	}
	keys = list()
	if v1, v2 := keys[ck+"/1"], keys[ck+"/2"]; v1.State != engine.StateActive || v2.State != engine.StateDeleted || v2.PurgeAt == nil || v2.PurgeAt.Sub(time.Now()) < 29*24*time.Hour {
		t.Errorf("after deleting version 2 only:\n%+v\n%+v", v1, v2)
	}
	if _, err := c.CloudVersionOp(ctx, "gcp-prod", ck, "delete", "2", ck); err == nil || !strings.Contains(err.Error(), "DESTROY_SCHEDULED") {
		t.Errorf("deleting a scheduled version again: %v", err)
	}
	if _, err := c.CloudVersionOp(ctx, "gcp-prod", ck, "purge", "2", ck); err == nil || !strings.Contains(err.Error(), "whole key") {
		t.Errorf("purge with a version: %v", err)
	}
	if _, err := c.CloudVersionOp(ctx, "gcp-prod", ck, "recover", "1", ""); err == nil || !strings.Contains(err.Error(), "only a version scheduled for destruction") {
		t.Errorf("recover of a live version: %v", err)
	}
	res, err := c.CloudVersionOp(ctx, "gcp-prod", ck, "recover", "2", "")
	if err != nil || res.Event == nil || !strings.Contains(res.Event.Details, "version 2 recovered") || res.Event.KeyID != "gcp-prod/"+ck+"/2" {
		t.Fatalf("recover version 2 through the socket: %+v %v", res, err)
	}
	if v2 := list()[ck+"/2"]; v2.State != engine.StateActive {
		t.Errorf("after recovering version 2: %+v", v2)
	}
	kw("key", "delete", "gcp-prod", ck, "--version", "2", "--confirm", ck)
	kw("key", "recover", "gcp-prod", ck, "--version", "2")
	if v2 := list()[ck+"/2"]; v2.State != engine.StateActive {
		t.Errorf("after recover --version 2: %+v", v2)
	}

	// Delete schedules every version's destruction (30 days: the key's
	// destroy-scheduled duration); recover restores them.
	if out := kw("key", "delete", "gcp-prod", "europe-west1/payments/macs", "--confirm", "europe-west1/payments/macs"); !strings.Contains(out, "deleted") {
		t.Errorf("delete:\n%s", out)
	}
	if k := list()["europe-west1/payments/macs/1"]; k.State != engine.StateDeleted || k.PurgeAt == nil || k.PurgeAt.Sub(time.Now()) < 29*24*time.Hour {
		t.Errorf("after scheduling destruction: %+v", k)
	}
	rep, err := c.AgingReport(ctx, api.ReportQuery{Source: "gcp-prod"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range rep.Entries {
		if e.KeyID == "gcp-prod/europe-west1/payments/macs/1" && e.Milestone == report.MilestonePurge {
			found = e.Date.Sub(time.Now()) > 29*24*time.Hour
		}
	}
	if !found {
		t.Errorf("the aging report does not show the scheduled destruction: %+v", rep.Entries)
	}
	kw("key", "recover", "gcp-prod", "europe-west1/payments/macs")
	if k := list()["europe-west1/payments/macs/1"]; k.State != engine.StateActive {
		t.Errorf("after restore: %+v", k)
	}

	// BYOK: a KMIP ring's newest generation becomes an import-only key.
	kw("sync", "--source", "kms")
	kw("key", "upload", "gcp-prod", "crm-byok", "--from-source", "kms", "--from-app", "crm")
	if k := list()["europe-west1/payments/crm-byok/1"]; k.Tags[gcp.TagImportOnly] != "true" || k.State != engine.StateActive ||
		k.LinkedTo != "kms/acme.crm.key.5" || k.Application != "crm" || k.Tags[gcp.TagPrimary] != "true" {
		t.Errorf("the uploaded key: %+v", k)
	}

	// BYOK from a key file: a 32-byte key in hex becomes a new version
	// of card-kek, made primary.
	keyFile := filepath.Join(dir, "card.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kw("key", "upload", "gcp-prod", "card-kek", "--from-file", keyFile)
	keys = list()
	if v := keys["europe-west1/payments/card-kek/3"]; v.Tags[gcp.TagPrimary] != "true" || !strings.Contains(v.Tags[gcp.TagImportJob], "/importJobs/keyward-") || v.State != engine.StateActive {
		t.Errorf("the file's material as card-kek's version 3: %+v", v)
	}

	// Its backup is keyward's sealed copy of the material; restore imports
	// it as a new version, made primary. A Google-generated key has none,
	// and says so per key.
	var b api.BackupInfo
	if err := json.Unmarshal([]byte(kw("key", "backup", "gcp-prod", "europe-west1/payments/crm-byok", "--json")), &b); err != nil || b.Key != "europe-west1/payments/crm-byok" {
		t.Fatalf("backup of the uploaded key: %+v %v", b, err)
	}
	kw("key", "restore", b.ID)
	keys = list()
	if v2 := keys["europe-west1/payments/crm-byok/2"]; v2.Tags[gcp.TagPrimary] != "true" || v2.State != engine.StateActive || keys["europe-west1/payments/crm-byok/1"].Tags[gcp.TagPrimary] != "" {
		t.Errorf("after restore: %+v", v2)
	}
	if why := keys["europe-west1/payments/macs/1"].Unsupported(engine.CapBackup); !strings.Contains(why, "cannot export key material") {
		t.Errorf("macs' backup: %q", why)
	}
	if why := keys["europe-west1/payments/card-kek/1"].Unsupported(engine.CapBackup); why != "" {
		t.Errorf("card-kek holds uploaded material, yet: %q", why)
	}
	if code, _, errs := clitest.Run(sock, "key", "backup", "gcp-prod", "europe-west1/payments/macs"); code == cli.ExitOK || !strings.Contains(errs, "Google Cloud KMS cannot export key material") {
		t.Errorf("backup of a generated key: exit %d %q", code, errs)
	}

	// What Google cannot do is refused with the reason.
	if code, _, errs := clitest.Run(sock, "key", "purge", "gcp-prod", "europe-west1/payments/macs", "--confirm", "europe-west1/payments/macs"); code == cli.ExitOK || !strings.Contains(errs, "cannot purge") {
		t.Errorf("purge: exit %d %q", code, errs)
	}
	if code, _, errs := clitest.Run(sock, "key", "rotate", "gcp-prod", "europe-west1/payments/crm-byok"); code == cli.ExitOK || !strings.Contains(errs, "import-only") {
		t.Errorf("rotate an import-only key: exit %d %q", code, errs)
	}
	if code, _, errs := clitest.Run(sock, "key", "create", "gcp-prod", "tiny", "--type", "HMAC", "--size", "100"); code == cli.ExitOK || !strings.Contains(errs, "224, 256, 384 or 512") {
		t.Errorf("HMAC 100: exit %d %q", code, errs)
	}
	if code, _, errs := clitest.Run(sock, "key", "policy", "gcp-prod", "us/signing/signer", "--rotate-after", "90d"); code == cli.ExitOK || !strings.Contains(errs, "only ENCRYPT_DECRYPT") {
		t.Errorf("rotation of a signing key: exit %d %q", code, errs)
	}

	// keyward's own operations do not come back as cloud events; changes
	// behind keyward's back do.
	kw("sync", "--source", "gcp-prod")
	if ev := sourceEvents(); !slices.Equal(ev, []string{"discovered us/legacy/ledger/1", "discovered us/legacy/tokens/1"}) {
		t.Errorf("source events after keyward's own changes: %v", ev)
	}
	// Someone else, in the console: the audit log says who.
	fake.Principal = "alice@acme.example"
	if _, err := outside.Update(ctx, legacy.Name, "", cloud.Update{Tags: map[string]string{"owner": "treasury"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := outside.Rotate(ctx, legacy.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := outside.Update(ctx, "europe-west1/payments/card-kek", "2", cloud.Update{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	kw("sync", "--source", "gcp-prod")
	evs := sourceEvents()
	if d := details["edited us/legacy/ledger/1"]; d != "edited in the cloud: tags owner (by alice@acme.example, Cloud Audit Logs: UpdateCryptoKey)" {
		t.Errorf("an outside label change: %q (events %v)", d, evs)
	}
	if a := actors["rotated us/legacy/ledger/2"]; a != "alice@acme.example" {
		t.Errorf("the outside rotation's actor: %q", a)
	}
	if !slices.Contains(evs, "rotated us/legacy/ledger/2") || !slices.Contains(evs, "disabled europe-west1/payments/card-kek/2") {
		t.Errorf("outside rotation and disable: %v", evs)
	}

	// Service usage from the data-access audit log: a settled hour's
	// Encrypt and Decrypt calls per principal, on the key's primary
	// version when Google logged the key.
	kw("sync", "--source", "gcp-prod")
	u, err := c.UsageReport(ctx, api.ReportQuery{From: "-1d", To: "+1d", Source: "gcp-prod"})
	if err != nil {
		t.Fatal(err)
	}
	use := map[string]string{}
	for _, r := range u.Rows {
		use[r.App] = fmt.Sprintf("%s e%d d%d", r.KeyID, r.Encrypts, r.Decrypts)
	}
	if use["orders@acme-prod-kms.iam.gserviceaccount.com"] != "gcp-prod/"+tokens.Name+"/1 e0 d5" ||
		use["billing@acme-prod-kms.iam.gserviceaccount.com"] != "gcp-prod/us/legacy/ledger/1 e0 d1" || len(use) != 2 {
		t.Errorf("usage from the audit log: %v", use)
	}

	// A refused identity: the sync fails, the source is degraded with
	// the missing permission, and the inventory stays as it was.
	fake.Deny("cloudkms.cryptoKeys.list")
	clitest.RefusedSync(t, sock, "gcp-prod", "cloudkms.cryptoKeys.list", "lacks IAM permission")
	fake.Allow("cloudkms.cryptoKeys.list")
	kw("sync", "--source", "gcp-prod")

	// The key ring is never deleted, and the fake holds no such call.
	if _, ok := any(fake).(interface {
		DeleteKeyRing(context.Context, *kmspb.KeyRing) error
	}); ok {
		t.Error("the fake offers a key ring deletion Google does not have")
	}
}

func ptr[T any](v T) *T { return &v }
