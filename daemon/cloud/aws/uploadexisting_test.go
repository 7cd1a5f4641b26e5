package aws_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/engine"
)

// TestUploadOverAnExistingAliasCreatesNothing: an upload whose name is an
// alias already in use is refused before anything is made, as create is.
// It used to create the key (origin EXTERNAL, pending import) and then
// fail on the alias: every retry left another key in the account, pending
// import forever (and billed), named by no alias.
func TestUploadOverAnExistingAliasCreatesNothing(t *testing.T) {
	_, dir, sock, kw := awsDaemon(t, "full_refresh_every = 1\n")
	kw("key", "create", "aws-prod", "payments", "--type", "oct")
	material := filepath.Join(dir, "material.bin")
	if err := os.WriteFile(material, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		code, out, errs := clitest.Run(sock, "key", "upload", "aws-prod", "payments", "--from-file", material)
		if code != cli.ExitError || !strings.Contains(errs, "already exists") {
			t.Errorf("upload over the alias payments: exit %d %s%s, want 1 saying it exists", code, out, errs)
		}
	}
	kw("sync", "--source", "aws-prod")
	keys := clitest.Keys(t, sock, "aws-prod")
	if len(keys) != 1 {
		for _, k := range keys {
			t.Logf("%s %s %v", k.ID, k.State, k.Tags[aws.TagState])
		}
		t.Fatalf("%d keys in the account after two refused uploads, want the one created", len(keys))
	}
	if keys[0].State != engine.StateActive || keys[0].Tags[aws.TagAliases] != "payments" {
		t.Errorf("the key %+v", keys[0])
	}
	if out := kw("key", "backups"); strings.Contains(out, "pending") {
		t.Errorf("a refused upload left a pending copy:\n%s", out)
	}

	// Three uploads of one new name at once: one gets the alias; the keys
	// the others made for it are scheduled for deletion, none is left
	// pending import.
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = clitest.Run(sock, "key", "upload", "aws-prod", "twins", "--from-file", material)
		}()
	}
	// And three creates of another new name: the keys made for the alias
	// another got are scheduled for deletion, none stays enabled unnamed.
	created := make([]int, 3)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created[i], _, _ = clitest.Run(sock, "key", "create", "aws-prod", "triplets", "--type", "oct")
		}()
	}
	wg.Wait()
	kw("sync", "--source", "aws-prod")
	if n := strings.Count(fmt.Sprint(created), "0"); n != 1 {
		t.Errorf("create exit codes %v, want one done", created)
	}
	for _, k := range clitest.Keys(t, sock, "aws-prod") {
		if k.Tags[aws.TagAliases] == "" && k.State != engine.StateDeleted {
			t.Errorf("%s (%s) is left in the account named by no alias", k.ID, k.State)
		}
	}
	ok := 0
	for _, c := range codes {
		if c == cli.ExitOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("exit codes %v, want one upload done", codes)
	}
	for _, k := range clitest.Keys(t, sock, "aws-prod") {
		if k.Tags[aws.TagState] == "PendingImport" {
			t.Errorf("%s is left pending import (aliases %q)", k.ID, k.Tags[aws.TagAliases])
		}
	}
}
