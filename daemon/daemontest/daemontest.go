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
)

// Start runs daemon.Run with cfg and opts (a discarding logger unless opts
// has one), waits until it serves, and returns its socket. The daemon stops
// when the test ends; a start that fails or takes over 30 s fails the test.
func Start(t testing.TB, cfg *config.Config, opts daemon.Options) string {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	opts.Ready = func(s string) { ready <- s }
	go func() { done <- daemon.Run(ctx, cfg, opts) }()
	var sock string
	select {
	case sock = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("daemon not ready after 30 s")
	}
	t.Cleanup(func() { cancel(); <-done })
	return sock
}
