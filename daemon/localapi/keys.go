package localapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// keyFilters are the query parameters of GET /v1/keys and its export.
var keyFilters = api.TextParams("source", "state", "aging", "q", "sort")

// exportPage is how many keys the export reads from the store at a time:
// the daemon holds one such page, never the whole answer, and no read
// transaction stays open while the caller reads.
const exportPage = 2000

// keyQuery reads the filters the keys list and the keys export share; a
// state or bucket it does not know is a 400.
func (h *Handler) keyQuery(r *http.Request) (store.KeyQuery, error) {
	q := r.URL.Query()
	d := h.s.Daemon
	kq := store.KeyQuery{Source: q.Get("source"), Text: q.Get("q"), Sort: q.Get("sort"), Cursor: q.Get("cursor"),
		Limit: intParam(r, "limit"), Now: d.Now(), Thresholds: d.Thresholds()}
	if err := h.checkSource(r.Context(), kq.Source); err != nil {
		return kq, err
	}
	if s := q.Get("state"); s != "" {
		st, err := engine.ParseState(s)
		if err != nil {
			return kq, badRequest("%v", err)
		}
		kq.State = st
	}
	if a := q.Get("aging"); a != "" {
		ok := false
		for _, b := range kq.Thresholds.Buckets() {
			ok = ok || string(b) == a
		}
		if !ok {
			return kq, badRequest("unknown aging bucket %q (known: %v)", a, kq.Thresholds.Buckets())
		}
		kq.Aging = engine.Bucket(a)
	}
	return kq, nil
}

