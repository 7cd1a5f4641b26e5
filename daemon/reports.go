package daemon

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
)

// summaryCache keeps the aging summary. Counting a million keys is a full
// scan that takes seconds in a pure-Go SQLite, and the buckets move slowly,
// so the summary is recomputed in the background — a few seconds after the
// inventory changed, and every minute as the clock moves keys between
// buckets — and requests are served from memory. Only the very first request
// after start, if it comes before the first computation, waits for one.
type summaryCache struct {
	mu    sync.Mutex
	at    time.Time
	cost  time.Duration // what the last computation took
	dirty bool
	val   map[string]map[engine.Bucket]int
	kick  chan struct{}
	ready chan struct{}
	once  sync.Once
}

func (c *summaryCache) init() {
	c.once.Do(func() {
		c.kick = make(chan struct{}, 1)
		c.ready = make(chan struct{})
	})
}

// invalidate asks for a recomputation (the inventory changed).
func (c *summaryCache) invalidate() {
	c.init()
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// runSummaries keeps the cache fresh until ctx ends.
func (d *Daemon) runSummaries(ctx context.Context) {
	c := &d.summary
	c.init()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if err := d.computeSummary(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("aging summary", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.kick:
			// Let a burst of changes (a sync page after page) settle.
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}
}

// computeSummary counts the buckets now and stores the result.
func (d *Daemon) computeSummary(ctx context.Context) error {
	c := &d.summary
	start, now := time.Now(), d.now()
	c.mu.Lock()
	c.dirty = false
	c.mu.Unlock()
	v, err := d.st.AgingCounts(ctx, now, d.thresholds)
	if err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	first := c.val == nil
	c.val, c.at, c.cost = v, now, time.Since(start)
	c.mu.Unlock()
	if first {
		close(c.ready)
	}
	return nil
}

// cheapSummary is how long a count may take to be done inside a request:
// below it (inventories up to a few tens of thousands of keys) a changed
// inventory is counted afresh; above it the background copy is served.
const cheapSummary = 50 * time.Millisecond

func (d *Daemon) agingCounts(r *http.Request) (map[string]map[engine.Bucket]int, time.Time, error) {
	c := &d.summary
	c.init()
	select {
	case <-c.ready:
	case <-r.Context().Done():
		return nil, time.Time{}, r.Context().Err()
	}
	c.mu.Lock()
	stale := c.dirty && c.cost < cheapSummary
	c.mu.Unlock()
	if stale {
		if err := d.computeSummary(r.Context()); err != nil {
			return nil, time.Time{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.val, c.at, nil
}

// summaryEstimated reports whether the cached summary may lag the
// inventory: counts too costly to redo inside a request are served as
// they were at their last computation.
func (d *Daemon) summaryEstimated() bool {
	c := &d.summary
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cost >= cheapSummary
}

func (d *Daemon) summaryFor(r *http.Request, source string) (*report.AgingSummary, error) {
	counts, at, err := d.agingCounts(r)
	if err != nil {
		return nil, err
	}
	if source != "" {
		counts = map[string]map[engine.Bucket]int{source: counts[source]}
	}
	s := report.SummarizeCounts(counts, at, d.thresholds)
	return &s, nil
}

// reportRange reads a request's range (from/to, defaulting to def; a zero
// def means no range unless asked: the activity log) and its page size. A
// report's range (def not zero) is at most report.MaxRangeDays long. The
// route has already refused parameters it does not declare (api.CheckQuery).
func (d *Daemon) reportRange(w http.ResponseWriter, r *http.Request, def report.Range) (report.Range, int, bool) {
	q := r.URL.Query()
	rg, err := report.ParseRange(q.Get("from"), q.Get("to"), d.now(), def)
	if err != nil {
		badRequest(w, "%v", err)
		return rg, 0, false
	}
	return rg, intParam(r, "limit"), true
}

func (d *Daemon) handleAgingSummary(w http.ResponseWriter, r *http.Request) {
	s, err := d.summaryFor(r, r.URL.Query().Get("source"))
	if err != nil {
		d.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, s)
}

func (d *Daemon) handleAgingReport(w http.ResponseWriter, r *http.Request) {
	rg, limit, ok := d.reportRange(w, r, report.DefaultAgingRange(d.now()))
	if !ok {
		return
	}
	q := r.URL.Query()
	page, next, err := d.st.Milestones(r.Context(), store.MilestoneQuery{From: rg.From, To: rg.To, Source: q.Get("source"),
		KeyID: q.Get("key"), Period: d.thresholds.RotationPeriod, Limit: limit, Cursor: q.Get("cursor")})
	if d.storeFailed(w, r, err) {
		return
	}
	now := d.now()
	out := api.AgingReport{Range: rg, Entries: make([]report.AgingEntry, 0, len(page)), NextCursor: next}
	for _, m := range page {
		out.Entries = append(out.Entries, report.Entry(m.Key, m.Kind, m.Date, now, d.thresholds))
	}
	if q.Get("cursor") == "" {
		if out.Summary, err = d.summaryFor(r, q.Get("source")); err != nil {
			d.internal(w, r, err)
			return
		}
	}
	api.WriteJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleActivityReport(w http.ResponseWriter, r *http.Request) {
	d.activity(w, r, report.DefaultActivityRange(d.now()), true)
}

// activity answers the activity log or report: events matching the filters,
// newest first, one page at a time, and on the first page of a report the
// count per day.
func (d *Daemon) activity(w http.ResponseWriter, r *http.Request, def report.Range, perDay bool) {
	rg, limit, ok := d.reportRange(w, r, def)
	if !ok {
		return
	}
	q := r.URL.Query()
	eq := store.EventQuery{KeyID: q.Get("key"), Source: q.Get("source"), Operation: q.Get("operation"), Actor: q.Get("actor"),
		Origin: engine.Origin(q.Get("origin")), From: rg.From, To: rg.To, Limit: limit, Cursor: q.Get("cursor")}
	if q.Get("comparison") == "true" {
		eq.Origin = engine.OriginSource
	}
	events, next, err := d.st.Events(r.Context(), eq)
	if d.storeFailed(w, r, err) {
		return
	}
	if events == nil {
		events = []engine.Event{}
	}
	if !perDay {
		api.WriteJSON(w, http.StatusOK, api.EventsPage{Events: events, NextCursor: next})
		return
	}
	out := api.ActivityReport{Range: rg, Events: events, NextCursor: next}
	if eq.Cursor == "" {
		days, err := d.st.EventsPerDay(r.Context(), eq)
		if err != nil {
			d.internal(w, r, err)
			return
		}
		out.PerDay = report.Days(days, rg)
	}
	api.WriteJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleUsageReport(w http.ResponseWriter, r *http.Request) {
	rg, limit, ok := d.reportRange(w, r, report.DefaultActivityRange(d.now()))
	if !ok {
		return
	}
	if limit == 0 {
		limit = 200
	}
	q := r.URL.Query()
	app := q.Get("app")
	// Summed per key in SQL: the answer holds one row per key whatever the range.
	rows, err := d.st.UsageTotals(r.Context(), store.UsageQuery{Application: app, From: rg.From, To: rg.To})
	if err != nil {
		d.internal(w, r, err)
		return
	}
	srcs, err := d.st.Sources(r.Context())
	if err != nil {
		d.internal(w, r, err)
		return
	}
	// Only ring keys (KMIP sources, and the built-in seed) feed the proxy;
	// a cloud key tagged with an application is not a proxy key.
	srcFilter, keyFilter := q.Get("source"), q.Get("key")
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
			ks, err := d.st.AppKeysByShortID(r.Context(), u.Application, u.KeyID)
			if err != nil {
				d.internal(w, r, err)
				return
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
	// Unused keys: the first limit in id order, and their number from the
	// counts the store keeps (less the used ones it counted).
	var cands []engine.Key
	total := 0
	listed := func(k engine.Key) bool {
		return eligible(k) && (app == "" || k.Application == app) && slices.Contains(report.UnusedStates, k.State)
	}
	if keyFilter != "" {
		k, err := d.st.Key(r.Context(), keyFilter)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			d.internal(w, r, err)
			return
		}
		if err == nil && k.Application != "" && listed(k) {
			cands = []engine.Key{k}
			if _, ok := used[k.ID]; !ok {
				total = 1
			}
		}
	} else {
		if total, err = d.st.AppKeyCount(r.Context(), app, feeds, report.UnusedStates); err != nil {
			d.internal(w, r, err)
			return
		}
		for _, k := range used {
			if listed(k) {
				total--
			}
		}
		if cands, err = d.st.AppKeysByID(r.Context(), app, feeds, report.UnusedStates, limit+len(used)); err != nil {
			d.internal(w, r, err)
			return
		}
	}
	u := report.BuildUsage(hours, cands, rg)
	if len(u.Unused) > limit {
		u.Unused = u.Unused[:limit]
	}
	u.UnusedTotal = total
	api.WriteJSON(w, http.StatusOK, u)
}
