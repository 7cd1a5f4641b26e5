package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
)

// handler is the socket API (daemon/localapi) over the daemon and its
// services, inside the per-request limits.
func (d *Daemon) handler(f *features) http.Handler {
	s := localapi.Services{Daemon: d, Audit: d.auditAction, AuditReady: d.st.AuditWritable, Begin: d.noteRequest, Log: d.log, Schedules: d.schedules,
		WriteTimeout: d.limits.WriteTimeout, StreamWriteTimeout: d.limits.StreamWriteTimeout, StreamsPerUID: d.limits.StreamsPerUID,
		Extra: d.opts.Routes}
	if f != nil {
		s.Cloud, s.Backups, s.Proxy, s.Identities = f.cloud, f.backups, f.proxy, f.identities
		if len(f.kmip) > 0 {
			s.Apps = kmipRotator{d: d, kmip: f.kmip}
		}
	}
	if s.Identities == nil {
		s.Identities = d.opts.Identities
	}
	d.api = localapi.New(s)
	return d.limitRequest(d.api)
}

// auditAction records in the activity log what a state-changing request
// did, with the caller as the actor (events a service stored itself, with
// the change they describe, are not written twice), and removes the
// request's in-flight note (noteRequest) in the same transaction.
func (d *Daemon) auditAction(ctx context.Context, a localapi.Action) {
	events := make([]engine.Event, 0, len(a.Events))
	for _, ev := range a.Events {
		if ev.Stored {
			continue
		}
		if ev.Actor == "" {
			ev.Actor = a.Caller.User
		}
		if ev.Origin == "" {
			ev.Origin = engine.OriginKeyward
		}
		events = append(events, ev.Event)
	}
	if err := d.sink.recordDone(ctx, a.ID, events...); err != nil {
		// AuditReady checked the log just before; failing now is a disk
		// failing mid-request: the change is made, say so loudly. The
		// in-flight note stays: the next start records the request as
		// asked for, outcome unknown.
		d.log.Error("activity not recorded: the change was made but its events could not be written", "events", len(events), "path", a.Path, "err", err)
	}
}

// noteRequest notes a state-changing request in the database before its
// handler runs (localapi.Services.Begin).
func (d *Daemon) noteRequest(ctx context.Context, a localapi.Action) error {
	return d.st.NoteInFlight(ctx, store.InFlight{ID: a.ID, Time: d.now(), Caller: a.Caller.User, UID: a.Caller.UID,
		Role: string(a.Caller.Role), Method: a.Method, Pattern: a.Pattern, Path: a.Path})
}

// settleInFlight records each state-changing request a previous daemon
// stopped inside (its in-flight note is still there) as one activity event
// naming who asked, outcome unknown; run at start, before the socket
// serves.
func (d *Daemon) settleInFlight(ctx context.Context) error {
	recorded, err := d.st.SettleInFlight(ctx, unanswered)
	if err != nil {
		return fmt.Errorf("record the requests the last daemon stopped inside: %w", err)
	}
	for _, ev := range recorded {
		d.log.Warn("a request was not answered before the daemon stopped: outcome unknown", "event", ev.ID, "details", ev.Details)
	}
	d.sink.publishEvents(recorded)
	return nil
}

// unanswered is the activity event of a request noted in flight that the
// daemon never answered.
func unanswered(r store.InFlight) engine.Event {
	return engine.Event{Operation: engine.OpUnanswered, Actor: r.Caller, Origin: engine.OriginKeyward, Severity: engine.SeverityWarn,
		Details: fmt.Sprintf("asked by %s (%s role, uid %d): %s %s at %s, request %s; outcome unknown: the daemon stopped before it answered; the next sync shows what the vault holds",
			r.Caller, r.Role, r.UID, r.Method, r.Path, r.Time.UTC().Format(time.RFC3339), r.ID)}
}

// The daemon as the socket API sees it (localapi.Daemon).

// Info is the daemon's identity.
func (d *Daemon) Info() localapi.Info {
	return localapi.Info{Version: Version, PID: d.pid, StartedAt: d.started, Socket: d.socket, DataDir: d.cfg.DataDir}
}

// AuditStatus is the state of the activity log's chain.
func (d *Daemon) AuditStatus(ctx context.Context) (*api.AuditStatus, error) {
	h, err := d.st.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	last := d.audit.Last()
	a := &api.AuditStatus{Events: h.Seq, Error: last.Err, VerifierKey: d.auditKey}
	if !last.VerifiedAt.IsZero() {
		a.Checkpoint = &api.AuditCheckpoint{Size: last.Size, Head: last.Head.String(), Time: last.Time, VerifiedAt: last.VerifiedAt}
	}
	return a, nil
}

// Metrics serves the daemon's Prometheus metrics (GET /v1/metrics).
func (d *Daemon) Metrics() http.Handler { return d.metrics.handler() }

// Now is the daemon's clock.
func (d *Daemon) Now() time.Time { return d.now() }

// Thresholds are the configured aging thresholds.
func (d *Daemon) Thresholds() engine.Thresholds { return d.thresholds }

// Describe fills the kind-specific part of a source's entry.
func (d *Daemon) Describe(info *api.SourceInfo) {
	if describe, ok := d.details[info.Name]; ok {
		describe(info)
	}
}

// Sources are the running sources.
func (d *Daemon) Sources() []sources.Source { return d.srcs }

