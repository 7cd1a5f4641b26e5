package cloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

func TestProblems(t *testing.T) {
	p := NewProblems("aws[1]")
	p.SyncInterval(engine.Duration(5 * time.Second))
	p.SyncInterval(engine.Duration(10 * time.Second))
	p.SyncInterval(0)
	p.FullRefreshEvery(-1)
	p.FullRefreshEvery(0)
	p.HTTPSProxy("socks5://proxy:1080")
	p.HTTPSProxy("http://proxy.example.com:3128")
	p.HTTPSProxy("")
	want := []string{
		"aws[1].sync_interval: 5s is too short (at least 10s; default 15m)",
		"aws[1].full_refresh_every: must not be negative (default 12)",
		`aws[1].https_proxy: "socks5://proxy:1080" is not a proxy URL (http://proxy.example.com:3128)`,
	}
	if strings.Join(p.List, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(p.List, "\n"), strings.Join(want, "\n"))
	}
	if SyncEvery(0) != DefaultSyncInterval || SyncEvery(engine.Duration(time.Minute)) != time.Minute {
		t.Fatal("SyncEvery")
	}
}

func TestReadPrivateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := os.WriteFile(path, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadPrivateFile("static_keys_file", path, "a secret access key")
	if err == nil || err.Error() != "static_keys_file "+path+" has mode 0644: it holds a secret access key, chmod 600 it" {
		t.Fatalf("group-readable file: %v", err)
	}
	if b, err := ReadPrivateFile("credentials_file", path, ""); err != nil || string(b) != "secret" {
		t.Fatalf("no mode check asked: %q %v", b, err)
	}
	os.Chmod(path, 0o600)
	if b, err := ReadPrivateFile("static_keys_file", path, "a secret access key"); err != nil || string(b) != "secret" {
		t.Fatalf("mode 0600: %q %v", b, err)
	}
	if _, err := ReadPrivateFile("static_keys_file", filepath.Join(dir, "none"), "x"); err == nil || !strings.HasPrefix(err.Error(), "static_keys_file: ") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCredentialKind: the credential a section names wins; else the first
// set key implies one; else the SDK's default chain.
func TestCredentialKind(t *testing.T) {
	implied := []Implied{{"", "static"}, {"/p", "profile"}, {"/t", "token"}}
	for _, c := range []struct {
		named   string
		implied []Implied
		want    string
	}{
		{"managed-identity", implied, "managed-identity"},
		{"", implied, "profile"},
		{"", implied[:1], CredDefault},
		{"", nil, "default"},
	} {
		if got := CredentialKind(c.named, c.implied...); got != c.want {
			t.Errorf("CredentialKind(%q, %v) = %q, want %q", c.named, c.implied, got, c.want)
		}
	}
}
