package daemon

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/kmip"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// features is everything the config asks the daemon to run besides the
// store and the socket: KMIP sources and the key rings they fill, cloud
// sources of every registered kind and their life-cycle operations, and
// the encryption proxy, which encrypts with the rings the KMIP sources
// fill. buildFeatures is the one place they are composed: the KEK is
// loaded once here and handed to whatever seals with it.
type features struct {
	sources    []sources.Source
	details    map[string]func(*api.SourceInfo)
	keys       *keyring.Rings
	proxy      *proxy.Manager
	identities *pki.Service
	// cloud and kmip are what schedules rotate and back up with (and the
	// socket API serves cloud).
	cloud *cloud.Manager
	kmip  map[string]*kmip.Source
	// backups reads and deletes the backups stored in the database: cloud
	// itself, or, with no cloud source configured, a manager of none, so
	// the backups a removed source left stay listed.
	backups *cloud.Manager
}

func (d *Daemon) buildFeatures(ctx context.Context) (*features, error) {
	var k *kek.KEK
	if d.cfg.Keys.KEKFile != "" && (len(d.cfg.KMIP) > 0 || len(d.cfg.Sections) > 0 || d.holdsBackups(ctx)) {
		var err error
		if k, err = kek.Load(d.cfg.Keys.KEKFile); err != nil {
			return nil, fmt.Errorf("keys.kek_file: %w", err)
		}
	}
	f := &features{details: map[string]func(*api.SourceInfo){}, keys: keyring.NewRings(), kmip: map[string]*kmip.Source{}}
	// A ring change is a notice on the event stream, so front ends showing
	// rings fetch them at once rather than poll.
	f.keys.OnChange(func(app string) {
		d.hub.publish(api.Notification{Type: api.NoteRing, Time: d.now(), Source: app})
	})
	ks, err := kmip.FromConfig(d.cfg, k, d.st, f.keys, d.log)
	if err != nil {
		f.keys.Close()
		return nil, err
	}
	var kmipNames []string
	bySource := map[string]*kmip.Source{}
	for _, s := range ks {
		bySource[s.Name()] = s
		f.kmip[s.Name()] = s
		f.sources = append(f.sources, s)
		f.details[s.Name()] = kmipDetails(s)
		kmipNames = append(kmipNames, s.Name())
	}
	if len(ks) > 0 {
		// A section naming its own identity does not use the one installed
		// through these routes: every answer about it says so.
		warnings := map[string]string{}
		for _, sc := range d.cfg.KMIP {
			if w := pki.IgnoredWarning(sc.Name, sc.CertFile, sc.KeystoreFile); w != "" {
				warnings[sc.Name] = w
			}
		}
		// An identity installed or imported through the socket is
		// presented at once: the source reloads it and reconnects.
		f.identities = pki.NewService(d.cfg.DataDir, kmipNames, pki.ServiceOptions{Now: d.now, Warnings: warnings,
			InUse:   func(name string) *engine.ClientIdentity { return bySource[name].ClientIdentity() },
			Changed: func(name string) { bySource[name].IdentityChanged() }})
	}

	if err := d.buildClouds(f, k); err != nil {
		f.keys.Close()
		return nil, err
	}

	if len(d.cfg.Proxy.Apps) > 0 {
		pm, err := proxy.NewManager(d.cfg.Proxy, f.keys, proxyRecorder{d}, d.log)
		if err != nil {
			f.keys.Close()
			return nil, err
		}
		if err := pm.Listen(); err != nil {
			f.keys.Close()
			return nil, err
		}
		f.proxy = pm
	}
	return f, nil
}

// buildClouds builds the sources of every cloud section through the
// connector registry (cloud.Register; connectors.go lists the kinds built
// in), one life-cycle manager over all of them (the socket API serves it at
// /v1/cloud/). Backups are sealed under k (none without keys.kek_file).
// With no cloud source, the stored backups are still served (f.backups):
// a source removed from keyward.toml leaves its backups listed, and a
// restore says which source it needs.
func (d *Daemon) buildClouds(f *features, k *kek.KEK) error {
	srcs, err := cloud.Sources(d.cfg, d.log)
	if err != nil {
		return err
	}
	m := cloud.NewManager(nil, nil, srcs...)
	if k != nil {
		m.SetBackups(d.st, k)
	} else {
		m.SetBackups(d.st, nil) // what is stored is counted, not opened
	}
	f.backups = m
	if len(srcs) == 0 {
		return nil
	}
	m.SetMaterial(d.ringMaterial(f.keys))
	f.cloud = m
	for _, s := range srcs {
		f.sources = append(f.sources, s)
		caps := s.Connector().Capabilities()
		f.details[s.Name()] = func(si *api.SourceInfo) { si.Capabilities = append([]string{}, caps...) }
	}
	return nil
}

// holdsBackups reports that the store holds sealed backups or upload
// copies (a store it cannot read counts as holding some: the KEK is then
// loaded and checked, as with a cloud source).
func (d *Daemon) holdsBackups(ctx context.Context) bool {
	n, err := cloud.StoredBackups(ctx, d.st)
	return err != nil || n > 0
}

// ringMaterial lets a cloud upload take the newest generation of a KMIP
// ring (bring your own key from the enterprise KMS) and name the inventory
// key it came from.
func (d *Daemon) ringMaterial(rings *keyring.Rings) func(ctx context.Context, source, app string) (string, []byte, error) {
	return func(ctx context.Context, source, app string) (string, []byte, error) {
		id, material, err := rings.EncryptionKey(app)
		if err != nil {
			return "", nil, fmt.Errorf("application %q: %w", app, err)
		}
		keys, err := d.st.SourceKeys(ctx, source)
		if err != nil {
			clear(material)
			return "", nil, err
		}
		for _, k := range keys {
			if k.Application == app && k.Fingerprint != "" && keyring.ShortID(k.Fingerprint) == id {
				return k.ID, material, nil
			}
		}
		clear(material)
		return "", nil, fmt.Errorf("application %q: its encrypting generation is not in source %q", app, source)
	}
}

// proxyRecorder writes what the proxy reports: activity through the sink,
// usage into the store, status onto the event stream.
type proxyRecorder struct{ d *Daemon }

func (p proxyRecorder) Event(ctx context.Context, ev engine.Event) {
	if ev.Origin == "" {
		ev.Origin = engine.OriginProxy
	}
	if ev.Actor == "" {
		ev.Actor = "proxy"
	}
	if err := p.d.sink.record(context.WithoutCancel(ctx), ev); err != nil {
		p.d.log.Warn("proxy event not recorded", "operation", ev.Operation, "err", err)
	}
}

func (p proxyRecorder) Usage(ctx context.Context, rows []engine.Usage) error {
	return p.d.st.AddUsage(ctx, rows)
}

func (p proxyRecorder) Status(st api.ProxyStatus) {
	p.d.hub.publish(api.ProxyNotification(st))
}
