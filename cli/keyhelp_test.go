package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/cloud"
)

// TestKeyHelpNamesEveryCloud: `keyward key --help` says which sections of
// keyward.toml a SOURCE may be, so it names every connector kind this
// build registers (it named [[azure]] and [[aws]] only, after Google Cloud
// KMS had come), and `key create` offers its types for every cloud that
// creates them.
func TestKeyHelpNamesEveryCloud(t *testing.T) {
	kinds := cloud.Kinds()
	if len(kinds) < 3 {
		t.Fatalf("only %v registered: this build should have azure, aws and gcp", kinds)
	}
	help := func(args ...string) string {
		var out bytes.Buffer
		root := NewRoot(&App{Out: &out, Err: &out})
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(args, "--help"))
		if err := root.Execute(); err != nil {
			t.Fatalf("keyward %s --help: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	key := help("key")
	for _, k := range kinds {
		if !strings.Contains(key, "[["+k+"]]") {
			t.Errorf("keyward key --help does not name [[%s]] among the sources:\n%s", k, key)
		}
	}
	create := help("key", "create")
	for _, want := range []string{"oct", "HMAC", "Google", "europe-west1/payments/card-kek"} {
		if !strings.Contains(create, want) {
			t.Errorf("keyward key create --help does not say %q:\n%s", want, create)
		}
	}
}
