package cloud

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/keyward/keyward/daemon/config"
)

// Kind is one kind of connector as it plugs in: its name, which is also its
// configuration section ([[azure]], [[aws]], …), the settings one section
// decodes into, and how one section becomes a running source.
type Kind struct {
	// Name is the connector kind and its section's name: "azure".
	Name string
	// Settings is a pointer to a zero value of the section's settings
	// (a struct with toml tags implementing config.Section); Register
	// makes [[Name]] a known section with it. Nil when daemon/config
	// declares the section itself (azure, for now).
	Settings config.Section
	// New builds the source of one section (Settings' type). It must not
	// start anything: the daemon runs the source.
	New func(settings config.Section, env Env) (*SyncSource, error)
}

// Env is what the daemon hands every connector constructor besides its
// own section. It grows here, not in each connector's signature.
type Env struct {
	// Logger is the daemon's logger (never nil).
	Logger *slog.Logger
	// DataDir is keyward's data directory (data_dir).
	DataDir string
}

// KindOf is the Kind name whose sections decode into S (a struct with
// toml tags; *S implements config.Section) and become sources through
// newSource, handed each section's settings by value.
func KindOf[S any, P interface {
	*S
	config.Section
}](name string, newSource func(S, Env) (*SyncSource, error)) Kind {
	return Kind{Name: name, Settings: P(new(S)), New: func(s config.Section, env Env) (*SyncSource, error) {
		sec, ok := s.(P)
		if !ok {
			return nil, fmt.Errorf("%s: settings of type %T", name, s)
		}
		return newSource(*sec, env)
	}}
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Kind{}
)

// Register plugs a connector kind in. Connector packages call it from
// their init; the daemon's composition root imports each of them once.
// It panics on a kind registered twice, as a programming error.
func Register(k Kind) {
	if k.Name == "" || k.New == nil {
		panic("cloud: Register needs a kind name and a constructor")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[k.Name]; dup {
		panic(fmt.Sprintf("cloud: connector kind %q registered twice", k.Name))
	}
	if k.Settings != nil {
		config.RegisterSection(k.Name, k.Settings)
	}
	registry[k.Name] = k
}

// Kinds lists the registered connector kinds, sorted by name.
func Kinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// Sources builds the sources of every section of every registered kind in
// cfg, kind by kind in name order and in file order within a kind. A
// section whose kind has no connector is an error.
func Sources(cfg *config.Config, logger *slog.Logger) ([]*SyncSource, error) {
	if logger == nil {
		logger = slog.Default()
	}
	env := Env{Logger: logger, DataDir: cfg.DataDir}
	registryMu.RLock()
	defer registryMu.RUnlock()
	var out []*SyncSource
	for _, kind := range slices.Sorted(maps.Keys(cfg.Sections)) {
		k, ok := registry[kind]
		if !ok {
			return nil, fmt.Errorf("[[%s]]: keyward has no %s connector built in", kind, kind)
		}
		for i, sec := range cfg.Sections[kind] {
			s, err := k.New(sec, env)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] (%s): %w", kind, i, sec.SourceName(), err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}
