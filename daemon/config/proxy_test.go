package config

import (
	"strings"
	"testing"
	"time"
)

func TestProxySectionParsesAndValidates(t *testing.T) {
	c := Default()
	err := Parse([]byte(`
[proxy]
metrics_listen = "127.0.0.1:9464"
allow_user_decrypt = true
usage_flush = "30s"

[[proxy.app]]
name = "crm"
listen = "127.0.0.1:8443"
upstream = "https://crm.example.com"
upstream_ca = "/etc/keyward/crm-ca.pem"
fields = ["records[*].ssn", "contact.email"]
deterministic_fields = ["email"]
form_fields = ["ssn"]
pass_content_types = ["multipart/form-data"]
max_body_bytes = 1048576
timeout = "10s"
client_timeout = "5s"

[[proxy.app.body]]
path = "/files/*"
content_type = "text/plain"
`), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a := c.Proxy.Apps[0].WithDefaults()
	if a.MaxBodyBytes != 1<<20 || time.Duration(a.Timeout) != 10*time.Second || time.Duration(a.DialTimeout) != DefaultDialTimeout ||
		time.Duration(a.ClientTimeout) != 5*time.Second || time.Duration((ProxyApp{}).WithDefaults().ClientTimeout) != DefaultClientTimeout ||
		len(a.Bodies) != 1 || a.Bodies[0].ContentType != "text/plain" || !c.Proxy.AllowUserDecrypt || time.Duration(c.Proxy.UsageFlush) != 30*time.Second {
		t.Fatalf("parsed %+v", a)
	}
}

func TestProxyValidationErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		`listen = "0.0.0.0:8080"
upstream = "http://x"`: `proxy.app[0].listen: "0.0.0.0:8080" serves plain HTTP on a non-loopback address`,
		`listen = "127.0.0.1:8080"
upstream = "ftp://x"`: `proxy.app[0].upstream: "ftp://x" is not an http:// or https:// URL`,
		`listen = "127.0.0.1:8080"
upstream = "http://x"
fields = ["a..b"]`: `proxy.app[0].fields: field path "a..b"`,
		`listen = "127.0.0.1:8080"
upstream = "http://x"
tls_cert = "c.pem"`: `tls_cert and tls_key go together`,
		`listen = "127.0.0.1:8080"
upstream = "http://x"
upstream_ca = "ca.pem"`: `upstream_ca: only applies to an https:// upstream`,
		`listen = "127.0.0.1:8080"
upstream = "http://x"
client_ca_file = "clients.pem"`: `proxy.app[0].client_ca_file: needs tls_cert and tls_key`,
		`listen = "127.0.0.1:8080"
upstream = "http://x"
[[proxy.app.body]]
path = "files/["`: `body[0].path`,
	}
	for body, want := range cases {
		c := Default()
		if err := Parse([]byte("[[proxy.app]]\nname = \"crm\"\n"+body), c); err != nil {
			t.Fatalf("parse: %v", err)
		}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\n→ %v\nwant %q", body, err, want)
		}
	}
	// TLS makes a non-loopback listen address acceptable.
	c := Default()
	Parse([]byte("[[proxy.app]]\nname = \"crm\"\nlisten = \"0.0.0.0:8443\"\nupstream = \"https://x\"\ntls_cert = \"c\"\ntls_key = \"k\"\n"), c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Two apps on one address, or one name twice.
	c = Default()
	Parse([]byte("[[proxy.app]]\nname = \"crm\"\nlisten = \"127.0.0.1:1\"\nupstream = \"http://x\"\n[[proxy.app]]\nname = \"crm\"\nlisten = \"127.0.0.1:1\"\nupstream = \"http://x\"\n"), c)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "proxied twice") || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("duplicates: %v", err)
	}
}
