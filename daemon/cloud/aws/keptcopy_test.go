package aws_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/engine"
)

// TestImportedKeyWithoutKeptCopySaysSo: an imported (EXTERNAL) key whose
// material someone else uploaded has no backup keyward could take — AWS
// exports nothing and keyward holds no copy — and its inventory row says
// so (keyward:unsupported:backup), so front ends leave the backup out
// before anyone confirms it; a key keyward uploaded, whose kept copy is
// its backup, does not. The daemon refuses the backup in the same words.
func TestImportedKeyWithoutKeptCopySaysSo(t *testing.T) {
	lk, dir, sock, kw := awsDaemon(t, "")
	ctx := context.Background()
	outside, err := aws.New(ctx, aws.LocalSettings(t, lk, "console"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outside.Import(ctx, cloud.ImportRequest{Name: "theirs-byok", Symmetric: []byte(strings.Repeat("t", 32))}); err != nil {
		t.Fatal(err)
	}
	material := filepath.Join(dir, "material.bin")
	if err := os.WriteFile(material, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	kw("key", "upload", "aws-prod", "ours-byok", "--from-file", material)
	kw("sync", "--source", "aws-prod")

	why := map[string]string{}
	for _, k := range clitest.Keys(t, sock, "aws-prod") {
		why[k.Tags[aws.TagAliases]] = k.Unsupported(engine.CapBackup)
	}
	if w, ok := why["theirs-byok"]; !ok || !strings.Contains(w, "keyward holds no copy") || !strings.Contains(w, "AWS cannot export") {
		t.Errorf("key imported outside keyward: backup limit %q (present %v), want it to say keyward holds no copy", w, ok)
	}
	if w, ok := why["ours-byok"]; !ok || w != "" {
		t.Errorf("key keyward uploaded: backup limit %q (present %v), want none (its kept copy is the backup)", w, ok)
	}
	if out := kw("key", "backup", "aws-prod", "ours-byok"); !strings.Contains(out, "backup") {
		t.Errorf("backup of the key keyward uploaded:\n%s", out)
	}
	code, _, errs := clitest.Run(sock, "key", "backup", "aws-prod", "theirs-byok")
	if code == cli.ExitOK || !strings.Contains(errs, "cannot export key material") {
		t.Errorf("backup of a key keyward holds no copy of: exit %d %q", code, errs)
	}
}
