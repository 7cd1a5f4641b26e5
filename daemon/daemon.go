// Package daemon is the keyward daemon: it owns the data dir and its lock,
// the store, the key sources, and the socket API that every front end (TUI,
// CLI, curl) talks to. Data flows one way: sources → store → API.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/auditlog"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/daemon/logfold"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/scheduler"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// LogFoldInterval is how long identical warnings are counted before the
// count is logged (logfold).
const LogFoldInterval = 30 * time.Second

// Version is the daemon's version string.
var Version = "0.1.0-dev"

// Options are what a caller adds to a daemon beyond its config file.
type Options struct {
	Logger *slog.Logger
	// Sources are extra sources to run (the demo's); configured sources are
	// built from the config.
	Sources []sources.Source
	// Routes are added to the socket API's route table (tests).
	Routes []localapi.Route
	// Identities serves the KMIP client-identity routes when no [[kmip]]
	// section does (a test's stand-in KMIP source in Sources).
	Identities *pki.Service
	// Details fill the kind-specific part of a source's GET /v1/sources
	// entry (a KMIP source's rings and latest poll), by source name.
	Details map[string]func(*api.SourceInfo)
	// Now is the clock (tests pin it).
	Now func() time.Time
	// Ready is called once the socket accepts requests.
	Ready func(socket string)
	// beforeOpen, for tests, runs while the socket answers "starting",
	// before the store is opened.
	beforeOpen func()
	// Limits bound the socket's callers (zero fields: the defaults).
	Limits Limits
}

// Daemon is one running keyward daemon.
type Daemon struct {
	cfg        *config.Config
	opts       Options
	log        *slog.Logger
	st         *store.Store
	hub        *hub
	sink       *sink
	roles      Roles
	thresholds engine.Thresholds
	details    map[string]func(*api.SourceInfo)
	srcs       []sources.Source
	socket     string
	started    time.Time
	pid        int
	now        func() time.Time
	limits     Limits
	httpLog    *log.Logger
	audit      *auditlog.Checkpointer
	auditKey   string
	schedules  *scheduler.Runner
	// api is the socket API (built with the server; the schedules' report
	// writer asks it too).
	api     *localapi.Handler
	metrics *daemonMetrics
	peers   *peerListener
}

// Store gives in-process features (the demo, tests) the daemon's store.
func (d *Daemon) Store() *store.Store { return d.st }

