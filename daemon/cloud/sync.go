package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// SyncSource synchronises one cloud vault into the inventory through any
// Connector. It implements sources.Source and sources.Syncer.
//
// A sync lists every key (paged), refetches the versions only of keys whose
// listed Updated time moved (or that are new, recovered, or were deleted),
// lists the soft-deleted keys, and takes known keys found in neither list
// as purged. Nothing is written until every listing succeeded; then each
// listing page becomes one Batch (one transaction). The differences from
// the previous state become activity events with Origin "source": what
// happened in the cloud behind keyward's back. Operations done through the
// Manager update the rows themselves (Origin "keyward"), so the next sync
// does not report them again.
type SyncSource struct {
	name     string
	conn     Connector
	interval time.Duration
	log      *slog.Logger

	// FullEvery refetches every key's versions every FullEvery-th sync, to
	// catch edits of old versions that do not move a key's listed Updated
	// time (the vault lists the current version's attributes). 0: never.
	FullEvery int
	// Now is the clock (tests pin it).
	Now func() time.Time
	// Concurrency is how many keys are fetched at once (default 8).
	Concurrency int
	// annotate, when set, adds what the source's manager knows of a key
	// to its inventory row (Manager.Add: a key whose backup is a copy
	// keyward kept at upload says when it holds none).
	annotate func(*engine.Key)

	mu     sync.Mutex
	sink   sources.Sink
	known  map[string]*keyState
	loaded bool
	last   SyncStats
	// loop runs the syncs (made at the first, see runLoop).
	loop     *sources.Loop
	loopOnce sync.Once
	// prevStart is when the previous sync began, on the cloud's clock
	// when the connector knows it (CloudClock): keys updated shortly
	// before it are refetched, because a vault's Updated time has a
	// one-second resolution and a change in the same second as a listing
	// would otherwise look unchanged.
	prevStart time.Time
	// explained are keys changed through keyward whose rows could not be
	// read back: the next sync writes their rows without cloud events.
	explained map[string]bool
	// logCursor is where a LogReader connector's log was read to
	// (recalled from the sink's memory once: logLoaded).
	logCursor []byte
	logLoaded bool
}

// recentWindow is how far before the previous sync a key's Updated time
// still counts as possibly unseen.
const recentWindow = 5 * time.Second

// SyncStats describes the last completed sync.
type SyncStats struct {
	Keys     int           // live and deleted keys listed
	Fetched  int           // keys whose versions were refetched
	Rows     int           // inventory rows written
	Events   int           // activity events recorded
	Batches  int           // transactions
	Full     bool          // every key was refetched
	Duration time.Duration // wall time
	// Duplicates counts entries listed again: a vault pages by position,
	// so a key created, deleted or recovered between two pages shifts the
	// pages, and a key shows twice (or in both listings). They are
	// deduplicated, and the key is read again by name.
	Duplicates int
	// Reread counts keys read again by name because the listings showed
	// them twice or missed them (a known key in neither listing is read
	// before it is taken for purged).
	Reread int
}

type keyState struct {
	updated time.Time // the listed Updated time when last fetched
	// stored: updated is when the inventory row was written (read back
	// after a restart), not the vault's time.
	stored   bool
	typ      string
	curve    string
	size     int
	status   engine.State // active (live), deleted or purged
	versions map[string]engine.Key
}

// NewSyncSource returns the sync source called name for conn, syncing every
// interval (a minimum of one second; 0 means 15 minutes).
func NewSyncSource(name string, conn Connector, interval time.Duration, logger *slog.Logger) *SyncSource {
	if interval == 0 {
		interval = 15 * time.Minute
	}
	interval = max(interval, time.Second)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SyncSource{name: name, conn: conn, interval: interval, FullEvery: 96, Now: time.Now, Concurrency: 8,
		log: logger.With("source", name, "kind", conn.Kind())}
}

