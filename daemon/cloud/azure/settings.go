package azure

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Settings is one [[azure]] section: an Azure Key Vault synchronised
// through azkeys. It registers itself with the connector (setup.go), so
// daemon/config knows nothing of Azure.
type Settings struct {
	Name     string `toml:"name"`
	VaultURL string `toml:"vault_url"`
	// Cloud is public (default), usgovernment or china: it picks the login
	// authority and the vault suffix vault_url must end with.
	Cloud    string `toml:"cloud"`
	TenantID string `toml:"tenant_id"`
	ClientID string `toml:"client_id"`
	// SecretFile holds the client secret (mode 0600).
	SecretFile string `toml:"client_secret_file"`
	// CertFile holds the client certificate and its unencrypted key (PEM).
	CertFile string `toml:"client_cert_file"`
	// Credential is client-secret, client-certificate, managed-identity,
	// default (azidentity's chain) or emulator; empty picks from the files
	// given.
	Credential   string          `toml:"credential"`
	SyncInterval engine.Duration `toml:"sync_interval"`
	// CAFile adds trusted roots for the vault's TLS certificate.
	CAFile string `toml:"ca_file"`
	// TokenFile holds the bearer token of the emulated vault (credential
	// "emulator", loopback vault_url only).
	TokenFile string `toml:"token_file"`
	// Geography names the region group (e.g. "europe"): backups restore
	// only into a vault of the same cloud and geography.
	Geography string `toml:"geography"`
}

// EmulatorSettings is the [[azure]] section that points keyward at an
// emulated vault on a loopback url (keyward demo, tests): the emulator
// credential with its token file, and its CA certificate.
func EmulatorSettings(name, url, caFile, tokenFile, geography string) Settings {
	return Settings{Name: name, VaultURL: url, Credential: CredEmulator, TokenFile: tokenFile, CAFile: caFile,
		Geography: geography, SyncInterval: engine.Duration(time.Minute)}
}

// Azure credential kinds.
const (
	CredSecret          = "client-secret"
	CredCertificate     = "client-certificate"
	CredManagedIdentity = "managed-identity"
	CredDefault         = cloud.CredDefault
	CredEmulator        = "emulator"
)

// vaultSuffixes lists each cloud's key vault and managed HSM suffixes.
var vaultSuffixes = map[string][]string{
	"public":       {"vault.azure.net", "managedhsm.azure.net"},
	"usgovernment": {"vault.usgovcloudapi.net"},
	"china":        {"vault.azure.cn"},
}

// CloudName normalises a cloud name: "" and "azure" mean public.
func CloudName(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "public", "azure", "azurecloud":
		return "public", nil
	case "usgovernment", "usgov", "us-government", "azureusgovernment":
		return "usgovernment", nil
	case "china", "azurechina", "azurechinacloud":
		return "china", nil
	}
	return "", fmt.Errorf("cloud %q is not public, usgovernment or china", s)
}

// CredentialKind is the credential the section uses.
func (a *Settings) CredentialKind() string {
	return cloud.CredentialKind(a.Credential, cloud.Implied{Value: a.SecretFile, Kind: CredSecret},
		cloud.Implied{Value: a.CertFile, Kind: CredCertificate}, cloud.Implied{Value: a.TokenFile, Kind: CredEmulator})
}

// Interval is the sync interval (default 15 minutes).
func (a *Settings) Interval() time.Duration { return cloud.SyncEvery(a.SyncInterval) }

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// SourceName is the section's name.
func (a *Settings) SourceName() string { return a.Name }

// Validate checks the section's values; problems are prefixed with prefix.
func (a *Settings) Validate(prefix string) []string {
	p := cloud.NewProblems(prefix)
	add := p.Add
	cloudName, err := CloudName(a.Cloud)
	if err != nil {
		add("cloud", "%v", err)
		cloudName = "public"
	}
	loopback := false
	if a.VaultURL == "" {
		add("vault_url", "is required (e.g. https://myvault.vault.azure.net)")
	} else if u, err := url.Parse(a.VaultURL); err != nil || u.Host == "" {
		add("vault_url", "%q is not a URL (e.g. https://myvault.vault.azure.net)", a.VaultURL)
	} else {
		host := u.Hostname()
		loopback = cloud.IsLoopback(host)
		switch {
		case u.Scheme != "https":
			add("vault_url", "%q must use https", a.VaultURL)
		case u.Path != "" && u.Path != "/":
			add("vault_url", "%q must not have a path (the vault's base URL only)", a.VaultURL)
		case loopback:
			if a.CredentialKind() != CredEmulator {
				add("vault_url", "a loopback vault (%s) is the emulator: use credential = \"emulator\" with token_file", host)
			}
		default:
			ok := false
			for _, suf := range vaultSuffixes[cloudName] {
				if strings.HasSuffix(host, "."+suf) {
					ok = true
				}
			}
			if !ok {
				hint := ""
				for other, sufs := range vaultSuffixes {
					for _, suf := range sufs {
						if strings.HasSuffix(host, "."+suf) {
							hint = fmt.Sprintf("; %s is a vault of the %s cloud, set cloud = %q", host, other, other)
						}
					}
				}
				add("vault_url", "host %s does not end with the %s cloud's vault suffix %s%s", host, cloudName, strings.Join(vaultSuffixes[cloudName], " or "), hint)
			}
		}
	}
	needTenantClient := func() {
		if !guidRE.MatchString(a.TenantID) {
			add("tenant_id", "needs the directory (tenant) GUID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47 (got %q)", a.TenantID)
		}
		if !guidRE.MatchString(a.ClientID) {
			add("client_id", "needs the application (client) GUID (got %q)", a.ClientID)
		}
	}
	switch a.CredentialKind() {
	case CredSecret:
		needTenantClient()
		if a.SecretFile == "" {
			add("client_secret_file", "is required for credential %q", CredSecret)
		}
	case CredCertificate:
		needTenantClient()
		if a.CertFile == "" {
			add("client_cert_file", "is required for credential %q", CredCertificate)
		}
	case CredManagedIdentity:
		if a.ClientID != "" && !guidRE.MatchString(a.ClientID) {
			add("client_id", "a user-assigned identity's client id is a GUID (got %q)", a.ClientID)
		}
	case CredDefault:
		if a.TenantID != "" && !guidRE.MatchString(a.TenantID) {
			add("tenant_id", "needs the directory (tenant) GUID (got %q)", a.TenantID)
		}
	case CredEmulator:
		if a.TokenFile == "" {
			add("token_file", "is required for credential %q", CredEmulator)
		}
		if a.VaultURL != "" && !loopback {
			add("credential", "%q only works with a loopback vault_url (the emulated vault)", CredEmulator)
		}
	default:
		add("credential", "%q is not one of client-secret, client-certificate, managed-identity, default, emulator", a.Credential)
	}
	if a.SecretFile != "" && a.CertFile != "" {
		add("client_cert_file", "give client_secret_file or client_cert_file, not both")
	}
	p.SyncInterval(a.SyncInterval)
	return p.List
}
