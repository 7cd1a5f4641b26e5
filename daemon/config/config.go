// Package config reads keyward.toml: one file, every key optional, unknown
// keys and bad values reported with the key's name and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
)

// Config is the whole of keyward.toml. Sections for sources and the proxy
// live in their own files of this package (kmip.go, azure.go, proxy.go).
type Config struct {
	// DataDir holds the database, the lock and generated client keys.
	DataDir string `toml:"data_dir"`
	// Socket is the Unix socket the daemon serves its API on.
	Socket string `toml:"socket"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	Access   Access `toml:"access"`
	Aging    Aging  `toml:"aging"`
	Keys     Keys   `toml:"keys"`
	// MetricsListen is a TCP address for the daemon's Prometheus metrics
	// ("" : only GET /v1/metrics on the socket).
	MetricsListen string    `toml:"metrics_listen"`
	Audit         Audit     `toml:"audit"`
	Retention     Retention `toml:"retention"`

	KMIP  []KMIPSource `toml:"kmip"`
	Proxy Proxy        `toml:"proxy"`

	// Schedules are the [[schedule]] sections: rotations, syncs, backups
	// and reports the daemon runs by itself (read-only over the socket).
	Schedules []schedule.Spec `toml:"schedule"`

	// Sections holds the registered source sections ([[azure]], and each
	// cloud connector's own), by section name, in file order.
	Sections map[string][]Section `toml:"-"`

	// Path is the file the config was read from ("" for defaults).
	Path string `toml:"-"`
}

// Access maps socket callers to roles.
type Access struct {
	// AdminGroup members (and root) may change state.
	AdminGroup string `toml:"admin_group"`
	// UserGroup members may read inventory and reports.
	UserGroup string `toml:"user_group"`
	// SocketGroup owns the socket file (mode 0660); default: UserGroup.
	SocketGroup string `toml:"socket_group"`
}

// Aging sets the thresholds of the aging classification.
type Aging struct {
	// ExpiringDays are the warning windows, e.g. [7, 30, 90] or [10, 30].
	ExpiringDays []int `toml:"expiring_days"`
	// RotationPeriod is how old a key may get before rotation is overdue.
	RotationPeriod engine.Duration `toml:"rotation_period"`
}

// Keys holds key-material policy shared by the KMIP rings and cloud backups.
type Keys struct {
	// KEKFile is a 32-byte key-encryption key (raw or hex/base64 text), mode
	// 0600, used to wrap ring material and backups stored in SQLite.
	KEKFile string `toml:"kek_file"`
	// PersistMaterial allows wrapped ring material in the database so the
	// proxy survives a restart while the KMS is down.
	PersistMaterial bool `toml:"persist_material"`
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	c := &Config{
		DataDir:  defaultDataDir(),
		LogLevel: "info",
		Access:   Access{AdminGroup: "keyward-admin", UserGroup: "keyward"},
		Aging:    Aging{ExpiringDays: []int{7, 30, 90}, RotationPeriod: engine.Duration(engine.DefaultThresholds().RotationPeriod)},
		Keys:     Keys{PersistMaterial: true},
	}
	c.Proxy.defaults()
	c.Audit.defaults()
	c.Retention.defaults()
	return c
}

func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/keyward"
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "keyward")
	}
	return filepath.Join(os.TempDir(), "keyward")
}

// SocketPath is the configured socket, or keyward.sock in the data dir.
func (c *Config) SocketPath() string {
	if c.Socket != "" {
		return c.Socket
	}
	return filepath.Join(c.DataDir, "keyward.sock")
}

// Thresholds converts the aging section for the engine.
func (c *Config) Thresholds() engine.Thresholds {
	return engine.Thresholds{ExpiringDays: c.Aging.ExpiringDays, RotationPeriod: 0 + timeDuration(c.Aging.RotationPeriod)}
}

// DefaultSocket is where front ends look for the daemon when neither
// --socket nor KEYWARD_SOCKET says otherwise.
func DefaultSocket() string { return Default().SocketPath() }

// Load reads path (or only defaults when path is ""), rejects unknown keys
// and bad values with their line, and validates the result.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, c.Validate()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := Parse(b, c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.Path = path
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, withLines(err, b))
	}
	return c, nil
}

// Parse decodes TOML into c strictly. Top-level arrays of tables that a
// connector registered (RegisterSection) decode into their own types.
func Parse(b []byte, c *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
	err := dec.Decode(c)
	var strict *toml.StrictMissingError
	if err != nil && !errors.As(err, &strict) {
		return decodeError(err)
	}
	var unknown []toml.DecodeError
	if strict != nil {
		unknown = strict.Errors
	}
	unknown, err = decodeSections(b, c, unknown)
	if err != nil {
		return decodeError(err)
	}
	if len(unknown) > 0 {
		msgs := make([]string, 0, len(unknown))
		for _, e := range unknown {
			row, col := e.Position()
			msgs = append(msgs, fmt.Sprintf("line %d, column %d: unknown key %q", row, col, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

func decodeError(err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := strings.Join(de.Key(), ".")
		if key != "" {
			return fmt.Errorf("line %d, column %d: key %q: %s", row, col, key, de.Error())
		}
		return fmt.Errorf("line %d, column %d: %s", row, col, de.Error())
	}
	return err
}

// Validate checks values that TOML types alone cannot.
func (c *Config) Validate() error {
	var errs []string
	add := func(key, format string, a ...any) { errs = append(errs, key+": "+fmt.Sprintf(format, a...)) }
	if c.DataDir == "" {
		add("data_dir", "must not be empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.Keys.KEKFile != "" && c.DataDir != "" && within(c.Keys.KEKFile, c.DataDir) {
		add("keys.kek_file", "%s is inside data_dir %s: a key-encryption key beside the database it protects protects nothing (one copy of the directory takes both); keep it elsewhere, e.g. /etc/keyward/kek (mode 0600)", c.Keys.KEKFile, c.DataDir)
	}
	if len(c.Aging.ExpiringDays) == 0 {
		add("aging.expiring_days", "needs at least one window in days, e.g. [7, 30, 90]")
	}
	seen := map[int]bool{}
	for _, d := range c.Aging.ExpiringDays {
		if d <= 0 || d > 3650 {
			add("aging.expiring_days", "%d is not a number of days between 1 and 3650", d)
		}
		if seen[d] {
			add("aging.expiring_days", "%d is listed twice", d)
		}
		seen[d] = true
	}
	sort.Ints(c.Aging.ExpiringDays)
	names := map[string]string{}
	source := func(section, name string) {
		if name == "" {
			add(section, "every source needs a name")
			return
		}
		if prev, ok := names[name]; ok {
			add(section, "source name %q is already used by a [[%s]] section", name, prev)
		}
		names[name] = section
	}
	for i := range c.KMIP {
		source("kmip", c.KMIP[i].Name)
		errs = append(errs, c.KMIP[i].validate(fmt.Sprintf("kmip[%d]", i))...)
	}
	for _, section := range SectionNames() {
		for i, s := range c.Sections[section] {
			source(section, s.SourceName())
			errs = append(errs, s.Validate(fmt.Sprintf("%s[%d]", section, i))...)
		}
	}
	for section := range c.Sections {
		if _, ok := sectionType(section); !ok {
			add(section, "no connector of this kind is built into keyward")
		}
	}
	errs = append(errs, c.Proxy.validate(c)...)
	errs = append(errs, c.validateAudit()...)
	seenSchedule := map[string]bool{}
	for i, sp := range c.Schedules {
		key := fmt.Sprintf("schedule[%d]", i)
		if _, err := schedule.Parse(sp); err != nil {
			add(key, "%s", strings.TrimPrefix(err.Error(), schedule.ErrInvalid.Error()+": "))
		}
		if seenSchedule[sp.Name] {
			add(key, "schedule name %q is used twice", sp.Name)
		}
		seenSchedule[sp.Name] = true
	}
	if len(errs) > 0 {
		return Problems(errs)
	}
	return nil
}

// within says whether path is dir or lies below it (lexically, after
// making both absolute).
func within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
