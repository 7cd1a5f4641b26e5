package api

import (
	"encoding/csv"
	"strconv"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// CSVSafe returns rec with every cell that a spreadsheet would run as a
// formula (one starting with =, +, @, a tab or a carriage return, or a -
// that does not start a plain number) prefixed with a single quote, as
// OWASP advises against CSV injection: key names, descriptions and tags
// come from clouds and KMSs that other people write to. rec itself is not
// changed; a record with nothing to neutralise is returned as it is.
func CSVSafe(rec []string) []string {
	var out []string
	for i, c := range rec {
		if !formulaLike(c) {
			continue
		}
		if out == nil {
			out = append([]string(nil), rec...)
		}
		out[i] = "'" + c
	}
	if out == nil {
		return rec
	}
	return out
}

func formulaLike(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '@', '\t', '\r':
		return true
	case '-':
		_, err := strconv.ParseFloat(s, 64)
		return err != nil
	}
	return false
}

// KeyCSVHeader is the header row of a key inventory export in CSV
// (GET /v1/export/keys?format=csv, keyward keys list --format csv).
var KeyCSVHeader = []string{"id", "source", "name", "version", "application", "algorithm", "length", "state",
	"aging", "aging_due", "fingerprint", "created", "activated", "expires", "deactivated", "destroyed", "deleted",
	"purge_at", "linked_to", "updated"}

// KeyCSVRecord is one key as a CSV record under KeyCSVHeader: ISO-8601 UTC
// times, empty cells for what is unknown. Tags are left out.
func KeyCSVRecord(k engine.Key) []string {
	length, bucket, due := "", "", ""
	if k.Length > 0 {
		length = strconv.Itoa(k.Length)
	}
	if k.Aging != nil {
		bucket, due = string(k.Aging.Bucket), isoPtr(k.Aging.Due)
	}
	return []string{k.ID, k.Source, k.Name, k.Version, k.Application, k.Algorithm, length, string(k.State),
		bucket, due, k.Fingerprint, isoPtr(k.Created), isoPtr(k.Activated), isoPtr(k.Expires),
		isoPtr(k.Deactivated), isoPtr(k.Destroyed), isoPtr(k.Deleted), isoPtr(k.PurgeAt), k.LinkedTo, iso(k.Updated)}
}

// AppendKeyCSV appends the CSV record of the key k points to, classified
// as c (k's own Aging is not read), followed by a newline: byte for byte
// what a csv.Writer writes for CSVSafe(KeyCSVRecord(k)) with that aging.
// A key whose cells are plain ASCII needing neither quotes nor the
// formula guard (the common case) is written without allocating; any
// other goes through csv.Writer.
func AppendKeyCSV(dst []byte, k *engine.Key, c *engine.Class) []byte {
	start := len(dst)
	plain := true
	cell := func(s string) {
		if plain = plain && plainCSV(s); plain {
			dst = append(append(dst, s...), ',')
		}
	}
	at := func(t *time.Time) {
		if t != nil && !t.IsZero() {
			dst = t.UTC().AppendFormat(dst, time.RFC3339)
		}
		dst = append(dst, ',')
	}
	cell(k.ID)
	cell(k.Source)
	cell(k.Name)
	cell(k.Version)
	cell(k.Application)
	cell(k.Algorithm)
	if k.Length > 0 {
		dst = strconv.AppendInt(dst, int64(k.Length), 10)
	}
	dst = append(dst, ',')
	cell(string(k.State))
	cell(string(c.Bucket))
	if c.HasDue {
		at(&c.Due)
	} else {
		at(nil)
	}
	cell(k.Fingerprint)
	at(k.Created)
	at(k.Activated)
	at(k.Expires)
	at(k.Deactivated)
	at(k.Destroyed)
	at(k.Deleted)
	at(k.PurgeAt)
	cell(k.LinkedTo)
	at(&k.Updated)
	if plain {
		dst[len(dst)-1] = '\n'
		return dst
	}
	kk := *k
	a := c.Aging()
	kk.Aging = &a
	w := &appendWriter{dst[:start]}
	cw := csv.NewWriter(w)
	cw.Write(CSVSafe(KeyCSVRecord(kk))) // writes to memory: no error
	cw.Flush()
	return w.b
}

// plainCSV reports whether csv.Writer writes s as it is and CSVSafe leaves
// it alone: printable ASCII without a comma or quote, not starting with a
// space, a formula character or a minus (a number is left to the slow
// path), and not the one field csv quotes, \.
func plainCSV(s string) bool {
	if s != "" && (s[0] == ' ' || s[0] == '-' || formulaLike(s)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == ',' || c == '"' {
			return false
		}
	}
	return s != `\.`
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func isoPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return iso(*t)
}

// Report CSV columns, shared by the front ends' exports (tui/render) and
// the daemon's report schedules, so a report reads the same wherever it
// was written.
var (
	// AgingCSVHeader's version came last (added after the others), so
	// readers of the columns before it by position read the same.
	AgingCSVHeader    = []string{"date", "milestone", "key_id", "source", "name", "state", "bucket", "reason", "version"}
	ActivityCSVHeader = []string{"time", "operation", "key_id", "source", "actor", "origin", "severity", "details"}
	// UsageCSVHeader's first_use_hour is the start of the hour of the
	// first use: usage is counted per hour, and only the last use of an
	// hour is kept (last_use is the use itself).
	UsageCSVHeader = []string{"app", "key_id", "encrypts", "decrypts", "first_use_hour", "last_use"}
)

// AgingCSVRecord is one aging milestone under AgingCSVHeader.
func AgingCSVRecord(e report.AgingEntry) []string {
	return []string{iso(e.Date), e.Milestone, e.KeyID, e.Source, e.Name, string(e.State), string(e.Bucket), e.Reason, e.Version}
}

// ActivityCSVRecord is one event under ActivityCSVHeader.
func ActivityCSVRecord(e engine.Event) []string {
	return []string{iso(e.Time), e.Operation, e.KeyID, e.Source, e.Actor, string(e.Origin), string(e.Severity), e.Details}
}

// UsageCSVRecord is one application's use of one generation under
// UsageCSVHeader.
func UsageCSVRecord(r report.UsageRow) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{r.App, r.KeyID, n(r.Encrypts), n(r.Decrypts), iso(r.First), iso(r.Last)}
}

// UnusedCSVRecord is a key no application used in the range, under
// UsageCSVHeader.
func UnusedCSVRecord(k engine.Key) []string {
	return []string{k.Application, k.ID, "0", "0", "", ""}
}
