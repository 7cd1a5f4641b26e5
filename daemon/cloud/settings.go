package cloud

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/keyward/keyward/engine"
)

// DefaultSyncInterval is how often a cloud source syncs when its section
// sets no sync_interval.
const DefaultSyncInterval = 15 * time.Minute

// SyncEvery is a section's sync_interval, or DefaultSyncInterval when it
// sets none.
func SyncEvery(d engine.Duration) time.Duration {
	if d <= 0 {
		return DefaultSyncInterval
	}
	return time.Duration(d)
}

// Problems collects what is wrong with one settings section, each problem
// "prefix.key: message" as config.Section's Validate returns them.
type Problems struct {
	prefix string
	// List is the problems found, in the order they were added.
	List []string
}

// NewProblems starts the problems of the section prefix ("aws[0]").
func NewProblems(prefix string) *Problems { return &Problems{prefix: prefix} }

// Add records a problem with the key.
func (p *Problems) Add(key, format string, args ...any) {
	p.List = append(p.List, p.prefix+"."+key+": "+fmt.Sprintf(format, args...))
}

// SyncInterval checks sync_interval: unset, or at least 10 seconds.
func (p *Problems) SyncInterval(d engine.Duration) {
	if d < 0 || (d > 0 && time.Duration(d) < 10*time.Second) {
		p.Add("sync_interval", "%s is too short (at least 10s; default 15m)", time.Duration(d))
	}
}

// FullRefreshEvery checks full_refresh_every: unset or positive.
func (p *Problems) FullRefreshEvery(n int) {
	if n < 0 {
		p.Add("full_refresh_every", "must not be negative (default 12)")
	}
}

// HTTPSProxy checks https_proxy: unset, or an http or https URL with a
// host.
func (p *Problems) HTTPSProxy(s string) {
	if s == "" {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Add("https_proxy", "%q is not a proxy URL (http://proxy.example.com:3128)", s)
	}
}

// CredDefault is the credential of a section that names none and sets no
// key implying one: the cloud SDK's default chain.
const CredDefault = "default"

// Implied is a section key that implies a credential kind when it is set
// (static_keys_file: "static").
type Implied struct{ Value, Kind string }

// CredentialKind is a section's credential: the one it names, else the
// kind of the first key of implied that is set, else CredDefault.
func CredentialKind(named string, implied ...Implied) string {
	if named != "" {
		return named
	}
	for _, i := range implied {
		if i.Value != "" {
			return i.Kind
		}
	}
	return CredDefault
}

// ReadPrivateFile reads the file a section's key names (static_keys_file,
// credentials_file, …). When holds says what secret it holds ("a secret
// access key"), a file that anyone but its owner may read is refused; the
// error names the key, the path and the mode, never the content. The caller
// zeroes the bytes.
func ReadPrivateFile(key, path, holds string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if holds != "" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %04o: it holds %s, chmod 600 it", key, path, fi.Mode().Perm(), holds)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}
