package kms

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/engine"
)

// SourceConfig is a [[kmip]] section pointing at this KMS, with one
// application per seeded App (pattern Prefix + "*"), for the demo's config.
func (s *Server) SourceConfig(name string, poll time.Duration) config.KMIPSource {
	c := config.KMIPSource{Name: name, Addresses: []string{s.Addr()}, ServerName: "localhost", CAFile: s.CAFile,
		CertFile: s.CertFile, KeyFile: s.KeyFile, PollInterval: engine.Duration(poll), Timeout: engine.Duration(10 * time.Second),
		RetryMax: engine.Duration(poll), BatchSize: 50, Locate: "auto"}
	for _, a := range s.opts.Apps {
		c.Applications = append(c.Applications, config.Application{Name: a.Name, Pattern: a.Prefix + "*", Generations: 16})
	}
	return c
}

// RotateEvery creates a new generation every d, taking the seeded
// applications in turn, until ctx ends; onRotate (optional) hears of each.
func (s *Server) RotateEvery(ctx context.Context, d time.Duration, onRotate func(app, name string, err error)) {
	if len(s.opts.Apps) == 0 || d <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			app := s.opts.Apps[i%len(s.opts.Apps)].Name
			name, err := s.Rotate(app)
			if onRotate != nil {
				onRotate(app, name, err)
			}
		}
	}()
}

// StartDemo starts the demo KMS: DemoApps seeded, certificates in dir, a new
// generation every rotate (taking crm and hr in turn; 0 disables), and a
// [[kmip]] section named source that points keyward at it, polling every
// poll. Rotations are logged to log (optional).
func StartDemo(ctx context.Context, dir, source string, poll, rotate time.Duration, log *slog.Logger) (*Server, config.KMIPSource, error) {
	s, err := Start(ctx, Options{Dir: dir, Apps: DemoApps})
	if err != nil {
		return nil, config.KMIPSource{}, err
	}
	s.RotateEvery(ctx, rotate, func(app, name string, err error) {
		if log == nil {
			return
		}
		if err != nil {
			log.Warn("demo KMS rotation failed", "app", app, "err", err)
			return
		}
		log.Info("demo KMS created a new key generation", "app", app, "name", name)
	})
	return s, s.SourceConfig(source, poll), nil
}
