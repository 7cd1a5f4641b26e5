package aws

import (
	"fmt"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/config"
)

// The aws kind: [[aws]] sections decode into Settings (settings.go), and
// each becomes a synchronised account and region.
func init() {
	cloud.Register(cloud.Kind{Name: "aws", Settings: &Settings{}, New: func(s config.Section, env cloud.Env) (*cloud.SyncSource, error) {
		sec, ok := s.(*Settings)
		if !ok {
			return nil, fmt.Errorf("aws: settings of type %T", s)
		}
		return NewSource(*sec, env.Logger)
	}})
}
