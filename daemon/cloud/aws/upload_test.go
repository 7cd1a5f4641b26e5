package aws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/engine"
)

// TestUploadFromKMIPRing: `keyward key upload --from-source --from-app`
// takes the newest generation of a KMIP ring (the embedded KMS over
// mutual TLS) and imports it into AWS KMS as a key of origin EXTERNAL,
// linked to the ring key it came from.
func TestUploadFromKMIPRing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	lk := aws.StartLocalKMS(t)
	dir := t.TempDir()
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(dir, "kms"), Apps: kms.DemoApps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	kekFile := filepath.Join(dir, "kek")
	if err := kek.Generate(kekFile); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf(`data_dir = %q
socket = %q

[keys]
kek_file = %q

[[aws]]
name = "aws-prod"
region = %q
static_keys_file = %q
endpoint = %q
`, filepath.Join(dir, "data"), filepath.Join(dir, "k.sock"), kekFile, aws.TestRegion, aws.WriteStaticKeys(t, dir), lk.URL)
	path := filepath.Join(dir, "keyward.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KMIP = append(cfg.KMIP, srv.SourceConfig("kms", time.Hour))
	sock := daemontest.Start(t, cfg, daemon.Options{})
	kw := func(args ...string) string {
		t.Helper()
		code, out, errs := run(sock, args...)
		if code != cli.ExitOK {
			t.Fatalf("keyward %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	kw("sync")
	kw("key", "upload", "aws-prod", "crm-byok", "--from-source", "kms", "--from-app", "crm")
	var l cli.KeysListJSON
	if err := json.Unmarshal([]byte(kw("keys", "list", "--source", "aws-prod", "--json")), &l); err != nil || len(l.Keys) != 1 {
		t.Fatalf("aws keys after upload: %+v %v", l, err)
	}
	k := l.Keys[0]
	if k.Tags[aws.TagOrigin] != "EXTERNAL" || k.Tags[aws.TagAliases] != "crm-byok" || k.State != engine.StateActive ||
		k.LinkedTo != "kms/acme.crm.key.5" || k.Application != "crm" {
		t.Errorf("the uploaded key: %+v", k)
	}
}