// NewViewSource is NewSyncSource for a connector that keeps its own view
// of the cloud (which keys to read again, and when every key: cloud.Refresh)
// and moves a key's Updated only when it changed: the sync source
// refetches only those keys, never every key (FullEvery 0).
func NewViewSource(name string, conn Connector, interval time.Duration, logger *slog.Logger) *SyncSource {
	s := NewSyncSource(name, conn, interval, logger)
	s.FullEvery = 0
	return s
}

// Name is the configured source name.
func (s *SyncSource) Name() string { return s.name }

// Kind is the connector's cloud kind ("azure", ...).
func (s *SyncSource) Kind() string { return s.conn.Kind() }

// Address is the vault's URL.
func (s *SyncSource) Address() string { return s.conn.Address() }

// Connector returns the connector this source syncs.
func (s *SyncSource) Connector() Connector { return s.conn }

// LastSync returns the statistics of the last completed sync.
func (s *SyncSource) LastSync() SyncStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Attach implements sources.Attacher: it gives the source its sink
// without starting the schedule (the daemon, before it answers on its
// socket; a caller that drives syncs itself: tests, one-shot tools). Run
// attaches too.
func (s *SyncSource) Attach(sink sources.Sink) {
	s.mu.Lock()
	s.sink = sink
	s.mu.Unlock()
}

// Run syncs now and then every interval until ctx ends. A failed sync
// leaves the source degraded with the reason and is retried sooner: with
// a backoff from 1s up to 30s (or the interval, if shorter), or after the
// vault's Retry-After when it throttled us.
func (s *SyncSource) Run(ctx context.Context, sink sources.Sink) error {
	s.Attach(sink)
	s.runLoop().Run(ctx, sink, s.syncOnce)
	return nil
}

// runLoop is the source's run loop, made at the first sync from the
// settings then (FullEvery is set after NewSyncSource).
func (s *SyncSource) runLoop() *sources.Loop {
	s.loopOnce.Do(func() {
		s.loop = sources.NewLoop(s.name, sources.Schedule{Interval: s.interval, RetryMax: min(s.interval, 30*time.Second),
			FullEvery: s.FullEvery, RetryAfter: RetryAfter}, nil, s.log)
	})
	return s.loop
}

// ErrNotRunning is returned when a source is asked to act before Run gave
// it a sink.
var ErrNotRunning = errors.New("source is not running yet")

// SyncNow runs one sync and reports the source's health: ok, or degraded
// with the reason. Its error is the reason alone, as the KMIP source's is:
// the caller names the source (the socket API answers "sync <name>: …").
func (s *SyncSource) SyncNow(ctx context.Context) error {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	if sink == nil {
		return ErrNotRunning
	}
	return s.runLoop().Once(ctx, sink, s.syncOnce)
}

// syncOnce is one sync for the run loop.
func (s *SyncSource) syncOnce(ctx context.Context, full bool) (sources.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sources.Outcome{}, s.sync(ctx, full)
}

func (s *SyncSource) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	rows, err := s.sink.Known(ctx, s.name)
	if err != nil {
		return fmt.Errorf("read the inventory of %s: %w", s.name, err)
	}
	s.known = map[string]*keyState{}
	for _, k := range rows {
		ks := s.known[k.Name]
		if ks == nil {
			ks = &keyState{status: engine.StateActive, stored: true, versions: map[string]engine.Key{}}
			s.known[k.Name] = ks
		}
		ks.versions[k.Version] = k
		if k.Updated.After(ks.updated) {
			ks.updated = k.Updated
		}
		switch k.State {
		case engine.StateDeleted:
			ks.status = engine.StateDeleted
		case engine.StatePurged:
			ks.status = engine.StatePurged
		}
		if ks.typ == "" {
			ks.typ, ks.curve, ks.size = splitAlgorithm(k.Algorithm, k.Length)
		}
	}
	s.loaded = true
	return nil
}

type pending struct {
	batch  sources.Batch
	states map[string]*keyState
}

func (p *pending) add(name string, st *keyState, rows []engine.Key, evs []engine.Event) {
	p.states[name] = st
	p.batch.Upsert = append(p.batch.Upsert, rows...)
	p.batch.Events = append(p.batch.Events, evs...)
}

