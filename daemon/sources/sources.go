// Package sources defines how a place keys come from — a KMIP key server, a
// cloud vault, the demo seed — plugs into the daemon: a Source runs until its
// context ends and reports what it sees through a Sink, which the daemon backs
// with the store and the event stream. Each kind of source lives in its own
// sub-package.
package sources

import (
	"context"

	"github.com/keyward/keyward/engine"
)

// Source is one configured key source.
type Source interface {
	// Name is the source's configured name, unique in the daemon.
	Name() string
	// Kind is the source type: "kmip", "azure", "demo", ...
	Kind() string
	// Address says where the source is, for status displays (never secrets).
	Address() string
	// Run polls or syncs until ctx is done. It reports health and keys
	// through sink and returns nil on cancellation; an error return means the
	// source cannot run at all with its configuration.
	Run(ctx context.Context, sink Sink) error
}

// Syncer is a Source that can be asked to sync now (keyward sync).
type Syncer interface {
	SyncNow(ctx context.Context) error
}

// Attacher is a Source that takes its sink before Run begins. The daemon
// attaches every such source before it answers on its socket, so a sync
// asked for at once (keyward sync right after the daemon started) does not
// find the source "not running yet" because Run's goroutine had not begun.
type Attacher interface {
	Attach(sink Sink)
}

// SyncRecorder is a Sink that can record a poll or sync that worked while
// the source still reports itself degraded (a generation it could not
// take, say): the source's last sync moves and front ends hear of it.
// Health ok records that by itself.
type SyncRecorder interface {
	Synced(ctx context.Context, source string) error
}

// Memory is a Sink that keeps a small blob per source across restarts:
// what the source learned of its backend (never key material), so a
// restart does not learn it again.
type Memory interface {
	Recall(ctx context.Context, source string) ([]byte, error)
	Remember(ctx context.Context, source string, blob []byte) error
}

// Batch is one consistent change to the inventory made by a source
// (engine.Change). The sink applies a batch in one transaction: all of it
// or none of it.
type Batch = engine.Change

// Sink receives what a source sees.
type Sink interface {
	// Apply writes a batch to the inventory in one transaction.
	Apply(ctx context.Context, b Batch) error
	// SetHealth reports the source's health. Reporting the same health
	// again is cheap and records nothing; a change from ok to degraded
	// records one outage event, and back to ok one recovery event.
	SetHealth(ctx context.Context, source string, h engine.Health, reason string) error
	// Known returns the keys the inventory holds for the source, so a source
	// can tell new keys from known ones after a restart.
	Known(ctx context.Context, source string) ([]engine.Key, error)
}
