// Package demo runs the whole keyward system on one machine with nothing to
// configure: a daemon in a temporary data dir with seeded key sources, and
// then the TUI (or, headless, nothing but the daemon until interrupted).
// Quitting removes everything it made.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
)

// Options configure a demo run.
type Options struct {
	// Headless runs without the TUI until ctx ends.
	Headless bool
	// Out receives the headless banner.
	Out io.Writer
	// Dir is the data dir to use; empty means a new temporary one that is
	// removed at the end.
	Dir string
	// RunTUI opens the TUI on the socket and returns when the user quits.
	RunTUI func(ctx context.Context, socket string) error
	// Ready is called with the socket once the daemon answers (tests).
	Ready func(socket string)
}

// Run starts the demo and blocks until the TUI quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "keyward-demo-")
		if err != nil {
			return err
		}
		dir = d
		defer os.RemoveAll(dir)
	}
	logPath := filepath.Join(dir, "daemon.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))

	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Socket = filepath.Join(dir, "keyward.sock")
	now := time.Now()
	srcs := []sources.Source{
		seed.New("acme-kms", seed.AcmeKeys("acme-kms", now)),
	}

	dctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(dctx, cfg, daemon.Options{Logger: logger, Sources: srcs,
			Ready: func(s string) { ready <- s }})
	}()
	var socket string
	select {
	case socket = <-ready:
	case err := <-done:
		return fmt.Errorf("demo daemon did not start: %w (log: %s)", err, logPath)
	case <-ctx.Done():
		return nil
	}
	if opts.Ready != nil {
		opts.Ready(socket)
	}

	if opts.Headless || opts.RunTUI == nil {
		out := opts.Out
		if out == nil {
			out = os.Stdout
		}
		fmt.Fprintf(out, "keyward demo is running (Ctrl-C to stop; everything in %s is removed then)\n\n", dir)
		fmt.Fprintf(out, "  socket: %s\n  log:    %s\n\n", socket, logPath)
		fmt.Fprintf(out, "Try:\n  export KEYWARD_SOCKET=%s\n  keyward keys list\n  keyward status\n", socket)
		fmt.Fprintf(out, "  curl -s --unix-socket %s http://keyward/v1/keys\n", socket)
		fmt.Fprintf(out, "  keyward tui\n")
		select {
		case <-ctx.Done():
		case err := <-done:
			return err
		}
	} else {
		if err := opts.RunTUI(ctx, socket); err != nil {
			stop()
			<-done
			return err
		}
	}
	stop()
	return <-done
}
