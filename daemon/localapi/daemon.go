package localapi

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
)

// Daemon is what the daemon itself answers: its identity, its inventory
// and activity (the store), the aging counts it keeps, its sources and its
// event stream. *daemon.Daemon implements it.
type Daemon interface {
	// Info is the daemon's identity for GET /v1/status.
	Info() Info
	// AuditStatus is the state of the activity log's chain.
	AuditStatus(ctx context.Context) (*api.AuditStatus, error)
	// Metrics serves the daemon's Prometheus metrics.
	Metrics() http.Handler
	Now() time.Time
	Thresholds() engine.Thresholds
	Store() *store.Store
	// SourcesWithCounts lists the sources with their key counts and the
	// total.
	SourcesWithCounts(ctx context.Context) ([]engine.Source, int, error)
	// Describe fills the kind-specific part of a source's entry in
	// GET /v1/sources (a KMIP source's rings, a cloud source's
	// capabilities).
	Describe(info *api.SourceInfo)
	// AgingCounts are the keys per source and bucket as of at; estimated
	// says they may lag the inventory (too costly to recount per request).
	AgingCounts(ctx context.Context) (counts map[string]map[engine.Bucket]int, at time.Time, estimated bool, err error)
	// Usage is the usage report of q.
	Usage(ctx context.Context, q UsageQuery) (*report.Usage, error)
	// Sources are the running sources (POST /v1/sync asks those that can
	// sync on demand).
	Sources() []sources.Source
	// Subscribe opens an event stream for uid (see the daemon's hub);
	// Drop closes uid's streams saying why.
	Subscribe(uid, max int) (<-chan api.Notification, api.Notification, func(), error)
	Drop(uid int, why string)
}

// Info is the daemon's identity.
type Info struct {
	Version   string
	PID       int
	StartedAt time.Time
	Socket    string
	DataDir   string
}

// UsageQuery selects the usage report.
type UsageQuery struct {
	Range            report.Range
	App, Source, Key string
	// Limit bounds the unused keys listed (UnusedTotal counts them all).
	Limit int
}
