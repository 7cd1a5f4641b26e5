// Package daemontest runs a real keyward daemon for tests of other
// packages: on a real socket, from a real configuration, stopped when the
// test ends.
package daemontest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
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
