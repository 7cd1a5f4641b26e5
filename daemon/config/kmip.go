package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// KMIPSource is one [[kmip]] section: a KMS polled over KMIP with mutual TLS.
//
//	[[kmip]]
//	name = "kms"
//	addresses = ["kms1.example.com:5696", "kms2.example.com:5696"]
//	ca_file = "/etc/keyward/kms-ca.pem"
//	cert_file = "/etc/keyward/client.pem"     # or keystore_file + password_file
//	key_file = "/etc/keyward/client.key"
//	[[kmip.application]]
//	name = "crm"
//	pattern = "rks.crm.key.*"
type KMIPSource struct {
	Name string `toml:"name"`
	// Addresses are host:port, tried in order (failover).
	Addresses []string `toml:"addresses"`
	// ServerName is the name the KMS certificate must carry (default: the
	// host of each address).
	ServerName string `toml:"server_name"`
	// CAFile is the PEM bundle that signed the KMS certificate (default: the
	// system roots).
	CAFile string `toml:"ca_file"`
	// Client identity: a PEM certificate and key, or a JKS / PKCS#12
	// keystore with its password in PasswordFile. When none is set, the
	// identity installed by `keyward cert install|import` in the data dir
	// is used.
	CertFile     string `toml:"cert_file"`
	KeyFile      string `toml:"key_file"`
	KeystoreFile string `toml:"keystore_file"`
	PasswordFile string `toml:"password_file"`
	// KeystoreAlias picks the private-key entry of a keystore holding
	// several (a JKS alias, a PKCS#12 friendly name).
	KeystoreAlias string `toml:"keystore_alias"`
	// KeyPasswordFile holds the password of a JKS private-key entry whose
	// password is not the store's.
	KeyPasswordFile string `toml:"key_password_file"`
	// TLSMinVersion is the lowest TLS version offered: "1.2" (default) or
	// "1.3".
	TLSMinVersion string `toml:"tls_min_version"`
	// CipherSuites are the TLS 1.2 cipher suites offered, by their IANA
	// names (default: Go's secure list). Suites of Go's insecure list
	// (CBC with SHA-256, RSA key exchange) are accepted for KMS servers
	// that offer nothing else; status then warns that they are weaker.
	CipherSuites []string `toml:"cipher_suites"`
	// Version is the KMIP protocol version to speak ("1.0" .. "1.4"); empty
	// negotiates the highest common version with Discover Versions.
	Version string `toml:"version"`
	// PollInterval between polls (default 5m).
	PollInterval engine.Duration `toml:"poll_interval"`
	// Timeout for connecting and for each request (default 30s).
	Timeout engine.Duration `toml:"timeout"`
	// RetryMax caps the exponential backoff after failures (default: the
	// poll interval).
	RetryMax engine.Duration `toml:"retry_max"`
	// BatchSize is how many operations go into one KMIP request message
	// (default 50; 1 sends one request per key).
	BatchSize int `toml:"batch_size"`
	// LocatePageSize is the Maximum Items of each Locate page (KMIP 1.3+,
	// default 1000): lower it for a KMS that refuses larger pages. Pages
	// are read to the end (by Located Items where the KMS reports it).
	LocatePageSize int `toml:"locate_page_size"`
	// Locate says where the wildcard pattern is matched: "auto" (try the
	// server, fall back to filtering names here when it does not expand
	// wildcards), "server" or "client".
	Locate string `toml:"locate"`
	// KeepAlive keeps the KMS connection open between polls. By default it
	// is closed IdleClose after a poll (default 5s): a KMS that times idle
	// connections out (PyKMIP after 10 s) would log an error for each.
	KeepAlive bool            `toml:"keep_alive"`
	IdleClose engine.Duration `toml:"idle_close"`
	// FullRefresh is how often a poll reads every located object's Name
	// and State again (default 1h); between, names are known from earlier
	// polls and states from Locate. A rename is seen within this period.
	FullRefresh engine.Duration `toml:"full_refresh"`
	// KEKName names a 256-bit AES key in this KMS used as the key-encryption
	// key for this source's wrapped rings when keys.kek_file is not set. It
	// is fetched at start; while the KMS is unreachable the rings cannot be
	// restored (use keys.kek_file for restarts during KMS outages).
	KEKName      string        `toml:"kek_name"`
	Applications []Application `toml:"application"`
}

