// Package daemontest runs a real keyward daemon for tests of other
// packages: on a real socket, from a real configuration, stopped when the
// test ends.
package daemontest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/testkit"
)

// Start runs daemon.Run with cfg and opts (a discarding logger unless opts
// has one), waits until it serves, and returns its socket. The daemon stops
// when the test ends; a start that fails or takes over 30 s fails the test.
func Start(t testing.TB, cfg *config.Config, opts daemon.Options) string {
	t.Helper()
	return Run(t, cfg, opts).Addr
}

// Run is Start for a test that stops the daemon itself (Stop), to see
// what a front end does when the daemon goes away.
func Run(t testing.TB, cfg *config.Config, opts daemon.Options) *testkit.Running {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return testkit.Start(t, "the daemon", 30*time.Second, func(ctx context.Context, ready func(string)) error {
		opts.Ready = ready
		return daemon.Run(ctx, cfg, opts)
	})
}

// NewConfig is the default configuration with everything of the daemon's
// in dir: the data directory dir/data and the socket dir/keyward.sock.
func NewConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Socket = filepath.Join(dir, "keyward.sock")
	return cfg
}

// Config writes dir/keyward.toml — the data directory dir/data, the
// socket dir/k.sock and a new key-encryption key in dir/kek — followed by
// sections (TOML: [[aws]], [[gcp]], …), and loads it as keyward daemon
// does.
func Config(t testing.TB, dir, sections string) *config.Config {
	t.Helper()
	kekFile := filepath.Join(dir, "kek")
	if err := kek.Generate(kekFile); err != nil {
		t.Fatal(err)
	}
	return ConfigFile(t, dir, fmt.Sprintf("[keys]\nkek_file = %q\n\n%s", kekFile, sections))
}

// ConfigFile writes dir/keyward.toml — the data directory dir/data and the
// socket dir/k.sock, followed by sections — and loads it as keyward daemon
// does (its Path is the file): Config without a key-encryption key, for a
// daemon that keeps its audit signing key in the clear beside the log.
func ConfigFile(t testing.TB, dir, sections string) *config.Config {
	t.Helper()
	toml := fmt.Sprintf("data_dir = %q\nsocket = %q\n\n%s", filepath.Join(dir, "data"), filepath.Join(dir, "k.sock"), sections)
	path := filepath.Join(dir, "keyward.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
