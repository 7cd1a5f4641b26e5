package kmip

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/engine/keyring"
)

// FromConfig builds every [[kmip]] source of cfg, sharing rings (which the
// encryption proxy reads). k is keys.kek_file's key, loaded by the
// daemon (nil without one); with keys.persist_material on and no kek_file,
// nothing is persisted (a warning says so) and existing wrapped rings make the start fail with a clear
// message rather than being discarded. Application names must be unique
// across KMIP sources, since each names one ring.
func FromConfig(cfg *config.Config, k *kek.KEK, st SealedStore, rings *keyring.Rings, log *slog.Logger) ([]*Source, error) {
	if len(cfg.KMIP) == 0 {
		return nil, nil
	}
	if log == nil {
		log = slog.Default()
	}
	if k == nil && cfg.Keys.PersistMaterial && !slices.ContainsFunc(cfg.KMIP, func(sc config.KMIPSource) bool { return sc.KEKName != "" }) {
		log.Warn("key ring material is not persisted: set keys.kek_file (a 32-byte key, mode 0600) so the proxy survives a restart while the KMS is down")
	}
	owner := map[string]string{}
	for _, sc := range cfg.KMIP {
		for _, a := range sc.Applications {
			if prev, dup := owner[a.Name]; dup {
				return nil, fmt.Errorf("application %q is configured in both [[kmip]] %q and %q; each application has one key ring, so its name must be unique", a.Name, prev, sc.Name)
			}
			owner[a.Name] = sc.Name
		}
	}
	var out []*Source
	for _, sc := range cfg.KMIP {
		deps := Deps{Logger: log, Rings: rings, Sealed: st, KEK: k, Persist: cfg.Keys.PersistMaterial, DataDir: cfg.DataDir}
		if u, ok := st.(UsageReader); ok {
			deps.Usage = u
		}
		s, err := New(sc, deps)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
