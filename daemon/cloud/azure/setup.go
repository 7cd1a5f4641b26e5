package azure

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/sources"
)

// Wiring is what the daemon needs for the [[azure]] sections of its
// configuration: the sources to run, the manager of their life cycles and
// the socket API handler to mount at Pattern.
type Wiring struct {
	Sources []*cloud.SyncSource
	Manager *cloud.Manager
	// Pattern and Handler mount the life-cycle routes (GET for users,
	// anything else for admins; the Manager checks roles again).
	Pattern string
	Handler http.Handler
	kek     *kek.KEK
}

// Wire builds the azure sources of cfg and their manager. Backups are
// enabled by UseStore once the daemon's store is open (they also need
// keys.kek_file).
func Wire(cfg *config.Config, logger *slog.Logger) (*Wiring, error) {
	srcs, err := Sources(cfg.Azure, logger)
	if err != nil {
		return nil, err
	}
	w := &Wiring{Sources: srcs, Manager: cloud.NewManager(nil, nil, srcs...), Pattern: "/v1/cloud/"}
	if cfg.Keys.KEKFile != "" {
		w.kek, err = kek.Load(cfg.Keys.KEKFile)
		if err != nil {
			return nil, fmt.Errorf("cloud backups: %w", err)
		}
	}
	w.Handler = w.Manager.Handler(api.CallerFromContext)
	return w, nil
}

// SourceList returns the sources as the daemon runs them.
func (w *Wiring) SourceList() []sources.Source {
	out := make([]sources.Source, len(w.Sources))
	for i, s := range w.Sources {
		out[i] = s
	}
	return out
}

// UseStore enables backups in st (wrapped under keys.kek_file's key).
func (w *Wiring) UseStore(st cloud.SealedStore) {
	if w.kek != nil && st != nil {
		w.Manager.SetBackups(st, w.kek)
	}
}
