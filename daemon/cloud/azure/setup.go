package azure

import (
	"fmt"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/config"
)

// The azure kind: [[azure]] sections decode into Settings (settings.go),
// and each becomes a synchronised vault.
func init() {
	cloud.Register(cloud.Kind{Name: "azure", Settings: &Settings{}, New: func(s config.Section, env cloud.Env) (*cloud.SyncSource, error) {
		sec, ok := s.(*Settings)
		if !ok {
			return nil, fmt.Errorf("azure: settings of type %T", s)
		}
		return NewSource(*sec, env.Logger)
	}})
}
