// Package kmip is the KMIP key source: it polls an enterprise KMS over
// mutual TLS (ovh/kmip-go), finds each application's keys by a wildcard name,
// tells new keys from known ones by their fingerprint, keeps each
// application's newest generations in a keyring.Rings for the encryption
// proxy, and reports inventory, activity and health to the daemon.
//
// A poll costs one Locate (or one per application, batched, where the server
// expands wildcards), batched Get Attributes of new objects and of the
// states the rings depend on (every located object's Name and State at a
// full refresh), and a batched Get only for keys that must join a ring and
// are not held yet. A poll where nothing changed makes no Get at all.
package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// SealedStore keeps blobs wrapped under the KEK (store.Store implements it).
type SealedStore interface {
	PutSealed(ctx context.Context, kind, name string, blob []byte) error
	Sealed(ctx context.Context, kind string) (map[string][]byte, error)
	DeleteSealed(ctx context.Context, kind, name string) error
}

// SealedKind is the kind under which ring material is sealed; the name is
// "<source>/<application>".
const SealedKind = "kmip-ring"

// Deps are what the daemon hands a KMIP source.
type Deps struct {
	Logger *slog.Logger
	// Rings is shared with the encryption proxy; the source configures one
	// ring per application.
	Rings *keyring.Rings
	// Sealed, KEK and Persist control the wrapped copy of ring material that
	// lets the proxy work after a restart while the KMS is down. Nothing is
	// persisted unless all three are set.
	Sealed  SealedStore
	KEK     *kek.KEK
	Persist bool
	// DataDir holds the identity from `keyward cert` when the config names
	// no certificate.
	DataDir string
	// Usage, when set, is read for the use of a generation leaving a
	// full ring (FromConfig sets it when the sealed store can).
	Usage UsageReader
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Source polls one KMS.
type Source struct {
	cfg    config.KMIPSource
	deps   Deps
	log    *slog.Logger
	tlsCfg *tls.Config
	leaf   *x509.Certificate
	ver    *kmip.ProtocolVersion
	// ident is the client identity every handshake presents; clientGen is
	// its generation when client was dialled.
	ident     *identity
	clientGen uint64
	// loop runs the polls: interval, backoff, full refreshes, health.
	loop *sources.Loop
	// minTLS, suites and weakSuites are tls_min_version and cipher_suites.
	minTLS     uint16
	suites     []uint16
	weakSuites []string

	pollMu    sync.Mutex // one poll at a time
	pollSeq   int        // polls started, so an idle close knows it is stale
	idle      *time.Timer
	client    *kmipclient.Client
	connected string
	// failedFirst are the addresses that did not answer before connected
	// did, "addr: why", reported by every poll over this connection.
	failedFirst []string
	wildcards   int    // server-side wildcard support: 0 unknown, 1 yes, -1 no
	remembered  []byte // the memory last stored
	known       map[string]*knownKey
	others      map[string]string // located objects of no application: uid → name
	loaded      bool
	sink        sources.Sink
	lastMu      sync.Mutex // guards last alone, so status reads never wait for a poll
	last        PollStats
	nextOut     map[string]NextOut // by application; guarded by lastMu
	restored    int
	// kek wraps ring material: Deps.KEK, or the key named kek_name fetched
	// from the KMS (kekPending while it could not be fetched yet).
	kek        *kek.KEK
	kekPending bool
	kekUID     string

	sinkMu sync.Mutex
	// once is set while a request that must not be sent twice is on the
	// wire (noResend).
	once atomic.Bool
	// beforeRelocate, set by tests, runs before each Locate settle sends
	// (a KMS that fails there).
	beforeRelocate func()
}

// New checks the configuration, loads the client identity and CA, declares
// the rings, and restores them from the wrapped copy when persistence is on.
// The KEK is Deps.KEK (keys.kek_file) or, when that is nil and kek_name is
// set, the key of that name fetched from the KMS (New then waits up to the
// timeout per address for it). A wrong KEK is an error here, before anything
// is written.
func New(cfg config.KMIPSource, deps Deps) (*Source, error) {
	if deps.Rings == nil {
		return nil, errors.New("kmip: Deps.Rings is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 50
	}
	if cfg.LocatePageSize < 1 {
		cfg.LocatePageSize = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = engine.Duration(5 * time.Minute)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = engine.Duration(30 * time.Second)
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = cfg.PollInterval
	}
	if cfg.IdleClose <= 0 {
		cfg.IdleClose = engine.Duration(5 * time.Second)
	}
	if cfg.FullRefresh <= 0 {
		cfg.FullRefresh = engine.Duration(time.Hour)
	}
	if cfg.Locate == "" {
		cfg.Locate = "auto"
	}
	s := &Source{cfg: cfg, deps: deps, log: deps.Logger.With("source", cfg.Name), known: map[string]*knownKey{}, others: map[string]string{},
		nextOut: map[string]NextOut{}}
	s.loop = sources.NewLoop(cfg.Name, sources.Schedule{Interval: time.Duration(cfg.PollInterval), RetryMax: time.Duration(cfg.RetryMax),
		FullAfter: time.Duration(cfg.FullRefresh)}, depsClock{now: deps.Now}, s.log)
	spec := pki.Spec{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, KeystoreFile: cfg.KeystoreFile, PasswordFile: cfg.PasswordFile,
		Alias: cfg.KeystoreAlias, KeyPasswordFile: cfg.KeyPasswordFile}
	if deps.DataDir != "" {
		spec.Installed = pki.Paths(deps.DataDir, cfg.Name)
	}
	s.ident = &identity{spec: spec}
	var err error
	if s.minTLS, err = config.TLSVersion(cfg.TLSMinVersion); err != nil {
		return nil, fmt.Errorf("kmip source %q: tls_min_version: %w", cfg.Name, err)
	}
	if s.suites, s.weakSuites, err = config.CipherSuiteIDs(cfg.CipherSuites); err != nil {
		return nil, fmt.Errorf("kmip source %q: cipher_suites: %w", cfg.Name, err)
	}
	switch cfg.Locate {
	case "server":
		s.wildcards = 1
	case "client":
		s.wildcards = -1
	}
	if cfg.Version != "" {
		maj, min, err := config.ParseKMIPVersion(cfg.Version)
		if err != nil {
			return nil, fmt.Errorf("kmip source %q: %w", cfg.Name, err)
		}
		s.ver = &kmip.ProtocolVersion{ProtocolVersionMajor: int32(maj), ProtocolVersionMinor: int32(min)}
	}
	// A missing or broken client identity does not stop the daemon: the
	// source runs degraded, saying why. The files are looked at before every
	// poll and reloaded when they changed, and IdentityChanged (keyward cert
	// install and import) reloads them and reconnects at once.
	if err := s.loadTLS(); err != nil {
		s.log.Warn("KMIP client identity not usable yet", "err", err)
	}
	for _, a := range cfg.Applications {
		if cfg.KEKName != "" && Match(a.Pattern, cfg.KEKName) {
			return nil, fmt.Errorf("kmip source %q: kek_name %q matches the pattern %q of application %s; the key-encryption key must not be a data key", cfg.Name, cfg.KEKName, a.Pattern, a.Name)
		}
	}
	for _, a := range cfg.Applications {
		deps.Rings.Configure(a.Name, a.Pattern, a.Generations)
	}
	s.kek = deps.KEK
	if s.kek == nil && cfg.KEKName != "" && deps.Persist && deps.Sealed != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Timeout))
		k, err := s.fetchKEK(ctx)
		cancel()
		s.closeClient()
		if err != nil {
			s.kekPending = true
			s.log.Warn("cannot fetch the key-encryption key from the KMS at start", "kek_name", cfg.KEKName, "err", err)
		} else {
			s.kek = k
		}
	}
	if err := s.restore(context.Background()); err != nil {
		return nil, fmt.Errorf("kmip source %q: %w", cfg.Name, err)
	}
	return s, nil
}