// Run starts the daemon and blocks until ctx is cancelled, then shuts down
// cleanly. It fails fast, before touching anything, when the socket is
// answered by another daemon or the data dir is locked.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Repeated identical warnings (an upstream outage fails every request
	// the same way) are one line and a count per interval.
	fold := logfold.New(opts.Logger.Handler(), LogFoldInterval, nil)
	opts.Logger = slog.New(fold)
	d := &Daemon{cfg: cfg, opts: opts, log: opts.Logger, hub: newHub(), thresholds: cfg.Thresholds(),
		details: map[string]func(*api.SourceInfo){}, socket: cfg.SocketPath(), pid: os.Getpid(), now: opts.Now,
		limits: opts.Limits.withDefaults(), httpLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn)}
	for k, v := range opts.Details {
		d.details[k] = v
	}
	start := time.Now()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	ln, err := listenSocket(d.socket)
	if err != nil {
		return err
	}
	defer ln.Close()
	defer os.Remove(d.socket) // ours: never leave it behind, even when the start fails

	var warnings []string
	d.roles, warnings = NewRoles(os.Getuid(), cfg.Access.AdminGroup, cfg.Access.UserGroup)
	for _, w := range warnings {
		d.log.Warn("access", "warning", w)
	}
	if err := secureSocket(d.socket, cfg.Access); err != nil {
		d.log.Warn("socket permissions", "err", err)
	}

	// Until the store is open, migrated and checked, the socket answers
	// every request 503 "starting" (a migration can take a minute).
	starting := answerWhileStarting(ln)
	defer starting.stop()
	if opts.beforeOpen != nil {
		opts.beforeOpen()
	}
	d.st, err = store.Open(ctx, cfg.DatabasePath())
	if err != nil {
		return err
	}
	defer d.st.Close()
	d.st.SetClock(d.now)
	// The aging counts are kept for the configured thresholds; other
	// thresholds than the last start's rebuild them (seconds at a million
	// keys), before the socket answers.
	agingStart := time.Now()
	if rebuilt, err := d.st.PrepareAging(ctx, d.thresholds); err != nil {
		return fmt.Errorf("aging counts: %w", err)
	} else if rebuilt {
		d.log.Info("aging thresholds changed: aging counts rebuilt", "took", time.Since(agingStart).Round(time.Millisecond))
	}
	retention, err := d.startAudit()
	if err != nil {
		return err
	}
	defer retention.Archiver.Signer.Close() // zeroes the signing key at exit, after the last checkpoint
	d.metrics = d.newMetrics()
	d.sink = &sink{st: d.st, hub: d.hub, log: d.log, now: d.now, written: d.metrics.written}
	// Requests a killed daemon stopped inside: recorded once, before the
	// socket serves.
	if err := d.settleInFlight(ctx); err != nil {
		return err
	}

	feat, err := d.buildFeatures(ctx)
	if err != nil {
		return err
	}
	defer feat.keys.Close() // zeroes every generation's material at exit
	for k, v := range feat.details {
		d.details[k] = v
	}
	srcs := append(append([]sources.Source(nil), opts.Sources...), feat.sources...)
	d.srcs = srcs
	names := make([]string, 0, len(srcs))
	for _, s := range srcs {
		if err := d.st.EnsureSource(ctx, s.Name(), s.Kind(), s.Address()); err != nil {
			return err
		}
		names = append(names, s.Name())
	}
	runner, err := d.buildScheduler(ctx, feat, &names)
	if err != nil {
		return err
	}
	if err := d.st.MarkUnconfigured(ctx, names); err != nil {
		return err
	}

	d.started = d.now()
	srv := d.server(feat)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	_ = d.sink.record(ctx, engine.Event{Operation: engine.OpDaemonStart, Actor: currentUser(), Origin: engine.OriginSystem,
		Details: fmt.Sprintf("keyward %s pid %d", Version, d.pid)})
	for _, s := range srcs {
		if a, ok := s.(sources.Attacher); ok {
			a.Attach(d.sink) // sync now works before Run's goroutine begins
		}
	}
	var wg sync.WaitGroup
	if feat.cloud != nil {
		// Uploads a crash interrupted: settled, or listed as pending.
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := feat.cloud.ResolvePending(runCtx); err != nil && runCtx.Err() == nil {
				d.log.Warn("pending cloud uploads", "err", err)
			}
		}()
	}
	for _, s := range srcs {
		wg.Add(1)
		go func(s sources.Source) {
			defer wg.Done()
			if err := s.Run(runCtx, d.sink); err != nil && runCtx.Err() == nil {
				d.log.Error("source stopped", "source", s.Name(), "err", err)
				_ = d.sink.SetHealth(context.WithoutCancel(runCtx), s.Name(), engine.HealthDegraded, err.Error())
			}
		}(s)
	}
	foldCtx, stopFold := context.WithCancel(context.WithoutCancel(ctx))
	foldDone := make(chan struct{})
	go func() { fold.Run(foldCtx); close(foldDone) }()
	defer func() { stopFold(); <-foldDone }() // the last counts are written before Run returns
	wg.Add(3)
	go func() { defer wg.Done(); _ = runner.Run(runCtx) }()
	go func() { defer wg.Done(); d.audit.Run(runCtx, time.Duration(cfg.Audit.CheckpointInterval)) }()
	go func() { defer wg.Done(); retention.Run(runCtx, time.Duration(cfg.Retention.Interval)) }()
	if feat.proxy != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := feat.proxy.Run(runCtx); err != nil {
				d.log.Error("proxy stopped", "err", err)
			}
		}()
	}
	serveErr := make(chan error, 1)
	starting.stop()
	d.peers = newPeerListener(ln, d.roles, d.limits)
	go func() { serveErr <- srv.Serve(d.peers) }()
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			stop()
			wg.Wait()
			return fmt.Errorf("metrics_listen: listen on %s: %w", cfg.MetricsListen, err)
		}
		msrv := &http.Server{Handler: d.metrics.handler(), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		d.log.Info("daemon metrics", "listen", mln.Addr().String())
	}
	d.log.Info("daemon ready", "socket", d.socket, "data_dir", cfg.DataDir, "sources", len(srcs),
		"startup", time.Since(start).Round(time.Millisecond).String())
	if opts.Ready != nil {
		opts.Ready(d.socket)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stop()
		wg.Wait()
		return fmt.Errorf("socket server: %w", err)
	}
	d.log.Info("daemon stopping")
	stop()
	d.hub.close()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	wg.Wait()
	d.log.Info("daemon stopped")
	return nil
}

