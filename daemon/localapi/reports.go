package localapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
)

// reportRange reads a request's range (from/to, defaulting to def; a zero
// def means no range unless asked: the activity log) and its page size. A
// report's range (def not zero) is at most report.MaxRangeDays long.
func (h *Handler) reportRange(r *http.Request, def report.Range) (report.Range, int, error) {
	q := r.URL.Query()
	rg, err := report.ParseRange(q.Get("from"), q.Get("to"), h.s.Daemon.Now(), def)
	if err != nil {
		return rg, 0, badRequest("%v", err)
	}
	return rg, intParam(r, "limit"), nil
}

func (h *Handler) summaryFor(r *http.Request, source string) (*report.AgingSummary, error) {
	counts, at, _, err := h.s.Daemon.AgingCounts(r.Context())
	if err != nil {
		return nil, err
	}
	if source != "" {
		counts = map[string]map[engine.Bucket]int{source: counts[source]}
	}
	s := report.SummarizeCounts(counts, at, h.s.Daemon.Thresholds())
	return &s, nil
}

// keySummaryFor is the summary of one key (of source, when not ""): its
// bucket now, or nothing for an id of no key.
func (h *Handler) keySummaryFor(r *http.Request, source, id string) (*report.AgingSummary, error) {
	d := h.s.Daemon
	now, t := d.Now(), d.Thresholds()
	counts := map[string]map[engine.Bucket]int{}
	k, err := d.Store().Key(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	case source == "" || k.Source == source:
		counts[k.Source] = map[engine.Bucket]int{engine.Classify(k, now, t).Bucket: 1}
	}
	s := report.SummarizeCounts(counts, now, t)
	return &s, nil
}

func (h *Handler) agingSummary(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkSource(r.Context(), r.URL.Query().Get("source")); err != nil {
		return err
	}
	s, err := h.summaryFor(r, r.URL.Query().Get("source"))
	if err != nil {
		return err
	}
	return writeJSON(w, s)
}

func (h *Handler) agingReport(w http.ResponseWriter, r *http.Request) error {
	d := h.s.Daemon
	rg, limit, err := h.reportRange(r, report.DefaultAgingRange(d.Now()))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	t := d.Thresholds()
	page, next, err := d.Store().Milestones(r.Context(), store.MilestoneQuery{From: rg.From, To: rg.To, Source: q.Get("source"),
		KeyID: q.Get("key"), Period: t.RotationPeriod, Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	if len(page) == 0 && q.Get("cursor") == "" {
		if err := h.checkSource(r.Context(), q.Get("source")); err != nil {
			return err
		}
		if err := h.checkKey(r.Context(), q.Get("key")); err != nil {
			return err
		}
	}
	now := d.Now()
	out := api.AgingReport{Range: rg, Entries: make([]report.AgingEntry, 0, len(page)), NextCursor: next}
	for _, m := range page {
		out.Entries = append(out.Entries, report.Entry(m.Key, m.Kind, m.Date, now, t))
	}
	if q.Get("cursor") == "" {
		if q.Has("key") {
			out.Summary, err = h.keySummaryFor(r, q.Get("source"), q.Get("key"))
		} else {
			out.Summary, err = h.summaryFor(r, q.Get("source"))
		}
		if err != nil {
			return err
		}
	}
	return writeJSON(w, out)
}

// activityLog is the activity log of all time (unless from/to say
// otherwise), newest first; the activity report is the same with a default
// range of 30 days and the per-day counts.
func (h *Handler) activityLog(w http.ResponseWriter, r *http.Request) error {
	return h.activity(w, r, report.Range{}, false)
}

func (h *Handler) activityReport(w http.ResponseWriter, r *http.Request) error {
	return h.activity(w, r, report.DefaultActivityRange(h.s.Daemon.Now()), true)
}

// activity answers the activity log or report: events matching the filters,
// newest first, one page at a time, and on the first page of a report the
// count per day.
func (h *Handler) activity(w http.ResponseWriter, r *http.Request, def report.Range, perDay bool) error {
	rg, limit, err := h.reportRange(r, def)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	eq := store.EventQuery{KeyID: q.Get("key"), Source: q.Get("source"), Operation: q.Get("operation"), Actor: q.Get("actor"),
		Origin: engine.Origin(q.Get("origin")), From: rg.From, To: rg.To, Limit: limit, Cursor: q.Get("cursor")}
	if eq.Origin != "" && !slices.Contains(engine.Origins, eq.Origin) {
		// A mistyped origin matched no event: an empty log that reads as
		// "nothing happened".
		names := make([]string, len(engine.Origins))
		for i, o := range engine.Origins {
			names[i] = string(o)
		}
		return badRequest("origin: %q is not one of %s", eq.Origin, strings.Join(names, ", "))
	}
	if q.Get("comparison") == "true" {
		eq.Origin = engine.OriginSource
	}
	st := h.s.Daemon.Store()
	events, next, err := st.Events(r.Context(), eq)
	if err != nil {
		return err
	}
	// An operation no event is ever recorded under (a typo: "rotate" for
	// "rotated") is a 400 naming the nearest, not an empty answer. One an
	// added route records (Options.Routes) is not in engine.Operations
	// but has events, so it passes.
	if len(events) == 0 && eq.Operation != "" {
		if err := engine.CheckOperation(eq.Operation); err != nil {
			return badRequest("operation: %v", err)
		}
	}
	// So is a source the daemon never had.
	if len(events) == 0 && eq.Cursor == "" {
		if err := h.checkSource(r.Context(), eq.Source); err != nil {
			return err
		}
		if err := h.checkKey(r.Context(), eq.KeyID); err != nil {
			return err
		}
	}
	if events == nil {
		events = []engine.Event{}
	}
	if !perDay {
		return writeJSON(w, api.EventsPage{Events: events, NextCursor: next})
	}
	out := api.ActivityReport{Range: rg, Events: events, NextCursor: next}
	if eq.Cursor == "" {
		days, err := st.EventsPerDay(r.Context(), eq)
		if err != nil {
			return err
		}
		out.PerDay = report.Days(days, rg)
	}
	return writeJSON(w, out)
}

// checkApp is a 404 when a usage report is asked about an application no
// key of the inventory belongs to (called when the report is empty), naming
// the applications there are.
func (h *Handler) checkApp(ctx context.Context, app string) error {
	if app == "" {
		return nil
	}
	st := h.s.Daemon.Store()
	srcs, err := st.Sources(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(srcs))
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	n, err := st.AppKeyCount(ctx, app, names, engine.States)
	if err != nil || n > 0 {
		return err
	}
	return notFound("no key of the inventory belongs to application %q (keyward keys list --json shows each key's application)", app)
}

func (h *Handler) usageReport(w http.ResponseWriter, r *http.Request) error {
	rg, limit, err := h.reportRange(r, report.DefaultActivityRange(h.s.Daemon.Now()))
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = 200
	}
	q := r.URL.Query()
	if err := h.checkSource(r.Context(), q.Get("source")); err != nil {
		return err
	}
	u, err := h.s.Daemon.Usage(r.Context(), UsageQuery{Range: rg, App: q.Get("app"), Source: q.Get("source"), Key: q.Get("key"), Limit: limit})
	if err != nil {
		return err
	}
	if len(u.Rows) == 0 && len(u.Unused) == 0 {
		if err := h.checkApp(r.Context(), q.Get("app")); err != nil {
			return err
		}
		if err := h.checkKey(r.Context(), q.Get("key")); err != nil {
			return err
		}
	}
	return writeJSON(w, u)
}
