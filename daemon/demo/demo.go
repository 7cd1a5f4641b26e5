// Package demo runs the whole keyward system on one machine with nothing to
// configure: an embedded KMIP key server, an emulated Azure Key Vault,
// keyward's fake of Google Cloud KMS and an embedded AWS KMS (local-kms), all
// seeded with realistic keys; a demo SaaS application behind the
// encryption proxy with gentle live traffic; a daemon in a temporary data
// dir pointed at all of them; and then the TUI (or, headless, nothing but
// the stack until interrupted). Quitting removes everything it made.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/azure"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/demo/saas"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
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
	// Rotate is how often the demo KMS makes a new key generation
	// (default 3 minutes); Poll how often keyward polls it (default 10 s).
	Rotate, Poll time.Duration
	// Rate is the demo traffic in requests per second (default 3; 0 keeps
	// the default, negative disables traffic).
	Rate float64
}

// Stack is what a running demo is made of, for the banner and tests.
type Stack struct {
	Dir, Socket, Log string
	KMS              string
	VaultURL         string
	GCP              string // the Cloud KMS fake's address
	AWSURL           string
	AppURL, ProxyURL string
}

// Run starts the demo and blocks until the TUI quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Rotate == 0 {
		opts.Rotate = 3 * time.Minute
	}
	if opts.Poll == 0 {
		opts.Poll = 10 * time.Second
	}
	if opts.Rate == 0 {
		opts.Rate = 3
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "keyward-demo-")
		if err != nil {
			return err
		}
		dir = d
		defer os.RemoveAll(dir)
	}
	st := Stack{Dir: dir, Log: filepath.Join(dir, "daemon.log")}
	logFile, err := os.OpenFile(st.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	// The embedded KMIP server logs through the default logger; keep it off
	// the terminal the TUI draws on.
	prev := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(prev)

	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Socket = filepath.Join(dir, "keyward.sock")
	cfg.Keys.KEKFile = filepath.Join(dir, "kek")
	// Checkpoints every half minute, so the demo's Activity pane and
	// keyward status show the chain verified as it grows.
	cfg.Audit.CheckpointInterval = engine.Duration(30 * time.Second)
	if err := kek.Generate(cfg.Keys.KEKFile); err != nil {
		return err
	}

	sctx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	kmsSrv, kmipSection, err := kms.StartDemo(sctx, filepath.Join(dir, "kms"), "acme-kms", opts.Poll, opts.Rotate, logger)
	if err != nil {
		return fmt.Errorf("demo KMS: %w", err)
	}
	defer kmsSrv.Stop()
	st.KMS = kmsSrv.Addr()
	cfg.KMIP = append(cfg.KMIP, kmipSection)

	vs, err := vault.Start(sctx, vault.Options{})
	if err != nil {
		return fmt.Errorf("demo vault: %w", err)
	}
	defer vs.Close()
	if _, err := vs.SeedDemo(time.Now()); err != nil {
		return fmt.Errorf("demo vault: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vault"), 0o700); err != nil {
		return err
	}
	caFile, tokenFile, err := vs.WriteFiles(filepath.Join(dir, "vault"))
	if err != nil {
		return fmt.Errorf("demo vault files: %w", err)
	}
	azureSection := azure.EmulatorSettings("azure-demo", vs.URL, caFile, tokenFile, vs.Geography())
	st.VaultURL = vs.URL
	cfg.AddSource("azure", &azureSection)

	gcpSection, gcpAddr, stopGCP, err := startGCP(time.Now())
	if err != nil {
		return err
	}
	defer stopGCP()
	st.GCP = gcpAddr
	cfg.AddSource("gcp", gcpSection)

	stopAWS, err := startAWS(sctx, dir, logger, cfg, &st)
	if err != nil {
		return fmt.Errorf("demo AWS KMS: %w", err)
	}
	defer stopAWS()

	app, err := saas.Start(sctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer app.Close()
	proxyAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	st.AppURL, st.ProxyURL = app.URL(), "http://"+proxyAddr
	cfg.Proxy.Apps = append(cfg.Proxy.Apps, saas.ProxyApp("crm", proxyAddr, app.URL()))
	cfg.Proxy.UsageFlush = engine.Duration(10 * time.Second) // the usage report fills while you watch
	cfg.Schedules = append(cfg.Schedules, Schedules...)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}

	dctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(dctx, cfg, daemon.Options{Logger: logger, Ready: func(s string) { ready <- s }})
	}()
	select {
	case st.Socket = <-ready:
	case err := <-done:
		return fmt.Errorf("demo daemon did not start: %w (log: %s)", err, st.Log)
	case <-ctx.Done():
		return nil
	}
	if opts.Rate > 0 {
		go func() { _ = saas.Drive(dctx, st.ProxyURL, opts.Rate) }()
	}
	if opts.Ready != nil {
		opts.Ready(st.Socket)
	}

	if opts.Headless || opts.RunTUI == nil {
		out := opts.Out
		if out == nil {
			out = os.Stdout
		}
		banner(out, st)
		select {
		case <-ctx.Done():
		case err := <-done:
			return err
		}
	} else {
		firstSyncs(ctx, st.Socket, 5*time.Second)
		if err := opts.RunTUI(ctx, st.Socket); err != nil {
			stop()
			<-done
			return err
		}
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// firstSyncs waits, at most limit, until every key source has synced once,
// so that the TUI opens on the whole inventory at the top of the list. It
// used to open while only the KMIP keys were in: the clouds' keys then came
// in sorted above the selected one, which the Keys pane follows, and the
// first screen read "19–36 of 44 keys" with nothing typed. A source that
// cannot sync costs the wait, and the TUI says why it is unhealthy.
func firstSyncs(ctx context.Context, socket string, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := api.NewClient(socket)
	for {
		srcs, err := c.Sources(ctx)
		synced := err == nil
		for _, s := range srcs {
			if s.Kind != api.ScheduleSourceKind && s.LastSync == nil {
				synced = false
			}
		}
		if synced {
			return
		}
		select {
		case <-ctx.Done():
			return // open the TUI anyway: it shows each source's state
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Schedules are the demo's two schedules, shown in the Schedules pane: a
// weekly rotation of the keys expiring within 30 days, and a daily backup
// of the vault's keys keeping a week of them.
var Schedules = []schedule.Spec{
	{Name: "weekly-expiring-rotation", Kind: schedule.KindRotate, Every: "weekly mon 02:00", Aging: "expiring-30d", Jitter: "30m"},
	{Name: "daily-vault-backup", Kind: schedule.KindBackup, Every: "daily 01:30", Sources: []string{"azure-demo"}, Keep: 7},
}

func banner(out io.Writer, st Stack) {
	fmt.Fprintf(out, "keyward demo is running (Ctrl-C to stop; everything in %s is removed then)\n\n", st.Dir)
	fmt.Fprintf(out, "  socket:      %s\n  daemon log:  %s\n  KMIP server: %s (embedded, mutual TLS)\n  Azure vault: %s (emulated)\n  Google KMS:  %s (keyward's fake, project %s)\n", st.Socket, st.Log, st.KMS, st.VaultURL, st.GCP, gcpkms.DemoProject)
	if st.AWSURL != "" {
		fmt.Fprintf(out, "  AWS KMS:     %s\n", st.AWSURL)
	}
	fmt.Fprintf(out, "  demo app:    %s (what the cloud stores)\n  via proxy:   %s (what users see)\n\n", st.AppURL, st.ProxyURL)
	fmt.Fprintf(out, "Try:\n  export KEYWARD_SOCKET=%s\n  keyward status\n  keyward keys list\n  keyward report aging\n", st.Socket)
	fmt.Fprintf(out, "  curl -s --unix-socket %s http://keyward/v1/keys\n", st.Socket)
	fmt.Fprintf(out, "  curl -s %s/records | head -c 400   # ciphertext, as stored upstream\n", st.AppURL)
	fmt.Fprintf(out, "  curl -s %s/records | head -c 400   # plaintext, through the proxy\n", st.ProxyURL)
	fmt.Fprintf(out, "  keyward tui\n")
}

// freeLoopbackAddr finds a free port on 127.0.0.1 for the demo proxy.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
