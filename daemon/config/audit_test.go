package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetentionDefaults are the README's: 400 days of events, 7 years of
// security-relevant ones, 90 days of hourly usage, 3 years of usage,
// hourly runs, a checkpoint every 10 minutes.
func TestRetentionDefaults(t *testing.T) {
	c := Default()
	day := 24 * time.Hour
	r := c.Retention
	if time.Duration(r.Events) != 400*day || time.Duration(r.SecurityEvents) != 7*365*day || time.Duration(r.UsageHourly) != 90*day ||
		time.Duration(r.Usage) != 3*365*day || time.Duration(r.Interval) != time.Hour || time.Duration(c.Audit.CheckpointInterval) != 10*time.Minute {
		t.Fatalf("defaults: %+v %+v", r, c.Audit)
	}
	c.DataDir = "/var/lib/keyward"
	if c.SigningKeyPath() != "/var/lib/keyward/audit/signing.key" || c.ArchiveDirPath() != "/var/lib/keyward/audit/archive" {
		t.Fatalf("paths: %s %s", c.SigningKeyPath(), c.ArchiveDirPath())
	}
	c.Keys.KEKFile = "/etc/keyward/kek"
	if c.SigningKeyPath() != "/etc/keyward/keyward-audit.key" {
		t.Fatalf("beside the KEK: %s", c.SigningKeyPath())
	}
}

func TestRetentionFloorShorterThanAgeIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keyward.toml")
	os.WriteFile(p, []byte("[retention]\nevents = \"2y\"\nsecurity_events = \"1y\"\n"), 0o600)
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "retention.security_events") {
		t.Fatalf("err = %v", err)
	}
}
