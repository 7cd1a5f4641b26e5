package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// status is GET /v1/status (and the hello of an event stream).
func (h *Handler) status(r *http.Request) (*api.Status, error) {
	srcs, n, err := h.s.Daemon.SourcesWithCounts(r.Context())
	if err != nil {
		return nil, err
	}
	au, err := h.s.Daemon.AuditStatus(r.Context())
	if err != nil {
		return nil, err
	}
	i := h.s.Daemon.Info()
	return &api.Status{Version: i.Version, PID: i.PID, StartedAt: i.StartedAt, Socket: i.Socket, DataDir: i.DataDir,
		Keys: n, Sources: srcs, Caller: CallerOf(r), Audit: au}, nil
}

func (h *Handler) getStatus(w http.ResponseWriter, r *http.Request) error {
	s, err := h.status(r)
	if err != nil {
		return err
	}
	return writeJSON(w, s)
}

func (h *Handler) getSources(w http.ResponseWriter, r *http.Request) error {
	srcs, _, err := h.s.Daemon.SourcesWithCounts(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.SourceInfo, 0, len(srcs))
	for _, s := range srcs {
		info := api.SourceInfo{Source: s}
		h.s.Daemon.Describe(&info)
		out = append(out, info)
	}
	return writeJSON(w, map[string]any{"sources": out})
}

// sync asks every source that can sync on demand (or only ?source=S) to
// sync now; the audit hook records who asked.
func (h *Handler) sync(w http.ResponseWriter, r *http.Request) error {
	want := r.URL.Query().Get("source")
	var synced []string
	found := false
	for _, s := range h.s.Daemon.Sources() {
		if want != "" && s.Name() != want {
			continue
		}
		found = true
		sy, ok := s.(sources.Syncer)
		if !ok {
			if want != "" {
				return badRequest("source %q (%s) cannot sync on demand", want, s.Kind())
			}
			continue
		}
		if err := sy.SyncNow(r.Context()); err != nil {
			return fail(http.StatusBadGateway, api.CodeUnavailable, "sync %s: %v", s.Name(), err)
		}
		synced = append(synced, s.Name())
	}
	if want != "" && !found {
		if name, ok := strings.CutPrefix(want, "schedule:"); ok && h.s.Schedules != nil {
			if _, err := h.s.Schedules.Infos(r.Context(), name); err == nil {
				// keyward status lists a schedule's health beside the
				// sources; it is not one, and runs instead of syncing.
				return badRequest("%q is the health of schedule %s, not a source: a schedule does not sync; run it now with keyward schedule run %s (R in the Schedules pane)", want, name, name)
			}
		}
		return notFound("no source named %q (see keyward status)", want)
	}
	for _, name := range synced {
		record(r, engine.Event{Source: name, Operation: engine.OpSynced, Details: "sync requested"}, false)
	}
	if synced == nil {
		synced = []string{}
	}
	return writeJSON(w, map[string]any{"synced": synced})
}

// events streams notifications as newline-delimited JSON until the client
// goes away or the daemon stops. The first line is a hello with the
// daemon's status and the sequence number of the latest notification.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) error {
	c := CallerOf(r)
	ch, hello, cancel, err := h.s.Daemon.Subscribe(c.UID, h.s.StreamsPerUID)
	if err != nil {
		return fail(http.StatusTooManyRequests, api.CodeUnavailable, "%v", err)
	}
	defer cancel()
	st, err := h.status(r)
	if err != nil {
		return err
	}
	// A stream lives as long as its reader: no read deadline (the caller
	// sends nothing more), and a write deadline per notification instead
	// of one for the whole answer.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(n api.Notification) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.s.StreamWriteTimeout))
		err := enc.Encode(n)
		if err == nil {
			err = rc.Flush()
		}
		if err == nil {
			return true
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			why := fmt.Sprintf("it did not read a notification within %s", h.s.StreamWriteTimeout)
			h.s.Daemon.Drop(c.UID, why)
			h.s.Log.Warn("event stream dropped", "uid", c.UID, "user", c.User, "reason", why)
		}
		return false
	}
	hello.Time, hello.Status = h.s.Daemon.Now(), st
	if !send(hello) {
		return nil
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case n, ok := <-ch:
			if !ok || !send(n) {
				return nil
			}
		}
	}
}

// getMetrics is GET /v1/metrics: the daemon's Prometheus metrics, text
// format.
func (h *Handler) getMetrics(w http.ResponseWriter, r *http.Request) error {
	h.s.Daemon.Metrics().ServeHTTP(w, r)
	return nil
}