// startAudit loads the checkpoint signing key (creating it at the first
// start) and sets up the checkpointer and retention.
func (d *Daemon) startAudit() (*auditlog.Retention, error) {
	path := d.cfg.SigningKeyPath()
	signer, created, err := auditlog.LoadSigner(path)
	if err != nil {
		return nil, fmt.Errorf("%w (audit.signing_key in keyward.toml names another file)", err)
	}
	if created {
		d.log.Warn("audit signing key created: keep a copy of its verifier key off this machine, to check the activity log with keyward audit verify --key",
			"key_file", path, "verifier_key", signer.VerifierKey)
	}
	d.auditKey = signer.VerifierKey
	// Checking a checkpoint and pruning take turns: pruning never removes
	// events the check is reading.
	var mu sync.Mutex
	d.audit = auditlog.NewCheckpointer(d.st, signer, d.now, d.log)
	d.audit.File, d.audit.Syslog, d.audit.Mu = d.cfg.Audit.CheckpointFile, d.cfg.Audit.Syslog, &mu
	r := d.cfg.Retention
	return &auditlog.Retention{Log: d.log, UsageHourly: time.Duration(r.UsageHourly), Usage: time.Duration(r.Usage),
		Archiver: &auditlog.Archiver{St: d.st, Signer: signer, Dir: d.cfg.ArchiveDirPath(), Events: time.Duration(r.Events),
			SecurityEvents: time.Duration(r.SecurityEvents), Now: d.now, Mu: &mu}}, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// ErrSocketInUse means another daemon answers on the socket.
var ErrSocketInUse = errors.New("another keyward daemon is already running")

// listenSocket refuses to start when someone answers on path, removes a
// stale socket file otherwise, and listens.
func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("socket path %s exists and is not a socket; refusing to remove it", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%w on %s (stop it first, or give this one another --socket)", ErrSocketInUse, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	old := syscall.Umask(0o117)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

// secureSocket makes the socket mode 0660 owned by the socket group.
func secureSocket(path string, a config.Access) error {
	if err := os.Chmod(path, 0o660); err != nil {
		return err
	}
	group := a.SocketGroup
	if group == "" {
		group = a.UserGroup
	}
	if group == "" {
		return nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return fmt.Errorf("socket group %q does not exist; the socket stays owned by the daemon's group", group)
	}
	gid, _ := strconv.Atoi(g.Gid)
	if err := os.Chown(path, -1, gid); err != nil {
		return fmt.Errorf("give socket to group %s: %w", group, err)
	}
	return nil
}

// lockDataDir takes an exclusive lock on the data dir so two daemons never
// share one database. The lock is released when the process exits.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "keyward.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	_ = f.Chmod(0o600) // a lock file left looser by an older version
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another keyward daemon (pid %s); two daemons cannot share one database", dir, string(trimNL(b[:n])))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}
