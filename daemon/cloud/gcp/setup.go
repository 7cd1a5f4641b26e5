package gcp

import "github.com/keyward/keyward/daemon/cloud"

// The gcp kind: [[gcp]] sections decode into Settings (settings.go), and
// each becomes a synchronised project.
func init() {
	cloud.Register(cloud.KindOf("gcp", func(s Settings, env cloud.Env) (*cloud.SyncSource, error) {
		return NewSource(s, env.Logger)
	}))
}
