package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsNeedNoFile(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir == "" || !strings.HasSuffix(c.SocketPath(), "keyward.sock") {
		t.Fatalf("defaults: %+v", c)
	}
	if got := c.Thresholds(); len(got.ExpiringDays) != 3 || got.RotationPeriod != 365*24*time.Hour {
		t.Fatalf("default thresholds %+v", got)
	}
}

func TestLoadErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name, toml string
		want       []string
	}{
		{"unknown key", "data_dir = \"/x\"\n\n[access]\nadmin_grop = \"wheel\"\n", []string{"line 4", `"access.admin_grop"`}},
		{"wrong type", "log_level = \"info\"\n[aging]\nexpiring_days = \"seven\"\n", []string{"line 3", "expiring_days"}},
		{"bad duration", "[aging]\nrotation_period = \"a year\"\n", []string{"line 2", "rotation_period", "90d"}},
		{"bad level", "log_level = \"loud\"\n", []string{"line 1", "log_level", "loud"}},
		{"bad window", "[aging]\nexpiring_days = [30, -1]\n", []string{"line 2", "aging.expiring_days", "-1"}},
		{"bad address in the second kmip", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\n\n[[kmip]]\nname = \"b\"\naddresses = [\"nohost\"]\n", []string{"line 7", "kmip[1].addresses", "nohost"}},
		{"nested application", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\n[[kmip.application]]\nname = \"crm\"\npattern = \"x.*\"\n[[kmip.application]]\nname = \"crm\"\npattern = \"y.*\"\n", []string{"line 8", "kmip[0].application[1].name", "used twice"}},
		{"KEK beside the database", "data_dir = \"/var/lib/keyward\"\n[keys]\nkek_file = \"/var/lib/keyward/kek\"\n", []string{"keys.kek_file", "inside data_dir"}},
		{"locate page too small", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\nlocate_page_size = 5\n", []string{"line 4", "kmip[0].locate_page_size", "between 10 and 100000"}},
		{"missing key names its table", "[[kmip]]\nname = \"a\"\n", []string{"line 1", "kmip[0].addresses"}},
		{"duplicate source", "[[kmip]]\nname = \"a\"\naddresses=[\"h:1\"]\n[[widget]]\nname = \"a\"\nregion=\"eu\"\n", []string{`source name "a"`}},
		{"not toml", "data_dir = \n", []string{"line 1"}},
		{"OpenSSL cipher name", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\ncipher_suites = [\"AES128-SHA256\"]\n", []string{"line 4", "kmip[0].cipher_suites", `"AES128-SHA256" is not a TLS cipher suite`, "TLS_RSA_WITH_AES_128_CBC_SHA256"}},
		{"TLS 1.3 suite", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\ncipher_suites = [\"TLS_AES_128_GCM_SHA256\"]\n", []string{"kmip[0].cipher_suites", "not a TLS 1.2 suite"}},
		{"TLS 1.0", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\ntls_min_version = \"1.0\"\n", []string{"line 4", "kmip[0].tls_min_version", "not offered"}},
		{"suites with TLS 1.3 only", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\ntls_min_version = \"1.3\"\ncipher_suites = [\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"]\n", []string{"kmip[0].cipher_suites", "TLS 1.2 only"}},
		{"alias without keystore", "[[kmip]]\nname = \"a\"\naddresses = [\"h:1\"]\nkeystore_alias = \"client\"\n", []string{"kmip[0].keystore_alias", "only applies with keystore_file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "keyward.toml")
			os.WriteFile(p, []byte(c.toml), 0o600)
			_, err := Load(p)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCustomThresholds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keyward.toml")
	os.WriteFile(p, []byte("[aging]\nexpiring_days = [30, 10]\nrotation_period = \"180d\"\n"), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	th := c.Thresholds()
	if th.ExpiringDays[0] != 10 || th.ExpiringDays[1] != 30 || th.RotationPeriod != 180*24*time.Hour {
		t.Fatalf("thresholds %+v", th)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("data_dir = \"/x\"\n[aging]\nexpiring_days=[7]\n"))
	f.Add([]byte("[[kmip]]\nname=\"k\"\naddresses=[\"a:1\"]\n[[kmip.application]]\nname=\"crm\"\npattern=\"x.*\"\n"))
	f.Add([]byte("[proxy]\n[[proxy.app]]\nname=\"crm\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := Parse(b, c); err == nil {
			_ = c.Validate()
		}
	})
}
