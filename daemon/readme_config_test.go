package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/config"
)

// TestREADMEConfigIsValid keeps the configuration reference honest: every
// TOML example in the README, put together, is a config the daemon accepts.
// It lives here, where every connector kind is linked in (connectors.go),
// so each cloud section in the README parses with its connector's settings.
func TestREADMEConfigIsValid(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, part := range strings.Split(string(b), "```toml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		all.WriteString(block + "\n")
	}
	if all.Len() == 0 {
		t.Fatal("the README has no TOML examples")
	}
	p := filepath.Join(t.TempDir(), "keyward.toml")
	os.WriteFile(p, []byte(all.String()), 0o600)
	c, err := config.Load(p)
	if err != nil {
		t.Fatalf("the README's configuration is refused: %v", err)
	}
	if len(c.KMIP) == 0 || len(c.Proxy.Apps) == 0 {
		t.Fatalf("the README's example lost a section: %d kmip, %d proxy apps", len(c.KMIP), len(c.Proxy.Apps))
	}
	for _, kind := range config.SectionNames() {
		if len(c.Sections[kind]) == 0 {
			t.Errorf("the README documents no [[%s]] section", kind)
		}
	}
}
