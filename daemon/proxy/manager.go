package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// Manager runs the proxy of every configured application, the optional
// metrics listener, the status publisher and the usage flusher.
type Manager struct {
	cfg     config.Proxy
	apps    []*App
	byName  map[string]*App
	rec     Recorder
	log     *slog.Logger
	metrics *metrics

	mu        sync.Mutex
	listeners map[string]net.Listener // app → bound listener
	metricsLn net.Listener
	servers   []*http.Server
	lastSent  map[string]string
}

// NewManager builds (without listening yet) the proxy of every application
// in cfg.Apps. keys supplies key material (keyring.Rings in the daemon);
// rec records events, usage and status (nil records nothing).
func NewManager(cfg config.Proxy, keys keyring.KeySource, rec Recorder, logger *slog.Logger) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if rec == nil {
		rec = nopRecorder{}
	}
	if cfg.UsageFlush <= 0 {
		cfg.UsageFlush = 60 * 1e9
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 1e9
	}
	m := &Manager{cfg: cfg, byName: map[string]*App{}, rec: rec, log: logger.With("component", "proxy"),
		listeners: map[string]net.Listener{}, lastSent: map[string]string{}}
	m.metrics = newMetrics(m)
	for _, ac := range cfg.Apps {
		a, err := New(ac, keys, rec, m.log)
		if err != nil {
			m.closeApps()
			return nil, err
		}
		a.metrics = m.metrics.forApp(a.Name())
		m.apps = append(m.apps, a)
		m.byName[a.Name()] = a
	}
	return m, nil
}

func (m *Manager) closeApps() {
	for _, a := range m.apps {
		a.Close()
	}
}

// Apps returns the proxied applications in configuration order.
func (m *Manager) Apps() []*App { return m.apps }

// App returns one application's proxy.
func (m *Manager) App(name string) (*App, bool) {
	a, ok := m.byName[name]
	return a, ok
}

// Listen binds every application's listener (and the metrics listener), so
// a port in use is reported before anything runs.
func (m *Manager) Listen() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.apps {
		if _, ok := m.listeners[a.Name()]; ok {
			continue
		}
		ln, err := net.Listen("tcp", a.cfg.Listen)
		if err != nil {
			m.closeListenersLocked()
			return fmt.Errorf("proxy %s: listen on %s: %w", a.Name(), a.cfg.Listen, err)
		}
		if a.cfg.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
			if err != nil {
				ln.Close()
				m.closeListenersLocked()
				return fmt.Errorf("proxy %s: tls_cert/tls_key: %w", a.Name(), err)
			}
			tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
			if a.cfg.ClientCAFile != "" {
				if tc.ClientCAs, err = pemPool("client_ca_file", a.cfg.ClientCAFile); err != nil {
					ln.Close()
					m.closeListenersLocked()
					return fmt.Errorf("proxy %s: %w", a.Name(), err)
				}
				tc.ClientAuth = tls.RequireAndVerifyClientCert
			}
			ln = tls.NewListener(ln, tc)
		}
		m.listeners[a.Name()] = ln
	}
	if m.cfg.MetricsListen != "" && m.metricsLn == nil {
		ln, err := net.Listen("tcp", m.cfg.MetricsListen)
		if err != nil {
			m.closeListenersLocked()
			return fmt.Errorf("proxy metrics: listen on %s: %w", m.cfg.MetricsListen, err)
		}
		m.metricsLn = ln
	}
	return nil
}

func (m *Manager) closeListenersLocked() {
	for n, ln := range m.listeners {
		ln.Close()
		delete(m.listeners, n)
	}
	if m.metricsLn != nil {
		m.metricsLn.Close()
		m.metricsLn = nil
	}
}

// Addr is the address app listens on (after Listen), e.g. to learn a port
// chosen by the system.
func (m *Manager) Addr(app string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ln, ok := m.listeners[app]; ok {
		return ln.Addr().String()
	}
	return ""
}

// MetricsAddr is the metrics listener's address ("" when not configured).
func (m *Manager) MetricsAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.metricsLn == nil {
		return ""
	}
	return m.metricsLn.Addr().String()
}

// MetricsHandler serves the Prometheus metrics (also mountable elsewhere).
func (m *Manager) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{})
}

// Run listens (if Listen was not called), serves every application until
// ctx ends, then shuts down gracefully, flushes usage and zeroes keys.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.Listen(); err != nil {
		return err
	}
	m.mu.Lock()
	errc := make(chan error, len(m.listeners)+1)
	for _, a := range m.apps {
		srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
		m.servers = append(m.servers, srv)
		ln := m.listeners[a.Name()]
		m.log.Info("proxy listening", "app", a.Name(), "listen", ln.Addr().String(), "upstream", a.upstream.Redacted())
		go func() { errc <- srv.Serve(ln) }()
	}
	if m.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.MetricsHandler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		m.servers = append(m.servers, srv)
		ln := m.metricsLn
		go func() { errc <- srv.Serve(ln) }()
	}
	servers := m.servers
	m.mu.Unlock()

	flush := time.NewTicker(time.Duration(m.cfg.UsageFlush))
	status := time.NewTicker(time.Duration(m.cfg.StatusInterval))
	defer flush.Stop()
	defer status.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				runErr = fmt.Errorf("proxy: %w", err)
				break loop
			}
		case <-flush.C:
			m.FlushUsage(ctx)
		case <-status.C:
			m.publish(false)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	m.FlushUsage(context.Background())
	m.publish(true)
	m.closeApps()
	return runErr
}

// FlushUsage writes the usage counted since the last flush. On a store
// error the counts are put back to be written next time.
func (m *Manager) FlushUsage(ctx context.Context) {
	now := time.Now()
	for _, a := range m.apps {
		rows := a.drainUsage(now)
		if len(rows) == 0 {
			continue
		}
		if err := m.rec.Usage(ctx, rows); err != nil {
			m.log.Warn("usage not stored, will retry", "app", a.Name(), "err", err)
			for _, r := range rows {
				c := a.usage.counter(r.Hour.Unix(), r.KeyID)
				c.enc.Add(r.Encrypts)
				c.dec.Add(r.Decrypts)
			}
		}
	}
}

// publish sends the status of every application that changed (or all when
// force is set, or every 10 s so a front end sees the clock move).
func (m *Manager) publish(force bool) {
	for _, a := range m.apps {
		st := a.Status()
		sig := fmt.Sprint(st.Requests, st.Errors, st.FieldsEncrypt, st.FieldsDecrypt, st.Health.OK, st.Ring.KeyID, st.Ring.Size, st.Time.Unix()/10)
		m.mu.Lock()
		same := m.lastSent[a.Name()] == sig
		m.lastSent[a.Name()] = sig
		m.mu.Unlock()
		if !same || force {
			m.rec.Status(st)
		}
	}
}

// Statuses returns every application's status, in configuration order.
func (m *Manager) Statuses() []engine.ProxyStatus {
	out := make([]engine.ProxyStatus, 0, len(m.apps))
	for _, a := range m.apps {
		out = append(out, a.Status())
	}
	return out
}

// pemPool reads the CA certificates of file, named by its config key in
// errors (upstream_ca, client_ca_file).
func pemPool(key, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate found", key, file)
	}
	return pool, nil
}
