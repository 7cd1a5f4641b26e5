package aws

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// TestImportProvesTheMaterial: material imported through keyward is the
// key AWS (local-kms) encrypts with: data encrypted through KMS decrypts
// with the material keyward held.
func TestImportProvesTheMaterial(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	material := randomAES(t)
	expires := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	kv, err := a.Import(ctx, cloud.ImportRequest{Name: "byok", Symmetric: material, Expires: &expires, Tags: map[string]string{cloud.TagApplication: "payments"}})
	if err != nil {
		t.Fatal(err)
	}
	if kv.Tags[TagOrigin] != "EXTERNAL" || kv.Tags[TagState] != "Enabled" || kv.Tags[TagAliases] != "byok" || kv.Expires == nil || !kv.Expires.Equal(expires) {
		t.Errorf("imported key: %+v", kv)
	}
	if !slices.Contains(lk.Stood(), "WrappingKeySpec RSA_4096→RSA_2048") {
		t.Errorf("keyward did not ask for a 4096-bit wrapping key: %v", lk.Stood())
	}
	secret := []byte("4111 1111 1111 1111")
	enc, err := a.client.Encrypt(ctx, &kms.EncryptInput{KeyId: sdkaws.String("alias/byok"), Plaintext: secret})
	if err != nil {
		t.Fatal(err)
	}
	// local-kms's ciphertext: ident length, ident, 4-byte key version,
	// then AES-GCM nonce and sealed data.
	b := enc.CiphertextBlob
	n := int(b[0])
	if len(b) < 1+n+4+12 || !strings.HasSuffix(string(b[1:1+n]), kv.Name) || binary.LittleEndian.Uint32(b[1+n:]) != 0 {
		t.Fatalf("unexpected local-kms ciphertext layout")
	}
	blk, _ := aes.NewCipher(material)
	gcm, _ := cipher.NewGCM(blk)
	body := b[1+n+4:]
	got, err := gcm.Open(nil, body[:12], body[12:], nil)
	if err != nil || string(got) != string(secret) {
		t.Fatalf("the material keyward imported does not decrypt what KMS encrypted: %v", err)
	}

	// Wrong sizes are refused before any request.
	importRefused(t, a, cloud.ImportRequest{Name: "short", Symmetric: make([]byte, 16)}, "256-bit symmetric material (got 128 bits)")
}

// importRefused checks that a refuses to import r as invalid, with an
// error naming want, before any request creates a key.
func importRefused(t *testing.T, a *Account, r cloud.ImportRequest, want string) {
	t.Helper()
	before := a.Calls()["CreateKey"]
	if _, err := a.Import(context.Background(), r); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("import of %s in %s: %v, want it refused naming %q", r.Name, a.partition, err, want)
	}
	if a.Calls()["CreateKey"] != before {
		t.Error("a refused import created a key")
	}
}