// Application is a [[kmip.application]]: keys matching Pattern form its ring.
type Application struct {
	Name string `toml:"name"`
	// Pattern is a key name with * (any run of characters) and ?
	// wildcards, e.g. "rks.crm.key.*".
	Pattern string `toml:"pattern"`
	// Generations kept in the ring (default 16).
	Generations int             `toml:"generations"`
	RotateAfter engine.Duration `toml:"rotate_after"`
}

// KMIP protocol versions keyward can speak (ovh/kmip-go stops at 1.4).
var kmipVersions = []string{"1.0", "1.1", "1.2", "1.3", "1.4"}

// ParseKMIPVersion splits "1.4" into major and minor, for the versions
// keyward speaks.
func ParseKMIPVersion(v string) (major, minor int, err error) {
	for _, ok := range kmipVersions {
		if v == ok {
			a, b, _ := strings.Cut(v, ".")
			major, _ = strconv.Atoi(a)
			minor, _ = strconv.Atoi(b)
			return major, minor, nil
		}
	}
	return 0, 0, fmt.Errorf("KMIP version %q is not one of %s (or empty to negotiate)", v, strings.Join(kmipVersions, ", "))
}

func (k *KMIPSource) validate(prefix string) []string {
	var errs []string
	add := func(key, format string, a ...any) {
		errs = append(errs, prefix+"."+key+": "+fmt.Sprintf(format, a...))
	}
	if len(k.Addresses) == 0 {
		add("addresses", "at least one host:port is needed")
	}
	for _, a := range k.Addresses {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			add("addresses", "%q is not host:port (e.g. kms.example.com:5696)", a)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			add("addresses", "%q: port must be 1-65535", a)
		}
	}
	if k.Version != "" {
		if _, _, err := ParseKMIPVersion(k.Version); err != nil {
			add("version", "%v", err)
		}
	}
	pem := k.CertFile != "" || k.KeyFile != ""
	if pem && (k.CertFile == "" || k.KeyFile == "") {
		add("cert_file", "cert_file and key_file go together")
	}
	if pem && k.KeystoreFile != "" {
		add("keystore_file", "use either cert_file/key_file or keystore_file, not both")
	}
	if k.KeystoreFile != "" && k.PasswordFile == "" {
		add("password_file", "keystore_file needs password_file (a file holding the keystore password)")
	}
	if k.KeystoreAlias != "" && k.KeystoreFile == "" {
		add("keystore_alias", "only applies with keystore_file (keyward cert import takes --alias)")
	}
	if k.KeyPasswordFile != "" && k.KeystoreFile == "" {
		add("key_password_file", "only applies with keystore_file (keyward cert import takes --key-password-file)")
	}
	if _, err := TLSVersion(k.TLSMinVersion); err != nil {
		add("tls_min_version", "%v", err)
	}
	if _, _, err := CipherSuiteIDs(k.CipherSuites); err != nil {
		add("cipher_suites", "%v", err)
	} else if len(k.CipherSuites) > 0 && k.TLSMinVersion == "1.3" {
		add("cipher_suites", "apply to TLS 1.2 only, and tls_min_version is 1.3: remove one of them")
	}
	if k.PollInterval == 0 {
		k.PollInterval = engine.Duration(5 * time.Minute)
	}
	if time.Duration(k.PollInterval) < time.Second {
		add("poll_interval", "%s is too short (at least 1s)", time.Duration(k.PollInterval))
	}
	if k.Timeout == 0 {
		k.Timeout = engine.Duration(30 * time.Second)
	}
	if k.Timeout < 0 {
		add("timeout", "must be positive")
	}
	if k.FullRefresh == 0 {
		k.FullRefresh = engine.Duration(time.Hour)
	}
	if k.FullRefresh < 0 {
		add("full_refresh", "must be positive")
	}
	if k.IdleClose == 0 {
		k.IdleClose = engine.Duration(5 * time.Second)
	}
	if k.IdleClose < 0 {
		add("idle_close", "must be positive (keep_alive = true keeps connections open)")
	}
	if k.RetryMax == 0 {
		k.RetryMax = k.PollInterval
	}
	if k.BatchSize == 0 {
		k.BatchSize = 50
	}
	if k.BatchSize < 1 || k.BatchSize > 1000 {
		add("batch_size", "%d is not between 1 and 1000", k.BatchSize)
	}
	if k.LocatePageSize == 0 {
		k.LocatePageSize = 1000
	}
	if k.LocatePageSize < 10 || k.LocatePageSize > 100000 {
		add("locate_page_size", "%d is not between 10 and 100000", k.LocatePageSize)
	}
	switch k.Locate {
	case "":
		k.Locate = "auto"
	case "auto", "server", "client":
	default:
		add("locate", "%q is not auto, server or client", k.Locate)
	}
	if len(k.Applications) == 0 {
		add("application", "at least one [[kmip.application]] with a name and a pattern is needed")
	}
	seen := map[string]bool{}
	for i := range k.Applications {
		a := &k.Applications[i]
		key := fmt.Sprintf("application[%d]", i)
		if a.Name == "" {
			add(key+".name", "is required")
		}
		if seen[a.Name] {
			add(key+".name", "%q is used twice", a.Name)
		}
		seen[a.Name] = true
		if strings.TrimSpace(a.Pattern) == "" {
			add(key+".pattern", "is required, e.g. \"acme.crm.key.*\"")
		}
		if a.Generations == 0 {
			a.Generations = 16
		}
		if a.Generations < 1 || a.Generations > 1000 {
			add(key+".generations", "%d is not between 1 and 1000", a.Generations)
		}
	}
	return errs
}

