package azure

import "github.com/keyward/keyward/daemon/cloud"

// The azure kind: [[azure]] sections decode into Settings (settings.go),
// and each becomes a synchronised vault.
func init() {
	cloud.Register(cloud.KindOf("azure", func(s Settings, env cloud.Env) (*cloud.SyncSource, error) {
		return NewSource(s, env.Logger)
	}))
}
