package config

// Proxy is the [proxy] section and its [[proxy.app]] entries. (Owned by the
// proxy work: extend here.)
type Proxy struct {
	// MetricsListen serves Prometheus metrics when set (e.g. 127.0.0.1:9464).
	MetricsListen string `toml:"metrics_listen"`
	// AllowUserDecrypt lets user-role callers use keyward decrypt.
	AllowUserDecrypt bool       `toml:"allow_user_decrypt"`
	Apps             []ProxyApp `toml:"app"`
}

// ProxyApp is one application behind the encryption proxy.
type ProxyApp struct {
	Name     string   `toml:"name"`
	Listen   string   `toml:"listen"`
	Upstream string   `toml:"upstream"`
	Fields   []string `toml:"fields"`
}

func (p *Proxy) defaults() {}

func (p *Proxy) validate(c *Config) []string { return nil }
