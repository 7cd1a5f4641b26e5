package aws

import "github.com/keyward/keyward/daemon/cloud"

// The aws kind: [[aws]] sections decode into Settings (settings.go), and
// each becomes a synchronised account and region.
func init() {
	cloud.Register(cloud.KindOf("aws", func(s Settings, env cloud.Env) (*cloud.SyncSource, error) {
		return NewSource(s, env.Logger)
	}))
}
