package daemon

import (
	"bufio"
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// exportPage is how many keys the export reads from the store at a time:
// the daemon holds one such page, never the whole answer, and no read
// transaction stays open while the caller reads.
const exportPage = 2000

// handleKeysExport streams every key matching the filters of GET /v1/keys,
// as newline-delimited JSON (one Key per line, format=ndjson, the default)
// or CSV with a header row (format=csv), in the order of sort, up to limit
// keys. It reads the store a page at a time (keyset paging), so memory does
// not grow with the inventory; each page must be read by the caller within
// the write timeout. A failure after the answer has started cuts the
// connection, so a caller can never take a cut export for a whole one.
func (d *Daemon) handleKeysExport(w http.ResponseWriter, r *http.Request) {
	kq, ok := d.keyQuery(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "ndjson"
	}
	if format != "ndjson" && format != "csv" {
		badRequest(w, "unknown format %q (want ndjson or csv)", format)
		return
	}
	left := kq.Limit // 0: all
	kq.SkipCount, kq.Cursor = true, ""
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	// One writer per format: ndjson encodes each key on its line; csv
	// writes a header row first.
	var cw *csv.Writer
	var line []byte
	write := func(k engine.Key) error {
		var err error
		if line, err = api.AppendKeyJSON(line[:0], k); err != nil {
			return err
		}
		_, err = bw.Write(append(line, '\n'))
		return err
	}
	flush := bw.Flush
	if format == "csv" {
		cw = csv.NewWriter(bw)
		write = func(k engine.Key) error { return cw.Write(api.CSVSafe(api.KeyCSVRecord(k))) }
		flush = func() error {
			if cw.Flush(); cw.Error() != nil {
				return cw.Error()
			}
			return bw.Flush()
		}
	}
	for started, sent := false, 0; ; {
		kq.Limit = exportPage
		if left > 0 && left-sent < exportPage {
			kq.Limit = left - sent
		}
		page, err := d.st.Keys(r.Context(), kq)
		if err != nil {
			if !started {
				if strings.Contains(err.Error(), "cannot sort") {
					badRequest(w, "%v", err)
				} else {
					d.internal(w, r, err)
				}
				return
			}
			if r.Context().Err() == nil {
				d.log.Error("key export cut short", "keys_sent", sent, "err", err)
			}
			panic(http.ErrAbortHandler) // no end chunk: the caller sees a cut answer
		}
		// Each page gets the write timeout anew: a large export is bounded
		// per page, not as a whole.
		_ = rc.SetWriteDeadline(time.Now().Add(d.limits.WriteTimeout))
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			if cw != nil {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			}
			w.WriteHeader(http.StatusOK)
			if cw != nil && cw.Write(api.KeyCSVHeader) != nil {
				return
			}
		}
		d.classify(page.Keys)
		for _, k := range page.Keys {
			if write(k) != nil {
				return // the caller went away
			}
		}
		if flush() != nil {
			return
		}
		sent += len(page.Keys)
		if page.NextCursor == "" || (left > 0 && sent >= left) {
			return
		}
		kq.Cursor = page.NextCursor
	}
}

// classify fills in each key's aging class at this instant.
func (d *Daemon) classify(keys []engine.Key) {
	now := d.now()
	for i := range keys {
		a := engine.Classify(keys[i], now, d.thresholds)
		keys[i].Aging = &a
	}
}
