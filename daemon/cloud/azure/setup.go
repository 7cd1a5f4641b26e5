package azure

import (
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/config"
)

// The [[azure]] section's settings type is declared by daemon/config (the
// vault emulator builds it), so only the constructor registers here.
func init() {
	cloud.Register(cloud.Kind{Name: "azure", New: func(s config.Section, logger *slog.Logger) (*cloud.SyncSource, error) {
		sec, ok := s.(*config.AzureSource)
		if !ok {
			return nil, fmt.Errorf("azure: settings of type %T", s)
		}
		return NewSource(*sec, logger)
	}})
}