// TestImportAsymmetricProvesTheMaterial: RSA and EC private keys are
// imported with RSA_AES_KEY_WRAP_SHA_256 (the stand-in in front of
// local-kms unwraps them as AWS does and hands the material to
// local-kms's own key: local-kms imports only symmetric material), and
// what local-kms then encrypts and signs opens and verifies with the key
// keyward held. Deleting the material leaves the key pending import;
// the copy keyward kept re-imports it, and other material is refused.
func TestImportAsymmetricProvesTheMaterial(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()

	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	ir := cloud.ImportRequest{Name: "rsa-byok", Private: rk, Expires: &expires}
	kv, err := a.Import(ctx, ir)
	if err != nil {
		t.Fatal(err)
	}
	if kv.Tags[TagOrigin] != "EXTERNAL" || kv.Tags[TagSpec] != "RSA_2048" || kv.Tags[TagUsage] != "ENCRYPT_DECRYPT" || kv.Tags[TagState] != "Enabled" ||
		kv.Expires == nil || !kv.Expires.Equal(expires) {
		t.Fatalf("imported RSA key: %+v", kv)
	}
	if w := lk.wrapping[kv.Name]; w != "RSA_AES_KEY_WRAP_SHA_256" {
		t.Errorf("RSA material wrapped with %q", w)
	}
	secret := []byte("wire transfer 4711")
	enc, err := a.client.Encrypt(ctx, &kms.EncryptInput{KeyId: sdkaws.String(kv.Name), Plaintext: secret, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rsa.DecryptOAEP(sha256.New(), nil, rk, enc.CiphertextBlob, nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("what local-kms encrypted with the imported RSA key does not open with keyward's key: %v", err)
	}

	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ekv, err := a.Import(ctx, cloud.ImportRequest{Name: "ec-byok", Private: ek})
	if err != nil {
		t.Fatal(err)
	}
	if ekv.Tags[TagSpec] != "ECC_NIST_P384" || ekv.Tags[TagUsage] != "SIGN_VERIFY" || ekv.Expires != nil {
		t.Fatalf("imported EC key: %+v", ekv)
	}
	sign := func() {
		t.Helper()
		digest := sha512.Sum384([]byte("release v1.2.3"))
		sig, err := a.client.Sign(ctx, &kms.SignInput{KeyId: sdkaws.String(ekv.Name), Message: digest[:], MessageType: types.MessageTypeDigest,
			SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(&ek.PublicKey, digest[:], sig.Signature) {
			t.Fatal("local-kms's signature with the imported EC key does not verify with keyward's key")
		}
	}
	sign()

	// Delete the material: the key stays, pending import, and signs no more.
	blob, err := a.KeepMaterial(ekv, cloud.ImportRequest{Name: "ec-byok", Private: ek})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := a.DeleteMaterial(ctx, "ec-byok")
	if err != nil {
		t.Fatal(err)
	}
	if gone.Tags[TagState] != "PendingImport" || gone.Enabled {
		t.Fatalf("after DeleteImportedKeyMaterial: %+v", gone)
	}
	if _, err := a.client.Sign(ctx, &kms.SignInput{KeyId: sdkaws.String(ekv.Name), Message: make([]byte, 48), MessageType: types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384}); err == nil {
		t.Fatal("a key without material signed")
	}
	// Re-import the kept copy into the same key: it signs again.
	back, err := a.Restore(ctx, blob)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != ekv.Name || back.Tags[TagState] != "Enabled" {
		t.Fatalf("after re-import: %+v", back)
	}
	sign()
	// Other material is refused, as AWS refuses it.
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	wrong, _ := a.KeepMaterial(ekv, cloud.ImportRequest{Name: "ec-byok", Private: other})
	if _, err := a.DeleteMaterial(ctx, ekv.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Restore(ctx, wrong); !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "only the key material this key was made with") {
		t.Errorf("re-import of other material: %v", err)
	}

	// An AWS-generated key has neither a backup nor material to delete,
	// and says so on the key itself.
	native, err := a.Create(ctx, cloud.CreateRequest{Name: "native", Type: "oct"})
	if err != nil {
		t.Fatal(err)
	}
	if why := native.Tags[engine.TagUnsupported+engine.CapBackup]; !strings.Contains(why, "not supported: AWS cannot export key material") {
		t.Errorf("AWS-generated key's backup capability: %q", why)
	}
	if kv.Tags[engine.TagUnsupported+engine.CapBackup] != "" {
		t.Errorf("an imported key says it cannot be backed up")
	}
	if _, err := a.DeleteMaterial(ctx, "native"); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "origin is AWS_KMS") {
		t.Errorf("delete material of an AWS_KMS key: %v", err)
	}
	if _, err := a.Backup(ctx, "native"); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "AWS cannot export key material") {
		t.Errorf("backup of an AWS key: %v", err)
	}

	// Asymmetric material is refused in aws-cn before any request.
	cn := *a
	cn.partition = PartitionChina
	importRefused(t, &cn, cloud.ImportRequest{Name: "cn", Private: rk}, "aws-cn partition imports only 128-bit symmetric")
}

// TestReimportSymmetric: local-kms itself deletes imported symmetric
// material and takes the same material again (no stand-in here).
func TestReimportSymmetric(t *testing.T) {
	a, _ := newLocal(t)
	ctx := context.Background()
	kv, blob := importKept(t, a, cloud.ImportRequest{Name: "sym-byok", Symmetric: randomAES(t)})
	if _, err := a.DeleteMaterial(ctx, "sym-byok"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.Encrypt(ctx, &kms.EncryptInput{KeyId: sdkaws.String(kv.Name), Plaintext: []byte("x")}); err == nil {
		t.Fatal("local-kms encrypted with a key whose material was deleted")
	}
	back, err := a.Restore(ctx, blob)
	if err != nil {
		t.Fatal(err)
	}
	if back.Tags[TagState] != "Enabled" {
		t.Fatalf("after re-import: %+v", back)
	}
	if _, err := a.client.Encrypt(ctx, &kms.EncryptInput{KeyId: sdkaws.String(kv.Name), Plaintext: []byte("x")}); err != nil {
		t.Fatalf("after re-import: %v", err)
	}
}

// TestUnsupportedTagsStayInKeyward: the per-key capability tags keyward
// shows (keyward:unsupported:…) are never written to AWS when an
// administrator edits a key's tags from what keyward shows, and a tag of
// that name set in AWS by someone else does not pass for keyward's.
func TestUnsupportedTagsStayInKeyward(t *testing.T) {
	a, _ := newLocal(t)
	ctx := context.Background()
	// Tags copied from another key as keyward shows it.
	kv, err := a.Create(ctx, cloud.CreateRequest{Name: "native-tags", Type: "oct", Tags: map[string]string{engine.TagUnsupported + engine.CapBackup: "copied"}})
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(kv.Tags) // as keyward shows it, keyward:unsupported:… included
	want["owner"] = "payments"
	if _, err := a.Update(ctx, kv.Name, "", cloud.Update{Tags: want}); err != nil {
		t.Fatal(err)
	}
	out, err := a.client.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: sdkaws.String(kv.Name)})
	if err != nil {
		t.Fatal(err)
	}
	var inAWS []string
	for _, tg := range out.Tags {
		if *tg.TagKey == TagCreateRequest {
			continue // keyward's mark of the CreateKey that made it (kept, not shown)
		}
		inAWS = append(inAWS, *tg.TagKey+"="+*tg.TagValue)
	}
	if len(inAWS) != 1 || inAWS[0] != "owner=payments" {
		t.Errorf("tags in AWS: %v (want only owner=payments and keyward's create mark)", inAWS)
	}
	// Someone tags an imported key in AWS as if it could not be backed up.
	material := randomAES(t)
	imp, err := a.Import(ctx, cloud.ImportRequest{Name: "spoofed", Symmetric: material})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.TagResource(ctx, &kms.TagResourceInput{KeyId: sdkaws.String(imp.Name),
		Tags: []types.Tag{{TagKey: sdkaws.String(engine.TagUnsupported + engine.CapBackup), TagValue: sdkaws.String("no")}}}); err != nil {
		t.Fatal(err)
	}
	a.view.invalidate(imp.Name)
	got, err := a.Get(ctx, imp.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	if why := got.Tags[engine.TagUnsupported+engine.CapBackup]; why != "" {
		t.Errorf("an AWS tag passed for keyward's capability limit: %q", why)
	}
}

// importKept uploads ir's material to a and returns the key made and the
// sealed copy keyward keeps of the material (KeepMaterial), as an upload
// through the daemon does.
func importKept(t *testing.T, a *Account, ir cloud.ImportRequest) (cloud.KeyVersion, []byte) {
	t.Helper()
	kv, err := a.Import(context.Background(), ir)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := a.KeepMaterial(kv, ir)
	if err != nil {
		t.Fatal(err)
	}
	return kv, blob
}

// randomAES is 32 random bytes: AES-256 material to upload.
func randomAES(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
