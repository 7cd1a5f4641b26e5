package aws_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// TestUploadInterruptedAfterImport: an upload stopped between AWS's
// ImportKeyMaterial and keeping keyward's copy (as kill -9 would) leaves
// a pending upload copy sealed in the database; a manager started again
// on the same database settles it as the key's backup, and restoring that
// backup after the material is deleted re-imports the same material (the
// key signs what verifies with the uploaded key). No plaintext reaches
// SQLite. An upload AWS refuses leaves no pending copy.
func TestUploadInterruptedAfterImport(t *testing.T) {
	ctx := context.Background()
	lk := aws.StartLocalKMS(t)
	dir := t.TempDir()
	keysFile := aws.WriteStaticKeys(t, dir)
	k := cloudtest.KEK(t)
	dbPath := filepath.Join(dir, "data", "keyward.db")
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		t.Fatal(err)
	}
	start := func() (*cloud.Manager, *store.Store) {
		t.Helper()
		acct, err := aws.New(ctx, aws.Settings{Name: "aws-prod", Region: aws.TestRegion, StaticKeysFile: keysFile, Endpoint: lk.URL}, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := storetest.Open(t, dbPath)
		src := cloud.NewSyncSource("aws-prod", acct, 0, nil)
		src.Attach(cloudtest.Discard{})
		return cloud.NewManager(st, k, src), st
	}

	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})
	m, st := start()
	stop := errors.New("killed between the import and keeping the copy")
	m.AfterImport = func(string, string) error { return stop }
	alice := cloud.Caller{User: "alice"}
	if _, err := m.Upload(ctx, alice, "aws-prod", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "signing-byok", Tags: map[string]string{aws.TagUsage: "SIGN_VERIFY"}}, Material: bytes.Clone(pemKey)}); !errors.Is(err, stop) {
		t.Fatalf("upload: %v", err)
	}
	if pend, err := st.Sealed(ctx, cloud.PendingKind); err != nil || len(pend) != 1 {
		t.Fatalf("pending copies after the stop: %d %v", len(pend), err)
	}
	// An upload AWS refuses drops its pending copy: nothing to recover.
	lk.SetFail(func(target string) string {
		if strings.HasSuffix(target, "ImportKeyMaterial") {
			return "KMSInternalException"
		}
		return ""
	})
	if _, err := m.Upload(ctx, alice, "aws-prod", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: "refused-byok", Tags: map[string]string{aws.TagUsage: "SIGN_VERIFY"}}, Material: bytes.Clone(pemKey)}); err == nil || errors.Is(err, stop) {
		t.Fatalf("upload refused by AWS: %v", err)
	}
	lk.SetFail(nil)
	if pend, _ := st.Sealed(ctx, cloud.PendingKind); len(pend) != 1 {
		t.Fatalf("a refused upload left its pending copy: %d copies", len(pend))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The daemon starts again on the same database.
	m, st = start()
	defer st.Close()
	bs, err := m.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Pending != "" || bs[0].Kind != "aws" {
		t.Fatalf("backups after the restart: %+v", bs)
	}
	if pend, _ := st.Sealed(ctx, cloud.PendingKind); len(pend) != 0 {
		t.Fatalf("the settled pending copy stayed: %d", len(pend))
	}
	keyID := bs[0].Key
	if _, err := m.DeleteMaterial(ctx, alice, "aws-prod", keyID, keyID); err != nil {
		t.Fatal(err)
	}
	kmsClient := lk.Client()
	digest := sha256.Sum256([]byte("invoice 2026-0043"))
	signIn := &awskms.SignInput{KeyId: sdkaws.String(keyID), Message: digest[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256}
	if _, err := kmsClient.Sign(ctx, signIn); err == nil {
		t.Fatal("a key without material signed")
	}
	if _, err := m.Restore(ctx, alice, bs[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	sig, err := kmsClient.Sign(ctx, signIn)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&rk.PublicKey, crypto.SHA256, digest[:], sig.Signature, nil); err != nil {
		t.Fatalf("the restored key's signature does not verify with the uploaded key: %v", err)
	}

	// No plaintext in any database file.
	p8, _ := x509.MarshalPKCS8PrivateKey(rk)
	cloudtest.NoPlaintext(t, dbPath+"*", pemKey, p8, rk.D.Bytes())
}
