package aws_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/engine"
)

// TestUploadFromKMIPRing: `keyward key upload --from-source --from-app`
// takes the newest generation of a KMIP ring (the embedded KMS over
// mutual TLS) and imports it into AWS KMS as a key of origin EXTERNAL,
// linked to the ring key it came from.
func TestUploadFromKMIPRing(t *testing.T) {
	lk := aws.StartLocalKMS(t)
	dir := t.TempDir()
	cfg := awsConfig(t, dir, lk, "")
	daemontest.AddKMIPRings(t, cfg, dir)
	sock := daemontest.Start(t, cfg, daemon.Options{})
	kw := clitest.Runner(t, sock)
	kw("sync")
	kw("key", "upload", "aws-prod", "crm-byok", "--from-source", "kms", "--from-app", "crm")
	keys := clitest.Keys(t, sock, "aws-prod")
	if len(keys) != 1 {
		t.Fatalf("aws keys after upload: %+v", keys)
	}
	k := keys[0]
	if k.Tags[aws.TagOrigin] != "EXTERNAL" || k.Tags[aws.TagAliases] != "crm-byok" || k.State != engine.StateActive ||
		k.LinkedTo != "kms/acme.crm.key.5" || k.Application != "crm" {
		t.Errorf("the uploaded key: %+v", k)
	}
}

// TestUploadFileBackupRestore drives BYOK through the real daemon, socket
// and CLI against local-kms: an RSA key from a file (refused while others
// may read it) is uploaded; keyward keeps its sealed copy as the key's
// backup (listed, answered to `key backup`); deleting the imported
// material leaves the key disabled (pending import), and restoring the
// backup re-imports the same material into the same key, which then
// signs what verifies with the file's key. The material never reaches
// the database in plaintext. An AWS-generated key has no backup, and
// says so.
func TestUploadFileBackupRestore(t *testing.T) {
	lk, dir, sock, kw := awsDaemon(t, "")
	dataDir := filepath.Join(dir, "data")
	key := func(id string) engine.Key {
		t.Helper()
		keys := clitest.Keys(t, sock, "aws-prod")
		for _, k := range keys {
			if k.Name == id || k.Tags[aws.TagAliases] == id {
				return k
			}
		}
		t.Fatalf("no key %s in %+v", id, keys)
		return engine.Key{}
	}

	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der := x509.MarshalPKCS1PrivateKey(rk)
	keyFile := filepath.Join(dir, "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o640); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := clitest.Run(sock, "key", "upload", "aws-prod", "signing-byok", "--from-file", keyFile, "--tag", "aws:usage=SIGN_VERIFY"); code == cli.ExitOK || !strings.Contains(errs, "has mode 0640: it holds key material, chmod 600 it") {
		t.Fatalf("a key file others can read: exit %d %q", code, errs)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	out := kw("key", "upload", "aws-prod", "signing-byok", "--from-file", keyFile, "--tag", "aws:usage=SIGN_VERIFY")
	if !strings.Contains(out, "uploaded RSA 2048") || !strings.Contains(out, "from a key file") || !strings.Contains(out, "keyward keeps its sealed copy of the material as backup ") {
		t.Fatalf("upload: %s", out)
	}
	k := key("signing-byok")
	if k.Tags[aws.TagOrigin] != "EXTERNAL" || k.Tags[aws.TagUsage] != "SIGN_VERIFY" || k.State != engine.StateActive || k.Unsupported(engine.CapBackup) != "" {
		t.Fatalf("uploaded key: %+v", k)
	}
	var bl struct{ Backups []api.BackupInfo }
	if err := json.Unmarshal([]byte(kw("key", "backups", "--json")), &bl); err != nil || len(bl.Backups) != 1 || bl.Backups[0].Key != k.Name || bl.Backups[0].Kind != "aws" {
		t.Fatalf("backups after upload: %+v %v", bl, err)
	}
	backupID := bl.Backups[0].ID
	// `key backup` of an uploaded key answers with the copy kept.
	if out := kw("key", "backup", "aws-prod", k.Name); !strings.Contains(out, backupID) {
		t.Errorf("backup of an uploaded key: %s", out)
	}

	// Delete the material: the key stays, disabled, and signs nothing.
	kw("key", "delete-material", "aws-prod", k.Name, "--confirm", k.Name)
	if k2 := key(k.Name); k2.State != engine.StateDisabled || k2.Tags[aws.TagState] != "PendingImport" {
		t.Fatalf("after delete-material: %+v", k2)
	}
	kmsClient := lk.Client()
	digest := sha256.Sum256([]byte("invoice 2026-0042"))
	signIn := &awskms.SignInput{KeyId: sdkaws.String(k.Name), Message: digest[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256}
	if _, err := kmsClient.Sign(context.Background(), signIn); err == nil {
		t.Fatal("a key without material signed")
	}
	// Restore re-imports the kept copy into the same key.
	if out := kw("key", "restore", backupID); !strings.Contains(out, "restored from backup "+backupID) {
		t.Errorf("restore: %s", out)
	}
	if k3 := key(k.Name); k3.State != engine.StateActive {
		t.Fatalf("after restore: %+v", k3)
	}
	sig, err := kmsClient.Sign(context.Background(), signIn)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&rk.PublicKey, crypto.SHA256, digest[:], sig.Signature, nil); err != nil {
		t.Fatalf("the restored key's signature does not verify with the file's key: %v", err)
	}

	// An AWS-generated key: no backup, in the daemon's words.
	kw("key", "create", "aws-prod", "native", "--type", "oct")
	if code, _, errs := clitest.Run(sock, "key", "backup", "aws-prod", "native"); code == cli.ExitOK || !strings.Contains(errs, "not supported by this cloud: AWS cannot export key material") {
		t.Errorf("backup of an AWS-generated key: exit %d %q", code, errs)
	}

	// The material is in no database file in plaintext (the backup is
	// sealed under the KEK).
	p8, _ := x509.MarshalPKCS8PrivateKey(rk)
	cloudtest.NoPlaintext(t, filepath.Join(dataDir, "*"), der, p8, rk.D.Bytes())
}
