package config

import "github.com/keyward/keyward/engine"

// AzureSource is one [[azure]] section: an Azure Key Vault synchronised
// through azkeys. (Owned by the cloud work: extend here.)
type AzureSource struct {
	Name     string `toml:"name"`
	VaultURL string `toml:"vault_url"`
	// Cloud is public, usgovernment or china.
	Cloud        string          `toml:"cloud"`
	TenantID     string          `toml:"tenant_id"`
	ClientID     string          `toml:"client_id"`
	SecretFile   string          `toml:"client_secret_file"`
	CertFile     string          `toml:"client_cert_file"`
	Credential   string          `toml:"credential"`
	SyncInterval engine.Duration `toml:"sync_interval"`
	CAFile       string          `toml:"ca_file"`
}

func (a *AzureSource) validate(prefix string) []string {
	var errs []string
	if a.VaultURL == "" {
		errs = append(errs, prefix+".vault_url: is required (e.g. https://myvault.vault.azure.net)")
	}
	return errs
}
