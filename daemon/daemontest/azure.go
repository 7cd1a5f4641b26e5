package daemontest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/daemon/cloud/azure"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/kek"
)

// AzureVault starts an emulated Azure Key Vault holding keys until the
// test ends and adds to cfg an [[azure]] section called name pointing at
// it (the real azkeys client, over HTTPS on 127.0.0.1).
func AzureVault(t testing.TB, cfg *config.Config, name string, keys ...vault.KeySpec) *vault.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := vault.Start(ctx, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, k := range keys {
		if err := srv.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	caFile, tokenFile, err := srv.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	az := azure.EmulatorSettings(name, srv.URL, caFile, tokenFile, srv.Geography())
	cfg.AddSource("azure", &az)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return srv
}

// WithKEK gives cfg a new key-encryption key (keys.kek_file), so the
// daemon can keep backups.
func WithKEK(t testing.TB, cfg *config.Config) {
	t.Helper()
	cfg.Keys.KEKFile = filepath.Join(t.TempDir(), "kek")
	if err := kek.Generate(cfg.Keys.KEKFile); err != nil {
		t.Fatal(err)
	}
}