// checkSource is a 404 when a filter names a source the daemon has never
// had (configured now, or once: its keys are kept), listing the ones it
// has — an administrator who mistyped one got an empty answer, read as
// "no keys" or "nothing happened". A schedule's health row passes, and
// so does schedule:NAME of a schedule that has not run yet.
func (h *Handler) checkSource(ctx context.Context, source string) error {
	if source == "" {
		return nil
	}
	srcs, err := h.s.Daemon.Store().Sources(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, s := range srcs {
		if s.Name == source {
			return nil
		}
		if s.Kind != api.ScheduleSourceKind {
			names = append(names, s.Name)
		}
	}
	// A schedule's health row is made at its first run.
	if name, ok := strings.CutPrefix(source, api.ScheduleSourceKind+":"); ok && h.s.Schedules != nil {
		if _, err := h.s.Schedules.Infos(ctx, name); err == nil {
			return nil
		}
	}
	if len(names) == 0 {
		return notFound("no source named %q (there is none yet)", source)
	}
	return notFound("no source named %q (sources: %s)", source, strings.Join(names, ", "))
}

// checkKey is a 404 when a report is asked about a key id the inventory
// does not hold, as GET /v1/keys/{id} says (called when the report is
// empty: a removed key's history still answers).
func (h *Handler) checkKey(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	_, err := h.s.Daemon.Store().Key(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no key with id %q (ids look like source/name[/version]; see keyward keys list)", id)
	}
	return err
}

// sortError is a store error that names a sort the store cannot do: the
// caller's mistake.
func sortError(err error) error {
	if err != nil && strings.Contains(err.Error(), "cannot sort") {
		return badRequest("%v", err)
	}
	return err
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request) error {
	kq, err := h.keyQuery(r)
	if err != nil {
		return err
	}
	// A bucket's size comes from the store's kept aging dates (exact, a
	// few ms at a million keys); counting the bucket's keys would scan.
	// It is also what chooses how the store reads the page.
	if kq.Aging != "" && kq.State == "" && kq.Text == "" {
		counts, _, _, err := h.s.Daemon.AgingCounts(r.Context())
		if err != nil {
			return err
		}
		held := 0
		for src, m := range counts {
			if kq.Source == "" || kq.Source == src {
				held += m[kq.Aging]
			}
		}
		kq.AgingHeld = &held
	}
	page, err := h.s.Daemon.Store().Keys(r.Context(), kq)
	if err != nil {
		return sortError(err)
	}
	h.classify(page.Keys)
	if page.Keys == nil {
		page.Keys = []engine.Key{}
	}
	api.WriteKeysPage(w, http.StatusOK, api.KeysPage{Keys: page.Keys, Total: page.Total, NextCursor: page.NextCursor})
	return nil
}

func (h *Handler) key(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	st := h.s.Daemon.Store()
	k, err := st.Key(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no key with id %q (ids look like source/name[/version]; see keyward keys list)", id)
	}
	if err != nil {
		return err
	}
	a := engine.Classify(k, h.s.Daemon.Now(), h.s.Daemon.Thresholds())
	k.Aging = &a
	events, _, err := st.Events(r.Context(), store.EventQuery{KeyID: id, Limit: 50})
	if err != nil {
		return err
	}
	if events == nil {
		events = []engine.Event{}
	}
	out := api.KeyDetail{Key: k, Activity: events}
	if k.Version != "" {
		if out.Versions, out.VersionsTotal, err = st.KeyVersions(r.Context(), k.Source, k.Name, api.MaxKeyVersions); err != nil {
			return err
		}
		now, th := h.s.Daemon.Now(), h.s.Daemon.Thresholds()
		for i := range out.Versions {
			a := engine.Classify(out.Versions[i], now, th)
			out.Versions[i].Aging = &a
		}
	}
	return writeJSON(w, out)
}

// exportKeys streams every key matching the filters of GET /v1/keys, as
// newline-delimited JSON (one Key per line, format=ndjson, the default) or
// CSV with a header row (format=csv), in the order of sort, up to limit
// keys. It reads the store a page at a time (keyset paging) straight from
// the driver's rows into the page's encoding (store.KeySnapshot.EachKey),
// so memory does not grow with the inventory; every page comes from one
// read snapshot taken when the export began, so a key a sync changes or
// removes meanwhile is exported once, never twice nor skipped. Each page
// must be read by the caller within the write timeout, which bounds how
// long the snapshot holds the WAL. Every key is classified at the instant
// the export began.
// A failure after the answer has started cuts the connection, so a caller
// can never take a cut export for a whole one.
func (h *Handler) exportKeys(w http.ResponseWriter, r *http.Request) error {
	kq, err := h.keyQuery(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "ndjson"
	}
	if format != "ndjson" && format != "csv" {
		return badRequest("unknown format %q (want ndjson or csv)", format)
	}
	left := kq.Limit // 0: all
	kq.Cursor = ""
	classes := engine.NewClassifier(kq.Now, kq.Thresholds)
	// One page's encoding, reused: each key's JSON line or CSV record.
	var page []byte
	encode := func(k *engine.Key) error {
		c := classes.Classify(k)
		var err error
		page, err = api.AppendKeyJSONClass(page, k, &c)
		page = append(page, '\n')
		return err
	}
	contentType := "application/x-ndjson"
	if format == "csv" {
		contentType = "text/csv; charset=utf-8"
		encode = func(k *engine.Key) error {
			c := classes.Classify(k)
			page = api.AppendKeyCSV(page, k, &c)
			return nil
		}
	}
	// Every page is read from one snapshot, so a key a sync changes or
	// removes meanwhile is exported once, as it was when the export began.
	snap, err := h.s.Daemon.Store().KeySnapshot(r.Context())
	if err != nil {
		return err
	}
	defer snap.Close()
	rc := http.NewResponseController(w)
	for started, sent := false, 0; ; {
		kq.Limit = exportPage
		if left > 0 && left-sent < exportPage {
			kq.Limit = left - sent
		}
		page = page[:0]
		if !started && format == "csv" {
			page = append(append(page, strings.Join(api.KeyCSVHeader, ",")...), '\n')
		}
		n := 0
		next, err := snap.EachKey(r.Context(), kq, func(k *engine.Key) error {
			n++
			return encode(k)
		})
		if err != nil {
			if !started {
				return sortError(err)
			}
			if r.Context().Err() == nil {
				h.s.Log.Error("key export cut short", "keys_sent", sent, "err", err)
			}
			panic(http.ErrAbortHandler) // no end chunk: the caller sees a cut answer
		}
		// Each page gets the write timeout anew: a large export is bounded
		// per page, not as a whole.
		_ = rc.SetWriteDeadline(time.Now().Add(h.s.WriteTimeout))
		if !started {
			started = true
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(http.StatusOK)
		}
		if _, err := w.Write(page); err != nil {
			return nil // the caller went away
		}
		if rc.Flush() != nil {
			return nil
		}
		sent += n
		if next == "" || (left > 0 && sent >= left) {
			return nil
		}
		kq.Cursor = next
	}
}

// classify fills in each key's aging class at this instant.
func (h *Handler) classify(keys []engine.Key) {
	now, t := h.s.Daemon.Now(), h.s.Daemon.Thresholds()
	for i := range keys {
		a := engine.Classify(keys[i], now, t)
		keys[i].Aging = &a
	}
}
