package gcp

import (
	"fmt"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/config"
)

// The gcp kind: [[gcp]] sections decode into Settings (settings.go), and
// each becomes a synchronised project.
func init() {
	cloud.Register(cloud.Kind{Name: "gcp", Settings: &Settings{}, New: func(s config.Section, env cloud.Env) (*cloud.SyncSource, error) {
		sec, ok := s.(*Settings)
		if !ok {
			return nil, fmt.Errorf("gcp: settings of type %T", s)
		}
		return NewSource(*sec, env.Logger)
	}})
}
