package azure

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

// TestVaultTagsCannotSpeakForKeyward: keyward:unsupported:* tags are what
// keyward says a key cannot do (front ends leave the action out and show
// the tag's words as the reason). A tag of that name set in the vault by
// anyone with tag rights — or asked for through keyward's own create and
// update — would hide a key's rotation or deletion from the administrator
// behind a reason of the tagger's choosing. The vault's are not listed;
// keyward refuses to set them (as the AWS connector does).
func TestVaultTagsCannotSpeakForKeyward(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	spoof := engine.TagUnsupported + engine.CapRotate
	e.addKey(vault.KeySpec{Name: "acme-tagged", Tags: map[string]string{"owner": "crm", spoof: "not supported: ask bob"}})
	e.mustSync()
	var seen int
	for _, k := range e.rows() {
		if k.Name != "acme-tagged" {
			continue
		}
		seen++
		if _, ok := k.Tags[spoof]; ok || k.Tags["owner"] != "crm" {
			t.Errorf("%s tags %v: the vault's %s is listed as keyward's", k.ID, k.Tags, spoof)
		}
	}
	if seen == 0 {
		t.Fatal("the key is not in the inventory")
	}
	m := cloud.NewManager(e.st, newKEK(t), e.src)
	if _, err := m.Create(e.ctx, alice, "vault1", cloud.CreateRequest{Name: "acme-new", Type: "EC", Curve: "P-256", Tags: map[string]string{spoof: "x"}}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), spoof) {
		t.Errorf("create with %s: %v, want invalid naming the tag", spoof, err)
	}
	if _, err := m.Update(e.ctx, alice, "vault1", "acme-tagged", cloud.UpdateRequest{Tags: map[string]string{"owner": "crm", spoof: "x"}}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), spoof) {
		t.Errorf("update with %s: %v, want invalid naming the tag", spoof, err)
	}
	if _, err := m.Upload(e.ctx, alice, "vault1", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "acme-up", Type: "EC", Curve: "P-256", Tags: map[string]string{spoof: "x"}}}); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("upload with %s: %v, want invalid", spoof, err)
	}
	if _, err := e.conn.Get(e.ctx, "acme-new", ""); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("the refused create reached the vault: %v", err)
	}
}