// TLSVersion is the crypto/tls version of a tls_min_version value ("" is
// 1.2).
func TLSVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	case "1.0", "1.1":
		return 0, fmt.Errorf("%q: TLS %s is not offered (it is broken); a KMS that speaks nothing newer must be upgraded", v, v)
	}
	return 0, fmt.Errorf("%q is not 1.2 or 1.3", v)
}

// CipherSuiteIDs resolves cipher_suites names to crypto/tls ids, and names
// those that are on Go's insecure list (weaker: CBC, RSA key exchange, ...).
// Names are IANA's, as tls.CipherSuiteName prints them.
func CipherSuiteIDs(names []string) (ids []uint16, weak []string, err error) {
	known := map[string]*tls.CipherSuite{}
	for _, c := range tls.CipherSuites() {
		known[c.Name] = c
	}
	for _, c := range tls.InsecureCipherSuites() {
		known[c.Name] = c
	}
	seen := map[string]bool{}
	for _, n := range names {
		c, ok := known[strings.ToUpper(strings.TrimSpace(n))]
		switch {
		case ok && seen[c.Name]:
			return nil, nil, fmt.Errorf("%q is listed twice", n)
		case ok && !slices.Contains(c.SupportedVersions, tls.VersionTLS12):
			return nil, nil, fmt.Errorf("%q is not a TLS 1.2 suite: only TLS 1.2 suites can be chosen (TLS 1.3 always offers its own three)", n)
		case ok:
			seen[c.Name] = true
			ids = append(ids, c.ID)
			if c.Insecure {
				weak = append(weak, c.Name)
			}
			continue
		}
		return nil, nil, fmt.Errorf("%q is not a TLS cipher suite keyward can offer%s", n, suiteHint(n, known))
	}
	return ids, weak, nil
}

// suiteHint suggests known names sharing the most words with an unknown one
// (OpenSSL's AES128-SHA256 for IANA's TLS_RSA_WITH_AES_128_CBC_SHA256).
func suiteHint(n string, known map[string]*tls.CipherSuite) string {
	words := strings.FieldsFunc(strings.ToUpper(n), func(r rune) bool { return r == '_' || r == '-' })
	best, score := []string{}, 1
	for name := range known {
		s := 0
		for _, w := range words {
			w = strings.TrimPrefix(strings.TrimPrefix(w, "AES"), "TLS")
			if w != "" && strings.Contains(name, w) {
				s++
			}
		}
		switch {
		case s > score:
			best, score = []string{name}, s
		case s == score:
			best = append(best, name)
		}
	}
	if len(best) == 0 || len(best) > 6 {
		return "; use IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_RSA_WITH_AES_128_CBC_SHA256"
	}
	slices.Sort(best)
	return "; did you mean " + strings.Join(best, " or ") + "?"
}