// loadTLS reloads the client identity if its files changed and builds the
// TLS configuration (CA, server name, versions, suites). The identity is
// not in the configuration itself: every handshake asks s.ident for the one
// in use. An identity that no longer loads leaves the previous one in use
// (and says so, in the log and in status).
func (s *Source) loadTLS() error {
	if _, err := s.ident.refresh(false, s.deps.Now()); err != nil && s.ident.usable() == nil {
		s.log.Warn("the client identity files changed but cannot be loaded; still presenting the previous identity", "err", err)
	}
	if err := s.ident.usable(); err != nil {
		return err
	}
	cfg, err := s.buildTLS()
	if err != nil {
		return err
	}
	s.tlsCfg, s.leaf = cfg, s.ident.leaf()
	return nil
}

func (s *Source) buildTLS() (*tls.Config, error) {
	// No ClientSessionCache: a resumed session would skip the client
	// certificate, and a replaced identity must be presented at once.
	cfg := &tls.Config{MinVersion: s.minTLS, CipherSuites: s.suites, ServerName: s.cfg.ServerName,
		GetClientCertificate: s.ident.clientCertificate}
	if s.cfg.CAFile != "" {
		b, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", s.cfg.CAFile)
		}
		cfg.RootCAs = pool
	} else {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("no ca_file and no system roots: %w", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// IdentityChanged is told that the client identity's files were replaced
// (keyward cert install or import): the source reloads them, closes the
// connection made with the previous identity (now, or as soon as a poll in
// progress ends) and polls at once, so its health says within seconds what
// the KMS thinks of the new identity.
func (s *Source) IdentityChanged() {
	changed, err := s.ident.refresh(true, s.deps.Now())
	switch {
	case err != nil:
		s.log.Warn("the new client identity cannot be loaded; still presenting the previous one", "err", err)
	case changed:
		leaf := s.ident.leaf()
		s.log.Info("client identity changed; reconnecting", "subject", leaf.Subject.String(), "serial", pki.Serial(leaf))
	}
	if s.pollMu.TryLock() {
		if s.client != nil && s.clientGen != s.ident.generation() {
			s.closeClient()
		}
		s.pollMu.Unlock()
	}
	s.loop.Wake()
}

func rsaKex(names []string) string {
	for _, n := range names {
		if strings.HasPrefix(n, "TLS_RSA_") {
			return ", and RSA key exchange without forward secrecy"
		}
	}
	return ""
}

// Name implements sources.Source.
func (s *Source) Name() string { return s.cfg.Name }

// Kind implements sources.Source.
func (s *Source) Kind() string { return "kmip" }

// Address implements sources.Source.
func (s *Source) Address() string { return strings.Join(s.cfg.Addresses, ", ") }

// Restored is how many generations were restored from the wrapped copy at
// start.
func (s *Source) Restored() int { return s.restored }

// LastPoll returns the statistics of the most recent poll (zero before the
// first). It does not wait for a poll in progress.
func (s *Source) LastPoll() PollStats {
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	return s.last
}

func (s *Source) setLast(st PollStats) {
	s.lastMu.Lock()
	s.last = st
	s.lastMu.Unlock()
}

// Run implements sources.Source: poll, then wait the poll interval; after a
// failure retry with exponential backoff and jitter, keeping the rings.
func (s *Source) Run(ctx context.Context, sink sources.Sink) error {
	s.Attach(sink)
	defer s.closeClient()
	s.loop.Run(ctx, sink, func(ctx context.Context, full bool) (sources.Outcome, error) {
		return s.pollOnce(ctx, sink, full)
	})
	return nil
}

// Attach implements sources.Attacher.
func (s *Source) Attach(sink sources.Sink) {
	s.sinkMu.Lock()
	s.sink = sink
	s.sinkMu.Unlock()
}

// SyncNow implements sources.Syncer.
func (s *Source) SyncNow(ctx context.Context) error {
	s.sinkMu.Lock()
	sink := s.sink
	s.sinkMu.Unlock()
	if sink == nil {
		return errors.New("the KMIP source is not running yet")
	}
	return s.Poll(ctx, sink)
}

// depsClock is the source's clock (Deps.Now) for its run loop, which waits on
// real timers.
type depsClock struct {
	sources.SystemClock
	now func() time.Time
}

func (c depsClock) Now() time.Time { return c.now() }

func (s *Source) closeClient() {
	if s.client != nil {
		c := s.client
		s.client, s.connected = nil, ""
		func() {
			// kmip-go v0.8.1 panics closing a client whose reconnect failed
			// (nil connection); there is nothing left to close then.
			defer func() { _ = recover() }()
			_ = c.Close()
		}()
	}
}

// Close zeroes nothing itself (the rings are shared) but drops the KMS
// connection.
func (s *Source) Close() error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.pollStarted() // no idle close left pending
	s.closeClient()
	return nil
}

var _ sources.Source = (*Source)(nil)
var _ sources.Syncer = (*Source)(nil)
var _ sources.Attacher = (*Source)(nil)
