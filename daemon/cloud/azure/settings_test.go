package azure

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/config"
)

func TestAzureValidation(t *testing.T) {
	const tenant, client = `"72f988bf-86f1-41af-91ab-2d7cd011db47"`, `"11111111-2222-3333-4444-555555555555"`
	// Each case is the section name = "kv", vault_url =
	// "https://acme.vault.azure.net" with the keys of set added or
	// replaced (values in TOML).
	cases := []struct {
		name string
		set  map[string]string
		want string // "" = valid
	}{
		{"secret", map[string]string{"tenant_id": tenant, "client_id": client, "client_secret_file": `"/etc/keyward/kv.secret"`}, ""},
		{"us government", map[string]string{"name": `"gov"`, "cloud": `"usgovernment"`, "vault_url": `"https://acme.vault.usgovcloudapi.net/"`, "credential": `"managed-identity"`}, ""},
		{"china with certificate", map[string]string{"name": `"cn"`, "cloud": `"china"`, "vault_url": `"https://acme.vault.azure.cn"`,
			"tenant_id": tenant, "client_id": client, "client_cert_file": `"/etc/keyward/cn.pem"`}, ""},
		{"managed hsm", map[string]string{"name": `"hsm"`, "vault_url": `"https://acme.managedhsm.azure.net"`}, ""},
		{"emulator", map[string]string{"name": `"demo"`, "vault_url": `"https://127.0.0.1:8443"`, "credential": `"emulator"`, "token_file": `"/tmp/t"`}, ""},
		{"wrong cloud", map[string]string{"vault_url": `"https://acme.vault.azure.cn"`}, `set cloud = "china"`},
		{"unknown cloud", map[string]string{"cloud": `"mars"`}, `cloud "mars" is not public, usgovernment or china`},
		{"http", map[string]string{"vault_url": `"http://acme.vault.azure.net"`}, "must use https"},
		{"secret without tenant", map[string]string{"client_secret_file": `"/x"`}, "azure[0].tenant_id: needs the directory (tenant) GUID"},
		{"loopback without emulator credential", map[string]string{"vault_url": `"https://127.0.0.1:8443"`}, `use credential = "emulator"`},
		{"emulator credential on a real vault", map[string]string{"credential": `"emulator"`, "token_file": `"/x"`}, "only works with a loopback vault_url"},
		{"bad credential", map[string]string{"credential": `"password"`}, `"password" is not one of`},
		{"interval too short", map[string]string{"sync_interval": `"2s"`}, "sync_interval: 2s is too short"},
		{"path in url", map[string]string{"vault_url": `"https://acme.vault.azure.net/keys/x"`}, "must not have a path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			section := map[string]string{"name": `"kv"`, "vault_url": `"https://acme.vault.azure.net"`}
			maps.Copy(section, c.set)
			toml := "[[azure]]\n"
			for _, k := range slices.Sorted(maps.Keys(section)) {
				toml += k + " = " + section[k] + "\n"
			}
			cfg := config.Default()
			err := config.Parse([]byte(toml), cfg)
			if err == nil {
				err = cfg.Validate()
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("valid section refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func FuzzAzureSection(f *testing.F) {
	f.Add("https://acme.vault.azure.net", "public", "", "secret")
	f.Add("https://127.0.0.1:1", "", "emulator", "")
	f.Add("https://[::1]:8443", "china", "default", "")
	f.Add("://", "usgov", "managed-identity", "x")
	f.Fuzz(func(t *testing.T, u, cloud, cred, file string) {
		a := Settings{Name: "kv", VaultURL: u, Cloud: cloud, Credential: cred, SecretFile: file, TokenFile: file}
		errs := a.Validate("azure[0]")
		for _, e := range errs {
			if !strings.HasPrefix(e, "azure[0].") {
				t.Fatalf("error %q does not name its key", e)
			}
		}
		_ = a.CredentialKind()
		_ = a.Interval()
	})
}