// Subscribe opens an event stream for uid.
func (d *Daemon) Subscribe(uid, max int) (<-chan api.Notification, api.Notification, func(), error) {
	ch, hello, cancel, err := d.hub.subscribe(uid, max)
	return ch, hello, cancel, err
}

// Drop remembers why uid's stream was dropped, for its next hello.
func (d *Daemon) Drop(uid int, why string) { d.hub.drop(uid, d.now(), why) }

// SourcesWithCounts lists the sources with their key counts, read from the
// per-source, per-state counts the store keeps as the inventory changes:
// exact, and as cheap on the first request after a start as on any other.
func (d *Daemon) SourcesWithCounts(ctx context.Context) ([]engine.Source, int, error) {
	srcs, err := d.st.Sources(ctx)
	if err != nil {
		return nil, 0, err
	}
	counts, err := d.st.KeyCounts(ctx)
	if err != nil {
		return nil, 0, err
	}
	total := 0
	for i := range srcs {
		for _, n := range counts[srcs[i].Name] {
			srcs[i].Keys += n
		}
		total += srcs[i].Keys
	}
	return srcs, total, nil
}

// Usage is the usage report: which applications used which ring keys,
// and the first q.Limit ring keys nobody used (with their number).
func (d *Daemon) Usage(ctx context.Context, q localapi.UsageQuery) (*report.Usage, error) {
	rg := q.Range
	// Summed per key in SQL: the answer holds one row per key whatever the range.
	rows, err := d.st.UsageTotals(ctx, store.UsageQuery{Application: q.App, From: rg.From, To: rg.To})
	if err != nil {
		return nil, err
	}
	srcs, err := d.st.Sources(ctx)
	if err != nil {
		return nil, err
	}
	// Only ring keys (KMIP sources, and the built-in seed) feed the proxy;
	// a cloud key tagged with an application is not a proxy key.
	srcFilter, keyFilter := q.Source, q.Key
	var feeds []string
	feeding := map[string]bool{}
	for _, s := range srcs {
		if (s.Kind == "kmip" || s.Kind == "seed") && (srcFilter == "" || s.Name == srcFilter) {
			feeds = append(feeds, s.Name)
			feeding[s.Name] = true
		}
	}
	eligible := func(k engine.Key) bool { return feeding[k.Source] && (keyFilter == "" || k.ID == keyFilter) }
	// The proxy counts by the short id in its tokens; the inventory knows
	// the fingerprint it derives from. Each used generation is looked up
	// by its fingerprint's prefix: the report reads the keys it names, not
	// every key of every application.
	byShort := map[string]string{}
	used := map[string]engine.Key{}
	hours := make([]report.UsageHour, 0, len(rows))
	for _, u := range rows {
		if src, _, cloudLog := strings.Cut(u.KeyID, "/"); cloudLog {
			// A cloud's own log (CloudTrail) names the inventory key
			// itself, and the service or principal that used it.
			if (srcFilter != "" && src != srcFilter) || (keyFilter != "" && u.KeyID != keyFilter) {
				continue
			}
			hours = append(hours, report.UsageHour{Hour: u.Hour, App: u.Application, KeyID: u.KeyID, Encrypts: u.Encrypts, Decrypts: u.Decrypts, Last: u.Last})
			continue
		}
		short := u.Application + "/" + u.KeyID
		id, seen := byShort[short]
		if !seen {
			ks, err := d.st.AppKeysByShortID(ctx, u.Application, u.KeyID)
			if err != nil {
				return nil, err
			}
			var win engine.Key
			for _, k := range ks { // in id order: the last one wins
				if eligible(k) && keyring.ShortID(k.Fingerprint) == u.KeyID {
					win = k
				}
			}
			if id = win.ID; id != "" {
				used[id] = win
			}
			byShort[short] = id
		}
		if id == "" {
			if srcFilter != "" || keyFilter != "" {
				continue
			}
			id = "generation " + u.KeyID + " (not in the inventory)"
		}
		hours = append(hours, report.UsageHour{Hour: u.Hour, App: u.Application, KeyID: id, Encrypts: u.Encrypts, Decrypts: u.Decrypts, Last: u.Last})
	}
	// Unused keys: the first q.Limit in id order, and their number from the
	// counts the store keeps (less the used ones it counted).
	var cands []engine.Key
	total := 0
	listed := func(k engine.Key) bool {
		return eligible(k) && (q.App == "" || k.Application == q.App) && slices.Contains(report.UnusedStates, k.State)
	}
	if keyFilter != "" {
		k, err := d.st.Key(ctx, keyFilter)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && k.Application != "" && listed(k) {
			cands = []engine.Key{k}
			if _, ok := used[k.ID]; !ok {
				total = 1
			}
		}
	} else {
		if total, err = d.st.AppKeyCount(ctx, q.App, feeds, report.UnusedStates); err != nil {
			return nil, err
		}
		for _, k := range used {
			if listed(k) {
				total--
			}
		}
		if cands, err = d.st.AppKeysByID(ctx, q.App, feeds, report.UnusedStates, q.Limit+len(used)); err != nil {
			return nil, err
		}
	}
	u := report.BuildUsage(hours, cands, rg)
	if len(u.Unused) > q.Limit {
		u.Unused = u.Unused[:q.Limit]
	}
	u.UnusedTotal = total
	return &u, nil
}
