package config

import (
	"path/filepath"
	"time"

	"github.com/keyward/keyward/engine"
)

// Audit is the [audit] section: how the activity log's chain is signed and
// where its checkpoints and archives go.
type Audit struct {
	// SigningKey is the Ed25519 checkpoint signing key (a signed-note
	// private key, mode 0600), created at the first start. Default: beside
	// keys.kek_file (keyward-audit.key in its directory), else
	// <data_dir>/audit/signing.key.
	SigningKey string `toml:"signing_key"`
	// CheckpointInterval is how often the head is signed (when it moved).
	CheckpointInterval engine.Duration `toml:"checkpoint_interval"`
	// CheckpointFile, when set, gets every signed checkpoint appended: put it
	// on a mount that lives elsewhere (the off-box copy).
	CheckpointFile string `toml:"checkpoint_file"`
	// Syslog also sends every signed checkpoint to the local syslog.
	Syslog bool `toml:"syslog"`
	// ArchiveDir holds the archive segments of pruned events. Default:
	// <data_dir>/audit/archive.
	ArchiveDir string `toml:"archive_dir"`
}

// Retention is the [retention] section: how long history is kept.
type Retention struct {
	// Events: activity events older than this are archived and pruned
	// ("0": kept forever).
	Events engine.Duration `toml:"events"`
	// SecurityEvents: the floor for security-relevant events (compromise,
	// destruction, deletion, purge, identity and role changes, refused
	// requests): kept in the live log at least this long ("0": forever).
	SecurityEvents engine.Duration `toml:"security_events"`
	// UsageHourly: hourly usage rows older than this are rolled up into
	// one row per day ("0": never).
	UsageHourly engine.Duration `toml:"usage_hourly"`
	// Usage: daily usage rows older than this are dropped ("0": never).
	Usage engine.Duration `toml:"usage"`
	// Interval is how often retention runs.
	Interval engine.Duration `toml:"interval"`
}

func (a *Audit) defaults() {
	a.CheckpointInterval = engine.Duration(10 * time.Minute)
}

func (r *Retention) defaults() {
	day := 24 * time.Hour
	r.Events = engine.Duration(400 * day)
	r.SecurityEvents = engine.Duration(7 * 365 * day)
	r.UsageHourly = engine.Duration(90 * day)
	r.Usage = engine.Duration(3 * 365 * day)
	r.Interval = engine.Duration(time.Hour)
}

// SigningKeyPath is the checkpoint signing key's file.
func (c *Config) SigningKeyPath() string {
	switch {
	case c.Audit.SigningKey != "":
		return c.Audit.SigningKey
	case c.Keys.KEKFile != "":
		return filepath.Join(filepath.Dir(c.Keys.KEKFile), "keyward-audit.key")
	}
	return filepath.Join(c.DataDir, "audit", "signing.key")
}

// ArchiveDirPath is where archive segments are written.
func (c *Config) ArchiveDirPath() string {
	if c.Audit.ArchiveDir != "" {
		return c.Audit.ArchiveDir
	}
	return filepath.Join(c.DataDir, "audit", "archive")
}

// DatabasePath is the SQLite database in the data dir.
func (c *Config) DatabasePath() string { return filepath.Join(c.DataDir, "keyward.db") }

func (c *Config) validateAudit() []string {
	var errs []string
	if c.Audit.CheckpointInterval != 0 && time.Duration(c.Audit.CheckpointInterval) < time.Second {
		errs = append(errs, "audit.checkpoint_interval: at least 1s (or \"0\" to sign only at start and stop)")
	}
	r := c.Retention
	if r.Interval != 0 && time.Duration(r.Interval) < time.Second {
		errs = append(errs, "retention.interval: at least 1s (or \"0\" to never prune)")
	}
	if r.Events != 0 && r.SecurityEvents != 0 && r.SecurityEvents < r.Events {
		errs = append(errs, "retention.security_events: "+r.SecurityEvents.String()+" is shorter than retention.events ("+r.Events.String()+"): the floor for security-relevant events must be at least as long")
	}
	if r.Usage != 0 && r.UsageHourly != 0 && r.Usage < r.UsageHourly {
		errs = append(errs, "retention.usage: "+r.Usage.String()+" is shorter than retention.usage_hourly ("+r.UsageHourly.String()+")")
	}
	return errs
}
