package cloud

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/config"
)

type stubSettings struct {
	Name string `toml:"name"`
}

func (s *stubSettings) SourceName() string       { return s.Name }
func (s *stubSettings) Validate(string) []string { return nil }

// A kind registered twice, or without a constructor, is a programming
// error caught at start; a section whose kind has no connector is refused
// by name, by the config check and by the builder.
func TestRegistryRefusals(t *testing.T) {
	newStub := func(config.Section, Env) (*SyncSource, error) { return nil, nil }
	Register(Kind{Name: "stubcloud", Settings: &stubSettings{}, New: newStub})
	for name, k := range map[string]Kind{
		"twice":          {Name: "stubcloud", New: newStub},
		"no constructor": {Name: "other"},
		"no name":        {New: newStub},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			Register(k)
		}()
	}
	if !strings.Contains(strings.Join(Kinds(), ","), "stubcloud") {
		t.Errorf("Kinds() = %v", Kinds())
	}

	cfg := config.Default()
	cfg.AddSource("nocloud", &stubSettings{Name: "n"})
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "nocloud: no connector of this kind") {
		t.Errorf("validate: %v", err)
	}
	if _, err := Sources(cfg, nil); err == nil || !strings.Contains(err.Error(), "[[nocloud]]: keyward has no nocloud connector") {
		t.Errorf("sources: %v", err)
	}
}

// TestKindOf: the kind's constructor gets its own settings by value and
// the daemon's environment; settings of another type are an error that
// names the kind, not a panic.
func TestKindOf(t *testing.T) {
	var got stubSettings
	k := KindOf("typed", func(s stubSettings, _ Env) (*SyncSource, error) {
		got = s
		return &SyncSource{}, nil
	})
	if _, ok := k.Settings.(*stubSettings); !ok || k.Name != "typed" {
		t.Fatalf("kind %q with settings %T", k.Name, k.Settings)
	}
	src, err := k.New(&stubSettings{Name: "t1"}, Env{})
	if err != nil || src == nil || got.Name != "t1" {
		t.Fatalf("new: %v %v, settings %+v", src, err, got)
	}
	if _, err := k.New(&otherSettings{}, Env{}); err == nil || err.Error() != "typed: settings of type *cloud.otherSettings" {
		t.Fatalf("settings of another kind: %v", err)
	}
}

type otherSettings struct{ stubSettings }