func (s *SyncSource) newPending() *pending {
	return &pending{batch: sources.Batch{Source: s.name}, states: map[string]*keyState{}}
}

// sync is one sync; full refetches every key's versions.
func (s *SyncSource) sync(ctx context.Context, full bool) error {
	start := time.Now()
	if err := s.load(ctx); err != nil {
		return err
	}
	first := len(s.known) == 0
	stats := SyncStats{Full: full || first}
	var pend []*pending
	seen := map[string]bool{}
	// reread are keys the listings showed twice; delListed the deleted
	// listing's entry of a key the live listing showed too.
	reread := map[string]bool{}
	delListed := map[string]KeyVersion{}

	err := s.conn.ListKeys(ctx, func(items []KeyVersion) error {
		var todo []KeyVersion
		skew := s.skew()
		for _, it := range items {
			if err := checkListed(it); err != nil {
				return err
			}
			if seen[it.Name] {
				stats.Duplicates++
				reread[it.Name] = true
				continue
			}
			seen[it.Name] = true
			stats.Keys++
			ks := s.known[it.Name]
			recent := !s.prevStart.IsZero() && !it.Updated.Before(s.prevStart.Add(-recentWindow))
			if ks != nil && ks.stored {
				// The row was written at most moments after the vault's
				// time it reflects; a change in the same instant must
				// not be missed. Written by keyward's clock: compared on
				// the vault's.
				recent = recent || !it.Updated.Before(ks.updated.Add(skew-recentWindow))
			}
			if ks != nil && ks.status == engine.StateActive && !full && !recent && !it.Updated.After(ks.updated) {
				continue
			}
			todo = append(todo, it)
		}
		if len(todo) == 0 {
			return nil
		}
		stats.Fetched += len(todo)
		results, err := s.fetchAll(ctx, todo, first)
		if err != nil {
			return err
		}
		p := s.newPending()
		for i, r := range results {
			if r.st == nil {
				// Deleted between the listing and the fetch: the deleted
				// listing (or the next sync) accounts for it.
				delete(seen, todo[i].Name)
				stats.Keys--
				continue
			}
			if s.explained[todo[i].Name] {
				r.evs = nil
			}
			p.add(todo[i].Name, r.st, r.rows, r.evs)
		}
		if len(p.states) > 0 {
			pend = append(pend, p)
		}
		return nil
	})
	if err != nil {
		return err
	}

	deleted := map[string]bool{}
	err = s.conn.ListDeleted(ctx, func(items []KeyVersion) error {
		p := s.newPending()
		for _, it := range items {
			if err := checkListed(it); err != nil {
				return err
			}
			if seen[it.Name] || deleted[it.Name] {
				stats.Duplicates++
				if seen[it.Name] {
					// Deleted (or recovered) between the two listings:
					// a read by name tells which is true now.
					reread[it.Name] = true
					delListed[it.Name] = it
				}
				continue
			}
			deleted[it.Name] = true
			stats.Keys++
			ks := s.known[it.Name]
			if ks != nil && ks.status == engine.StateDeleted && sameTime(firstRow(ks).PurgeAt, it.PurgeAt) {
				continue
			}
			st, rows := s.markDeleted(ks, it)
			var evs []engine.Event
			switch {
			case first:
				evs = append(evs, s.event(rows, engine.OpDiscovered, engine.SeverityInfo, "discovered soft-deleted"+purgeNote(it)))
			case ks == nil || ks.status != engine.StateDeleted:
				evs = append(evs, s.event(rows, engine.OpDeleted, engine.SeverityWarn, "soft-deleted in the cloud"+purgeNote(it)))
			}
			p.add(it.Name, st, rows, evs)
		}
		if len(p.states) > 0 {
			pend = append(pend, p)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// A known key in neither listing may have been skipped by a page that
	// shifted: read it by name before taking it for purged.
	for name, ks := range s.known {
		if !seen[name] && !deleted[name] && ks.status != engine.StatePurged {
			reread[name] = true
		}
	}
	if len(reread) > 0 {
		p, err := s.reread(ctx, slices.Sorted(maps.Keys(reread)), pend, seen, deleted, delListed, first, &stats)
		if err != nil {
			return err
		}
		if len(p.states) > 0 {
			pend = append(pend, p)
		}
	}

	gone := s.newPending()
	for name, ks := range s.known {
		if seen[name] || deleted[name] || ks.status == engine.StatePurged {
			continue
		}
		st, rows := s.markPurged(ks)
		gone.add(name, st, rows, []engine.Event{s.event(rows, engine.OpPurged, engine.SeverityWarn, "no longer in the vault (purged)")})
	}
	if len(gone.states) > 0 {
		pend = append(pend, gone)
	}

	if at, ok := s.conn.(Attributor); ok && !first {
		var evs []*engine.Event
		for _, p := range pend {
			for i := range p.batch.Events {
				evs = append(evs, &p.batch.Events[i])
			}
		}
		if len(evs) > 0 {
			since := s.prevStart
			if since.IsZero() {
				since = start.Add(-s.interval)
			}
			// Best effort: an event without its author is still true.
			if err := at.Attribute(ctx, evs, since.Add(-recentWindow), time.Now()); err != nil {
				s.log.Warn("cannot say who made the cloud's changes", "err", err)
			}
		}
	}
	for _, p := range pend {
		if err := s.sink.Apply(ctx, p.batch); err != nil {
			return fmt.Errorf("write the inventory of %s: %w", s.name, err)
		}
		maps.Copy(s.known, p.states)
		for name := range p.states {
			delete(s.explained, name)
		}
		stats.Rows += len(p.batch.Upsert)
		stats.Events += len(p.batch.Events)
		stats.Batches++
	}
	if lr, ok := s.conn.(LogReader); ok {
		if err := s.readLog(ctx, lr); err != nil {
			return err
		}
	}
	s.prevStart = start.Add(s.skew())
	stats.Duration = time.Since(start)
	s.last = stats
	s.log.Debug("synced", "keys", stats.Keys, "fetched", stats.Fetched, "rows", stats.Rows, "events", stats.Events,
		"duplicates", stats.Duplicates, "reread", stats.Reread, "took", stats.Duration)
	return nil
}

// reread reads by name the keys whose listings disagreed (listed twice, in
// both listings) or that no listing showed, and returns what they are now.
// States are compared with the newest this sync already produced (pend),
// so a key read twice is not reported twice. seen and deleted are updated.
func (s *SyncSource) reread(ctx context.Context, names []string, pend []*pending, seen, deleted map[string]bool,
	delListed map[string]KeyVersion, first bool, stats *SyncStats) (*pending, error) {
	base := func(name string) *keyState {
		for i := len(pend) - 1; i >= 0; i-- {
			if st, ok := pend[i].states[name]; ok {
				return st
			}
		}
		return s.known[name]
	}
	p := s.newPending()
	for _, name := range names {
		cur, err := s.conn.Get(ctx, name, "")
		if errors.Is(err, ErrNotFound) || (err == nil && cur.Deleted != nil) {
			it, ok := delListed[name]
			if !ok {
				continue // not live: purged (a known key) or gone since the listing
			}
			stats.Reread++
			b := base(name)
			st, rows := s.markDeleted(b, it)
			var evs []engine.Event
			if b == nil || b.status != engine.StateDeleted {
				evs = append(evs, s.event(rows, engine.OpDeleted, engine.SeverityWarn, "soft-deleted in the cloud"+purgeNote(it)))
			}
			p.add(name, st, rows, evs)
			deleted[name] = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s again (listed twice or missed by a listing page): %w", name, err)
		}
		stats.Reread++
		b := base(name)
		if seen[name] && b != nil && b.status == engine.StateActive && b.updated.Equal(cur.Updated) {
			continue // what the first listing said is still true
		}
		if !seen[name] {
			seen[name] = true
			stats.Keys++
		}
		stats.Fetched++
		st, rows, evs, err := s.fetch(ctx, cur, b, first)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if s.explained[name] {
			evs = nil
		}
		p.add(name, st, rows, evs)
	}
	return p, nil
}

// skew is how far the cloud's clock runs ahead of keyward's (negative:
// behind), as the connector last saw it (CloudClock); 0 when it cannot
// tell.
func (s *SyncSource) skew() time.Duration {
	if cc, ok := s.conn.(CloudClock); ok {
		return cc.CloudNow().Sub(time.Now())
	}
	return 0
}

func checkListed(it KeyVersion) error {
	if it.Name == "" {
		return &Error{Kind: ErrBadAnswer, Op: "list keys", Reason: "a listed key has no name"}
	}
	if it.Deleted == nil && it.Updated.IsZero() {
		return &Error{Kind: ErrBadAnswer, Op: "list keys", Reason: fmt.Sprintf("key %q is listed without an updated time", it.Name)}
	}
	return nil
}

func purgeNote(it KeyVersion) string {
	if it.PurgeAt == nil {
		return ""
	}
	return ", purge scheduled " + it.PurgeAt.UTC().Format(time.DateOnly)
}

type fetched struct {
	st   *keyState
	rows []engine.Key
	evs  []engine.Event
}

// fetchAll fetches keys with up to Concurrency requests in flight (a
// vault's round trip, not its work, is what a sync mostly waits for),
// returning results in the order of items; the first error wins.
func (s *SyncSource) fetchAll(ctx context.Context, items []KeyVersion, first bool) ([]fetched, error) {
	out := make([]fetched, len(items))
	errs := make([]error, len(items))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(s.Concurrency, 1))
	var wg sync.WaitGroup
	for i, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, rows, evs, err := s.fetch(ctx, it, s.known[it.Name], first)
			if errors.Is(err, ErrNotFound) {
				return // out[i] stays empty: gone since the listing
			}
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			out[i] = fetched{st, rows, evs}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fetch reads one key's versions (and its type when not known yet) and
// returns its new state, the rows that changed and the events explaining
// the changes.
func (s *SyncSource) fetch(ctx context.Context, it KeyVersion, ks *keyState, first bool) (*keyState, []engine.Key, []engine.Event, error) {
	vers, err := s.conn.Versions(ctx, it.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(vers) == 0 {
		return nil, nil, nil, &Error{Kind: ErrBadAnswer, Op: "list versions of " + it.Name, Reason: "a listed key has no versions"}
	}
	st := &keyState{updated: it.Updated, status: engine.StateActive, versions: map[string]engine.Key{}}
	newVersion := ks == nil
	if ks != nil {
		st.typ, st.curve, st.size = ks.typ, ks.curve, ks.size
		for _, v := range vers {
			if _, ok := ks.versions[v.Version]; !ok {
				newVersion = true
			}
		}
	}
	if st.typ == "" || newVersion {
		cur, err := s.conn.Get(ctx, it.Name, "")
		if err != nil {
			return nil, nil, nil, err
		}
		st.typ, st.curve, st.size = cur.Type, cur.Curve, cur.Size
	}
	rotated := lastRotated(vers)
	for _, v := range vers {
		if v.Version == "" || v.Name != it.Name {
			return nil, nil, nil, &Error{Kind: ErrBadAnswer, Op: "list versions of " + it.Name, Reason: fmt.Sprintf("version entry %q/%q does not belong to the key", v.Name, v.Version)}
		}
		k := s.row(v, st)
		k.Rotated = copyTime(rotated)
		st.versions[v.Version] = k
	}
	rows, evs := s.diff(ks, st, first)
	return st, rows, evs, nil
}

// lastRotated is when a key was last rotated: what its cloud says (the
// first version that carries it), else the newest version's creation
// (nil for a key of one version: it was never rotated, and ages from its
// creation).
func lastRotated(vers []KeyVersion) *time.Time {
	var newest time.Time
	for _, v := range vers {
		if v.Rotated != nil {
			return copyTime(v.Rotated)
		}
		if v.Created.After(newest) {
			newest = v.Created
		}
	}
	if len(vers) < 2 || newest.IsZero() {
		return nil
	}
	newest = newest.UTC()
	return &newest
}

// diff compares a key's old and new state: the rows to write and the
// cloud-side events that explain them.
func (s *SyncSource) diff(old, st *keyState, first bool) ([]engine.Key, []engine.Event) {
	var rows []engine.Key
	var evs []engine.Event
	all := sortedRows(st)
	latest := all[len(all)-1]
	if old == nil || old.status == engine.StatePurged {
		op, sev, what := engine.OpCreated, engine.SeverityInfo, "created in the cloud"
		if first {
			op, what = engine.OpDiscovered, "discovered"
		}
		ev := s.event(all, op, sev, fmt.Sprintf("%s: %s, %s", what, latest.Algorithm, engine.Plural(len(all), "version")))
		return all, []engine.Event{ev}
	}
	if old.status == engine.StateDeleted {
		evs = append(evs, s.event(all, engine.OpRecovered, engine.SeverityInfo, "recovered from soft delete in the cloud"))
	}
	for _, k := range all {
		prev, ok := old.versions[k.Version]
		if !ok {
			rows = append(rows, k)
			if old.status == engine.StateDeleted {
				continue // versions a deleted key's listing did not show
			}
			evs = append(evs, s.eventFor(k, engine.OpRotated, engine.SeverityInfo, "new version "+k.Version+" created in the cloud"))
			continue
		}
		if rowEqual(prev, k) {
			continue
		}
		rows = append(rows, k)
		if old.status == engine.StateDeleted {
			continue // the recovery event explains the state change
		}
		if prev.State != k.State {
			switch k.State {
			case engine.StateDisabled:
				evs = append(evs, s.eventFor(k, engine.OpDisabled, engine.SeverityWarn, "disabled in the cloud"))
			case engine.StateActive, engine.StatePreActive:
				evs = append(evs, s.eventFor(k, engine.OpEnabled, engine.SeverityInfo, "enabled in the cloud"))
			}
		}
		if what := editedFields(prev, k); what != "" {
			evs = append(evs, s.eventFor(k, engine.OpEdited, engine.SeverityInfo, "edited in the cloud: "+what))
		}
	}
	return rows, evs
}

func editedFields(a, b engine.Key) string {
	var what []string
	if !sameTime(a.Expires, b.Expires) {
		what = append(what, "expiry "+fmtTime(a.Expires)+" → "+fmtTime(b.Expires))
	}
	if !sameTime(a.Activated, b.Activated) {
		what = append(what, "not-before "+fmtTime(a.Activated)+" → "+fmtTime(b.Activated))
	}
	if tags := changedTags(a.Tags, b.Tags); len(tags) > 0 {
		what = append(what, "tags "+strings.Join(tags, ", "))
	}
	return strings.Join(what, ", ")
}

// changedTags names the tags added, removed or changed (names only: a
// tag's value is the cloud's, and may be long). The per-key limits
// (engine.TagUnsupported) are keyward's words, derived from what the
// cloud says, not tags of the cloud: a change of them (a new limit a
// keyward upgrade derives) is no edit in the cloud.
func changedTags(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if old, ok := a[k]; (!ok || old != v) && !strings.HasPrefix(k, engine.TagUnsupported) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok && !strings.HasPrefix(k, engine.TagUnsupported) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *SyncSource) markDeleted(ks *keyState, it KeyVersion) (*keyState, []engine.Key) {
	st := &keyState{status: engine.StateDeleted, versions: map[string]engine.Key{}}
	if ks == nil || len(ks.versions) == 0 {
		st.typ, st.curve, st.size = it.Type, it.Curve, it.Size
		st.versions[it.Version] = s.row(it, st)
		st.updated = it.Updated
		return st, sortedRows(st)
	}
	st.typ, st.curve, st.size, st.updated = ks.typ, ks.curve, ks.size, ks.updated
	for v, k := range ks.versions {
		k.State = engine.StateDeleted
		k.Deleted, k.PurgeAt = copyTime(it.Deleted), copyTime(it.PurgeAt)
		st.versions[v] = k
	}
	return st, sortedRows(st)
}

func (s *SyncSource) markPurged(ks *keyState) (*keyState, []engine.Key) {
	now := s.Now().UTC()
	st := &keyState{status: engine.StatePurged, typ: ks.typ, curve: ks.curve, size: ks.size, updated: ks.updated, versions: map[string]engine.Key{}}
	for v, k := range ks.versions {
		k.State = engine.StatePurged
		k.Destroyed = &now
		st.versions[v] = k
	}
	return st, sortedRows(st)
}

// row turns a cloud key version into an inventory row.
func (s *SyncSource) row(v KeyVersion, st *keyState) engine.Key {
	k := engine.Key{
		ID:        engine.KeyID(s.name, v.Name, v.Version),
		Source:    s.name,
		Name:      v.Name,
		Version:   v.Version,
		Algorithm: algorithm(st.typ, st.curve),
		Length:    st.size,
		Expires:   copyTime(v.Expires),
		Deleted:   copyTime(v.Deleted),
		PurgeAt:   copyTime(v.PurgeAt),
		Updated:   v.Updated.UTC(),
	}
	if len(v.Tags) > 0 {
		k.Tags = maps.Clone(v.Tags)
		k.LinkedTo = v.Tags[TagLinkedTo]
		k.Application = v.Tags[TagApplication]
		if k.Application == "" {
			k.Application = v.Tags["application"] // the common tagging convention
		}
	}
	if s.annotate != nil {
		s.annotate(&k)
	}
	if !v.Created.IsZero() {
		c := v.Created.UTC()
		k.Created = &c
		k.Activated = &c
	}
	if v.NotBefore != nil {
		k.Activated = copyTime(v.NotBefore)
	}
	switch {
	case v.Destroyed != nil:
		k.State = engine.StateDestroyed
		k.Destroyed = copyTime(v.Destroyed)
	case v.Deleted != nil:
		k.State = engine.StateDeleted
	case !v.Enabled:
		k.State = engine.StateDisabled
	case v.NotBefore != nil && v.NotBefore.After(s.Now()):
		k.State = engine.StatePreActive
	default:
		k.State = engine.StateActive
	}
	return k
}

func rowEqual(a, b engine.Key) bool {
	return a.State == b.State && sameTime(a.Expires, b.Expires) && sameTime(a.Activated, b.Activated) &&
		sameTime(a.Deleted, b.Deleted) && sameTime(a.PurgeAt, b.PurgeAt) && sameTime(a.Rotated, b.Rotated) && maps.Equal(a.Tags, b.Tags) &&
		a.Algorithm == b.Algorithm && a.Length == b.Length && a.Updated.Equal(b.Updated)
}

// algorithm renders a key type for the inventory: "RSA", "EC P-256", "oct".
func algorithm(typ, curve string) string {
	if curve != "" {
		return typ + " " + curve
	}
	return typ
}

func splitAlgorithm(alg string, length int) (typ, curve string, size int) {
	typ, curve, _ = strings.Cut(alg, " ")
	return typ, curve, length
}

func sortedRows(st *keyState) []engine.Key {
	rows := make([]engine.Key, 0, len(st.versions))
	for _, k := range st.versions {
		rows = append(rows, k)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if c := cmpTime(a.Created, b.Created); c != 0 {
			return c < 0
		}
		return a.Version < b.Version
	})
	return rows
}

func firstRow(ks *keyState) engine.Key {
	for _, k := range ks.versions {
		return k
	}
	return engine.Key{}
}

func (s *SyncSource) event(rows []engine.Key, op string, sev engine.Severity, details string) engine.Event {
	var k engine.Key
	if len(rows) > 0 {
		k = rows[len(rows)-1]
	}
	return s.eventFor(k, op, sev, details)
}

func (s *SyncSource) eventFor(k engine.Key, op string, sev engine.Severity, details string) engine.Event {
	return engine.Event{Time: s.Now().UTC(), KeyID: k.ID, Source: s.name, Operation: op,
		Actor: s.conn.Kind(), Origin: engine.OriginSource, Severity: sev, Details: details}
}

// record brings one key's rows up to date after an operation done through
// keyward and records ev (Origin keyward) in the same transaction, so the
// next sync does not report the operation as a cloud-side change. deleted
// is the answer of a soft delete; purged says the key is gone.
func (s *SyncSource) record(ctx context.Context, name string, deleted *KeyVersion, purged bool, ev engine.Event) ([]engine.Key, engine.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return nil, ev, fmt.Errorf("%s: %w", s.name, ErrNotRunning)
	}
	if err := s.load(ctx); err != nil {
		return nil, ev, err
	}
	ks := s.known[name]
	var st *keyState
	var rows []engine.Key
	switch {
	case purged:
		if ks == nil {
			ks = &keyState{versions: map[string]engine.Key{}}
		}
		st, rows = s.markPurged(ks)
	case deleted != nil:
		st, rows = s.markDeleted(ks, *deleted)
	default:
		cur, err := s.conn.Get(ctx, name, "")
		var vers []KeyVersion
		if err == nil {
			// A cloud may name a key by another handle (AWS: an alias
			// given at create for a key listed by its key ID): the
			// inventory knows it by the name the listing uses.
			if cur.Name != "" {
				name = cur.Name
			}
			vers, err = s.conn.Versions(ctx, name)
		}
		if err != nil {
			// The operation is done in the cloud: record it now, and let
			// the next sync bring the rows (reporting an error here would
			// invite the administrator to do it twice).
			s.log.Warn("read back after an operation failed", "key", name, "op", ev.Operation, "err", err)
			ev.Details += " (inventory refreshed at the next sync: " + err.Error() + ")"
			return s.recordOnly(ctx, name, ev)
		}
		st = &keyState{updated: cur.Updated, typ: cur.Type, curve: cur.Curve, size: cur.Size,
			status: engine.StateActive, versions: map[string]engine.Key{}}
		for _, v := range vers {
			st.versions[v.Version] = s.row(v, st)
		}
		if len(st.versions) == 0 {
			st.versions[cur.Version] = s.row(cur, st)
		}
		rows = sortedRows(st)
	}
	if ev.KeyID == "" && len(rows) > 0 {
		ev.KeyID = rows[len(rows)-1].ID
	}
	if ev.KeyID == "" {
		ev.KeyID = engine.KeyID(s.name, name, "")
	}
	ev.Source = s.name
	ev.Origin = engine.OriginKeyward
	if ev.Time.IsZero() {
		ev.Time = s.Now().UTC()
	}
	b := sources.Batch{Source: s.name, Upsert: rows, Events: []engine.Event{ev}}
	if err := s.sink.Apply(ctx, b); err != nil {
		return nil, ev, fmt.Errorf("record %s on %s/%s: %w", ev.Operation, s.name, name, err)
	}
	if len(st.versions) > 0 {
		s.known[name] = st
	}
	return rows, ev, nil
}

func (s *SyncSource) recordOnly(ctx context.Context, name string, ev engine.Event) ([]engine.Key, engine.Event, error) {
	if ev.KeyID == "" {
		ev.KeyID = engine.KeyID(s.name, name, "")
	}
	ev.Source, ev.Origin = s.name, engine.OriginKeyward
	if ev.Time.IsZero() {
		ev.Time = s.Now().UTC()
	}
	if err := s.sink.Apply(ctx, sources.Batch{Source: s.name, Events: []engine.Event{ev}}); err != nil {
		return nil, ev, fmt.Errorf("record %s on %s/%s: %w", ev.Operation, s.name, name, err)
	}
	if s.explained == nil {
		s.explained = map[string]bool{}
	}
	s.explained[name] = true
	return nil, ev, nil
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.UTC()
	return &c
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func cmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

var (
	_ sources.Syncer   = (*SyncSource)(nil)
	_ sources.Attacher = (*SyncSource)(nil)
)
