package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// Proxy is the [proxy] section and its [[proxy.app]] entries: the encryption
// proxy in front of cloud applications.
type Proxy struct {
	// MetricsListen serves Prometheus metrics when set (e.g. 127.0.0.1:9464).
	MetricsListen string `toml:"metrics_listen"`
	// AllowUserDecrypt lets user-role callers use keyward decrypt (by
	// default only admins may).
	AllowUserDecrypt bool `toml:"allow_user_decrypt"`
	// UsageFlush is how often per-key usage counts are written to the
	// database (default 1m).
	UsageFlush engine.Duration `toml:"usage_flush"`
	// StatusInterval is how often a changed proxy status is sent on the
	// event stream (default 1s).
	StatusInterval engine.Duration `toml:"status_interval"`
	Apps           []ProxyApp      `toml:"app"`
}

// ProxyApp is one application behind the encryption proxy. Name is the
// application whose key ring encrypts (a [[kmip.application]] name).
type ProxyApp struct {
	Name string `toml:"name"`
	// Listen is host:port. Plain HTTP only on a loopback address; any
	// other address needs TLSCert and TLSKey.
	Listen  string `toml:"listen"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// ClientCAFile is a PEM bundle of the CAs whose client certificates
	// may use the proxy: when set, the listener requires a client
	// certificate and verifies it (mutual TLS). Needs TLSCert and TLSKey.
	ClientCAFile string `toml:"client_ca_file"`
	// Upstream is the cloud application's base URL (http or https).
	Upstream string `toml:"upstream"`
	// UpstreamCA is a PEM bundle that verifies an https upstream (default:
	// the system roots).
	UpstreamCA string `toml:"upstream_ca"`
	// UpstreamServerName overrides the name checked in the upstream's
	// certificate.
	UpstreamServerName string `toml:"upstream_server_name"`
	// Fields are JSON field paths encrypted with random nonces, e.g.
	// "records[*].ssn", "contact.email", "accounts.*.iban".
	Fields []string `toml:"fields"`
	// DeterministicFields are JSON field paths (and form field names)
	// encrypted deterministically (AES-SIV) so the cloud can search on
	// them: equal values give equal tokens.
	DeterministicFields []string `toml:"deterministic_fields"`
	// FormFields are names of form fields (x-www-form-urlencoded bodies and
	// query strings) encrypted with random nonces.
	FormFields []string `toml:"form_fields"`
	// NameMatching is how request names are compared with the configured
	// fields: "fold" (default) or "exact" (see Protection).
	NameMatching string `toml:"name_matching"`
	// FieldScope is where the configured fields apply: "everywhere"
	// (default) or "by_type" (see Protection).
	FieldScope string `toml:"field_scope"`
	// Bodies encrypt whole request bodies by URL path and content type.
	Bodies []ProxyBody `toml:"body"`
	// PassContentTypes are request content types sent upstream unexamined
	// (e.g. "multipart/form-data"). Any other body that no rule covers is
	// refused while the application has rules, so a protected value cannot
	// slip through under an unexpected content type.
	PassContentTypes []string `toml:"pass_content_types"`
	// MaxBodyBytes limits bodies the proxy must rewrite (default 4 MiB).
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// Timeout bounds every wait on the upstream: for its response
	// headers, for the next bytes of an answer the proxy reads before the
	// client sees it, and for it to take the next bytes of a request
	// (default 30s).
	Timeout engine.Duration `toml:"timeout"`
	// ClientTimeout bounds every wait on the client once its headers are
	// in: for the next bytes of its request body, and for it to take the
	// next bytes of the answer (default 30s).
	ClientTimeout engine.Duration `toml:"client_timeout"`
	// DialTimeout bounds connecting to the upstream (default 5s).
	DialTimeout engine.Duration `toml:"dial_timeout"`
}

// ProxyBody encrypts whole request bodies whose URL path matches Path (a
// path.Match pattern, e.g. "/files/*") and whose content type is
// ContentType (empty: any).
type ProxyBody struct {
	Path          string `toml:"path"`
	ContentType   string `toml:"content_type"`
	Deterministic bool   `toml:"deterministic"`
}

// Default limits of a proxied application.
const (
	DefaultMaxBody       = 4 << 20
	DefaultTimeout       = 30 * time.Second
	DefaultClientTimeout = 30 * time.Second
	DefaultDialTimeout   = 5 * time.Second
)

func (p *Proxy) defaults() {
	p.UsageFlush = engine.Duration(time.Minute)
	p.StatusInterval = engine.Duration(time.Second)
}

// WithDefaults returns a copy of a with every unset limit at its default.
func (a ProxyApp) WithDefaults() ProxyApp {
	if a.MaxBodyBytes == 0 {
		a.MaxBodyBytes = DefaultMaxBody
	}
	if a.Timeout == 0 {
		a.Timeout = engine.Duration(DefaultTimeout)
	}
	if a.DialTimeout == 0 {
		a.DialTimeout = engine.Duration(DefaultDialTimeout)
	}
	if a.ClientTimeout == 0 {
		a.ClientTimeout = engine.Duration(DefaultClientTimeout)
	}
	return a
}

// IsLoopback reports whether host (a name or an IP) is a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *Proxy) validate(_ *Config) []string {
	var errs []string
	add := func(key, format string, a ...any) { errs = append(errs, key+": "+fmt.Sprintf(format, a...)) }
	if p.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(p.MetricsListen); err != nil {
			add("proxy.metrics_listen", "%q is not host:port (e.g. 127.0.0.1:9464)", p.MetricsListen)
		}
	}
	if p.UsageFlush < 0 || (p.UsageFlush > 0 && time.Duration(p.UsageFlush) < time.Second) {
		add("proxy.usage_flush", "must be at least 1s")
	}
	if p.StatusInterval < 0 || (p.StatusInterval > 0 && time.Duration(p.StatusInterval) < 100*time.Millisecond) {
		add("proxy.status_interval", "must be at least 100ms")
	}
	names, listens := map[string]bool{}, map[string]string{}
	for i := range p.Apps {
		errs = append(errs, p.Apps[i].validate(fmt.Sprintf("proxy.app[%d]", i), names, listens)...)
	}
	return errs
}

func (a *ProxyApp) validate(prefix string, names map[string]bool, listens map[string]string) []string {
	var errs []string
	add := func(key, format string, args ...any) {
		errs = append(errs, prefix+"."+key+": "+fmt.Sprintf(format, args...))
	}
	if a.Name == "" {
		add("name", "is required: the application whose key ring encrypts")
	} else if names[a.Name] {
		add("name", "%q is proxied twice", a.Name)
	}
	names[a.Name] = true
	host, _, err := net.SplitHostPort(a.Listen)
	switch {
	case a.Listen == "":
		add("listen", "is required (e.g. 127.0.0.1:8443)")
	case err != nil:
		add("listen", "%q is not host:port", a.Listen)
	case (a.TLSCert == "") != (a.TLSKey == ""):
		add("tls_cert", "tls_cert and tls_key go together")
	case a.TLSCert == "" && !IsLoopback(host):
		add("listen", "%q serves plain HTTP on a non-loopback address: set tls_cert and tls_key, or listen on 127.0.0.1", a.Listen)
	}
	if a.ClientCAFile != "" && a.TLSCert == "" {
		add("client_ca_file", "needs tls_cert and tls_key: client certificates are asked for in a TLS handshake")
	}
	if prev, ok := listens[a.Listen]; ok && a.Listen != "" {
		add("listen", "%q is already used by application %q", a.Listen, prev)
	}
	listens[a.Listen] = a.Name
	u, err := url.Parse(a.Upstream)
	switch {
	case a.Upstream == "":
		add("upstream", "is required (e.g. https://crm.example.com)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		add("upstream", "%q is not an http:// or https:// URL with a host", a.Upstream)
	case u.Scheme == "http" && (a.UpstreamCA != "" || a.UpstreamServerName != ""):
		add("upstream_ca", "only applies to an https:// upstream")
	}
	errs = append(errs, a.validateFields(prefix)...)
	for j, b := range a.Bodies {
		if _, err := path.Match(b.Path, "/"); err != nil || !strings.HasPrefix(b.Path, "/") {
			add(fmt.Sprintf("body[%d].path", j), "%q is not a path pattern starting with / (such as /files/*)", b.Path)
		}
	}
	if a.MaxBodyBytes < 0 {
		add("max_body_bytes", "must not be negative")
	}
	if a.Timeout < 0 || a.DialTimeout < 0 {
		add("timeout", "must not be negative")
	}
	if a.ClientTimeout < 0 {
		add("client_timeout", "must not be negative")
	}
	return errs
}
