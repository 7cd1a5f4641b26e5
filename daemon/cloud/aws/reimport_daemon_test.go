package aws_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// TestReimportExpiryThroughDaemon: an administrator uploads symmetric
// material expiring in 30 days, deletes it, and re-imports it with a new
// expiry from the CLI, then with none over the socket: local-kms (read
// with a plain client) holds each expiry asked for, not the first
// upload's; each restore is one activity event naming the expiry AWS
// stored, and the next sync records no change of its own for it. An
// expiry AWS would refuse, or two choices at once, is refused before any
// request reaches AWS.
func TestReimportExpiryThroughDaemon(t *testing.T) {
	lk, dir, sock, kw := awsDaemon(t, "full_refresh_every = 1\n")
	ctx := context.Background()
	c := api.NewClient(sock)
	stored := func(id string) *types.KeyMetadata { return lk.Described(t, id) }

	material := make([]byte, 32)
	rand.Read(material)
	keyFile := testkit.WriteFile(t, dir, "crm.key", []byte(hex.EncodeToString(material)))
	kw("key", "upload", "aws-prod", "crm-byok", "--from-file", keyFile, "--expires", "30d")
	md := stored("alias/crm-byok")
	if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || time.Until(*md.ValidTo) < 29*24*time.Hour {
		t.Fatalf("after upload --expires 30d, local-kms holds model %s, valid to %v", md.ExpirationModel, md.ValidTo)
	}
	id := *md.KeyId
	var list struct{ Backups []api.BackupInfo }
	if err := json.Unmarshal([]byte(kw("key", "backups", "--json")), &list); err != nil || len(list.Backups) != 1 {
		t.Fatalf("backups: %+v %v", list, err)
	}
	backup := list.Backups[0].ID
	kw("key", "delete-material", "aws-prod", id, "--confirm", id)
	if md := stored(id); md.KeyState != types.KeyStatePendingImport {
		t.Fatalf("after delete-material: %s", md.KeyState)
	}

	// Re-import from the CLI with a new date.
	day := time.Now().AddDate(0, 0, 120).UTC().Format(time.DateOnly)
	want, _ := time.Parse(time.DateOnly, day)
	kw("key", "restore", backup, "--expires", day)
	md = stored(id)
	if md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(want) {
		t.Fatalf("after restore --expires %s, local-kms holds state %s, model %s, valid to %v", day, md.KeyState, md.ExpirationModel, md.ValidTo)
	}
	// The inventory shows it; one restore event says it; a sync adds
	// nothing for it.
	kw("sync", "--source", "aws-prod")
	keys := clitest.KeysBy(t, sock, "aws-prod", func(k engine.Key) string { return k.Name })
	if k := keys[id]; k.Expires == nil || !k.Expires.Equal(want) {
		t.Errorf("the inventory's expiry after the restore: %v", k.Expires)
	}
	restores := func() []engine.Event {
		t.Helper()
		rep, err := c.ActivityReport(ctx, api.ReportQuery{Source: "aws-prod", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []engine.Event
		for _, ev := range rep.Events {
			if ev.Operation == engine.OpRestored || ev.Origin != engine.OriginKeyward && strings.Contains(ev.KeyID, id) {
				out = append(out, ev)
			}
		}
		return out
	}
	evs := restores()
	if len(evs) != 1 || !strings.Contains(evs[0].Details, "the material expires "+day+"T00:00:00Z (given at restore)") {
		t.Fatalf("activity of the restore (and what the sync saw of it): %+v", evs)
	}

	// Over the socket, no expiry at all.
	if _, err := c.RestoreCloudBackup(ctx, backup, api.RestoreRequest{NoExpiry: true}); err != nil {
		t.Fatal(err)
	}
	if md := stored(id); md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || md.ValidTo != nil {
		t.Fatalf("after restore with no_expiry, local-kms holds model %s, valid to %v", md.ExpirationModel, md.ValidTo)
	}
	kw("sync", "--source", "aws-prod")
	if evs := restores(); len(evs) != 2 || !strings.Contains(evs[0].Details, "the material does not expire (given at restore)") {
		t.Fatalf("activity after the second restore: %+v", evs)
	}

	// Refused before any request: too far ahead, both choices.
	var mu sync.Mutex
	var sent []string
	lk.SetFail(func(target string) string {
		mu.Lock()
		sent = append(sent, target)
		mu.Unlock()
		return ""
	})
	if code, _, errs := clitest.Run(sock, "key", "restore", backup, "--expires", "400d"); code == cli.ExitOK || !strings.Contains(errs, "at most 365 days ahead") {
		t.Errorf("restore --expires 400d: exit %d %q", code, errs)
	}
	if code, _, errs := clitest.Run(sock, "key", "restore", backup, "--expires", "30d", "--no-expiry"); code != cli.ExitUsage || !strings.Contains(errs, "exclude each other") {
		t.Errorf("restore --expires --no-expiry: exit %d %q", code, errs)
	}
	soon := time.Now().Add(time.Hour)
	var ae *api.Error
	if _, err := c.RestoreCloudBackup(ctx, backup, api.RestoreRequest{Expires: &soon, NoExpiry: true}); !errors.As(err, &ae) || ae.Status != 400 {
		t.Errorf("restore with expires and no_expiry over the socket: %v", err)
	}
	mu.Lock()
	for _, target := range sent {
		if strings.Contains(target, "Import") {
			t.Errorf("a refused restore sent %s", target)
		}
	}
	mu.Unlock()
	lk.SetFail(nil)
	if md := stored(id); md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Errorf("a refused restore changed the material's expiry: %s %v", md.ExpirationModel, md.ValidTo)
	}
}
