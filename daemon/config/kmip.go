package config

import "github.com/keyward/keyward/engine"

// KMIPSource is one [[kmip]] section: a KMS polled over KMIP with mutual TLS.
// (Owned by the KMIP work: extend here.)
type KMIPSource struct {
	Name string `toml:"name"`
	// Addresses are host:port, tried in order (failover).
	Addresses    []string        `toml:"addresses"`
	ServerName   string          `toml:"server_name"`
	CAFile       string          `toml:"ca_file"`
	CertFile     string          `toml:"cert_file"`
	KeyFile      string          `toml:"key_file"`
	KeystoreFile string          `toml:"keystore_file"`
	PasswordFile string          `toml:"password_file"`
	Version      string          `toml:"version"`
	PollInterval engine.Duration `toml:"poll_interval"`
	Timeout      engine.Duration `toml:"timeout"`
	Applications []Application   `toml:"application"`
}

// Application is a [[kmip.application]]: keys matching Pattern form its ring.
type Application struct {
	Name        string          `toml:"name"`
	Pattern     string          `toml:"pattern"`
	Generations int             `toml:"generations"`
	RotateAfter engine.Duration `toml:"rotate_after"`
}

func (k *KMIPSource) validate(prefix string) []string {
	var errs []string
	if len(k.Addresses) == 0 {
		errs = append(errs, prefix+".addresses: at least one host:port is needed")
	}
	return errs
}
