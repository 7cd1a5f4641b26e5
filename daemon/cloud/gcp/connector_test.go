package gcp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// TestImportRoundTrip is BYOK end to end: material wrapped here with an
// import job's public key (RSA-OAEP-4096-SHA-256 + AES-KWP) becomes a new
// primary version in the fake, and a ciphertext the fake makes with it
// opens here with the original material, so the material arrived intact.
func TestImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/byok"})
	fake.PendingImportJobs(2) // an HSM job's key takes a moment
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	kv, err := p.Import(ctx, cloud.ImportRequest{Name: "crm-kek", Symmetric: material, Tags: map[string]string{TagProtection: "HSM", cloud.TagLinkedTo: "kms/acme.crm.key.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if kv.Name != "europe-west1/byok/crm-kek" || kv.Version != "1" || kv.Tags[TagPrimary] != "true" || kv.Tags[TagImportOnly] != "true" ||
		kv.Tags[TagProtection] != "HSM" || !strings.Contains(kv.Tags[TagImportJob], "/importJobs/keyward-") || kv.Tags[cloud.TagLinkedTo] != "kms/acme.crm.key.5" {
		t.Fatalf("imported version %+v", kv)
	}
	if n := p.Calls()["GetImportJob"]; n != 2 {
		t.Errorf("%d GetImportJob polls, want 2 (the job was pending twice)", n)
	}
	// A second upload into the same key is a new version, made primary.
	second := make([]byte, 32)
	_, _ = rand.Read(second)
	kv2, err := p.Import(ctx, cloud.ImportRequest{Name: "crm-kek", Symmetric: second, Tags: map[string]string{}})
	if err != nil || kv2.Version != "2" || kv2.Tags[TagPrimary] != "true" {
		t.Fatalf("second import %+v %v", kv2, err)
	}
	ct := encrypt(t, p, "europe-west1/byok/crm-kek", []byte("card 4111"))
	if got := openLocally(t, second, ct); string(got) != "card 4111" {
		t.Fatalf("opened %q", got)
	}
	if _, err := decryptLocally(material, ct); err == nil {
		t.Fatal("the primary's ciphertext opened with the first version's material")
	}

	// Material Google refuses comes back with its reason: a 2048-bit RSA
	// key into a key whose versions are RSA 3072.
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "signer", Type: "RSA", Size: 3072}); err != nil {
		t.Fatal(err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Import(ctx, cloud.ImportRequest{Name: "signer", Private: priv, Tags: map[string]string{}})
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "Google refused the material") || !strings.Contains(err.Error(), "has 2048 bits") {
		t.Fatalf("refused import: %v", err)
	}
	vs, err := p.Versions(ctx, "europe-west1/byok/signer")
	if err != nil || len(vs) != 2 || vs[1].Tags[TagState] != "IMPORT_FAILED" || vs[1].Tags[TagFailure] == "" {
		t.Fatalf("versions after a refused import %+v %v", vs, err)
	}
	// An EC key imports as PKCS#8.
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	kv, err = p.Import(ctx, cloud.ImportRequest{Name: "ec-signer", Private: ec, Tags: map[string]string{}})
	if err != nil || kv.Tags[TagAlgorithm] != "EC_SIGN_P384_SHA384" || kv.Type != "EC" || kv.Curve != "P-384" {
		t.Fatalf("EC import %+v %v", kv, err)
	}
	// 16 bytes never leave keyward.
	if _, err := p.Import(ctx, cloud.ImportRequest{Name: "short", Symmetric: make([]byte, 16), Tags: map[string]string{}}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "256-bit") {
		t.Errorf("short material: %v", err)
	}
}

func encrypt(t *testing.T, p *Project, name string, pt []byte) []byte {
	t.Helper()
	r, err := p.refOf("encrypt", name, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.client.Encrypt(context.Background(), &kmspb.EncryptRequest{Name: p.keyName(r), Plaintext: pt})
	if err != nil {
		t.Fatal(err)
	}
	return out.GetCiphertext()
}

// decryptLocally opens a ciphertext of keyward's fake (its own format: a
// two-byte length, the version's name, a GCM nonce and sealed data) with
// material known here.
func decryptLocally(key, ct []byte) ([]byte, error) {
	n := int(ct[0])<<8 | int(ct[1])
	body := ct[2+n:]
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return g.Open(nil, body[:g.NonceSize()], body[g.NonceSize():], nil)
}

func openLocally(t *testing.T, key, ct []byte) []byte {
	t.Helper()
	pt, err := decryptLocally(key, ct)
	if err != nil {
		t.Fatalf("open locally: %v", err)
	}
	return pt
}

// TestVersionStates: every Cloud KMS version state maps onto the
// inventory: destroy-scheduled versions are deleted with their destruction
// date, destroyed ones destroyed; a key whose every version is scheduled
// lists as deleted, and one with nothing left not at all.
func TestVersionStates(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := p.Rotate(ctx, "europe-west1/ring/k"); err != nil {
			t.Fatal(err)
		}
	}
	// 1 destroyed, 2 scheduled, 3 disabled, 4 primary.
	base := "projects/" + TestProject + "/locations/europe-west1/keyRings/ring/cryptoKeys/k/cryptoKeyVersions/"
	for _, v := range []string{"1", "2"} {
		if _, err := p.client.DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: base + v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fake.DestroyNow(base + "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Update(ctx, "europe-west1/ring/k", "3", cloud.Update{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	vs, err := p.Versions(ctx, "europe-west1/ring/k")
	if err != nil || len(vs) != 4 {
		t.Fatalf("versions %+v %v", vs, err)
	}
	if vs[0].Destroyed == nil || vs[1].PurgeAt == nil || vs[1].PurgeAt.Sub(time.Now()) < 29*24*time.Hour || vs[2].Enabled || !vs[3].Enabled || vs[3].Tags[TagPrimary] != "true" {
		t.Errorf("version states %+v", vs)
	}
	var live, deleted []cloud.KeyVersion
	if err := p.ListKeys(ctx, func(kv []cloud.KeyVersion) error { live = append(live, kv...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].Version != "4" {
		t.Fatalf("listed %+v", live)
	}
	// Retiring the key schedules 3 and 4; the key then lists as deleted
	// with the latest destruction date, and comes back on recover.
	kv, err := p.Delete(ctx, "europe-west1/ring/k")
	if err != nil || kv.Deleted == nil || kv.PurgeAt == nil {
		t.Fatalf("delete %+v %v", kv, err)
	}
	live = nil
	if err := p.ListKeys(ctx, func(kv []cloud.KeyVersion) error { live = append(live, kv...); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.ListDeleted(ctx, func(kv []cloud.KeyVersion) error { deleted = append(deleted, kv...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(live) != 0 || len(deleted) != 1 {
		t.Fatalf("after delete: live %+v deleted %+v", live, deleted)
	}
	kv, err = p.Recover(ctx, "europe-west1/ring/k")
	if err != nil || !kv.Enabled || kv.Tags[TagPrimary] != "true" {
		t.Fatalf("recover %+v %v", kv, err)
	}
	vs, _ = p.Versions(ctx, "europe-west1/ring/k")
	for _, v := range vs[1:] {
		if v.Deleted != nil || !v.Enabled {
			t.Errorf("version %s after recover: %+v", v.Version, v)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestErrorsForAdministrators: what Google answers becomes an error kind
// and a reason an administrator can act on.
func TestErrorsForAdministrators(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	fake.Deny("cloudkms.cryptoKeyVersions.destroy")
	_, err := p.Delete(ctx, "europe-west1/ring/k")
	if !errors.Is(err, cloud.ErrAccess) || !strings.Contains(err.Error(), "lacks IAM permission cloudkms.cryptoKeyVersions.destroy") {
		t.Errorf("denied destroy: %v", err)
	}
	fake.Allow("cloudkms.cryptoKeyVersions.destroy")
	if _, err := p.Get(ctx, "europe-west1/ring/nope", ""); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := p.Recover(ctx, "europe-west1/ring/k"); !errors.Is(err, cloud.ErrConflict) {
		t.Errorf("recover of a live key: %v", err)
	}
	if err := p.Purge(ctx, "europe-west1/ring/k"); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "never deleted") {
		t.Errorf("purge: %v", err)
	}
	if _, err := p.SetRotationPolicy(ctx, "europe-west1/ring/k", cloud.RotationPolicy{RotateAfter: engine.Duration(time.Hour)}); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("hourly rotation: %v", err)
	}
	// Another project: Google answers PermissionDenied, whether it
	// exists or not.
	_, other := startFake(t, Settings{Project: "someone-else", Locations: []string{"europe-west1"}})
	err = other.ListKeys(ctx, func([]cloud.KeyVersion) error { return nil })
	if !errors.Is(err, cloud.ErrAccess) || !strings.Contains(err.Error(), "cloudkms.keyRings.list") {
		t.Errorf("a project the identity cannot see: %v", err)
	}
}
