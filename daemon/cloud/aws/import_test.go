package aws

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud"
)

// TestImportProvesTheMaterial: material imported through keyward is the
// key AWS (local-kms) encrypts with: data encrypted through KMS decrypts
// with the material keyward held.
func TestImportProvesTheMaterial(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	material := make([]byte, 32)
	rand.Read(material)
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
	before := a.Calls()["CreateKey"]
	if _, err := a.Import(ctx, cloud.ImportRequest{Name: "short", Symmetric: make([]byte, 16)}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "256-bit symmetric material (got 128 bits)") {
		t.Errorf("128-bit import in aws: %v", err)
	}
	if a.Calls()["CreateKey"] != before {
		t.Error("a refused import created a key")
	}
}
