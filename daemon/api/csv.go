package api

import (
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
	AgingCSVHeader    = []string{"date", "milestone", "key_id", "source", "name", "state", "bucket", "reason"}
	ActivityCSVHeader = []string{"time", "operation", "key_id", "source", "actor", "origin", "severity", "details"}
	// UsageCSVHeader's first_use_hour is the start of the hour of the
	// first use: usage is counted per hour, and only the last use of an
	// hour is kept (last_use is the use itself).
	UsageCSVHeader = []string{"app", "key_id", "encrypts", "decrypts", "first_use_hour", "last_use"}
)

// AgingCSVRecord is one aging milestone under AgingCSVHeader.
func AgingCSVRecord(e report.AgingEntry) []string {
	return []string{iso(e.Date), e.Milestone, e.KeyID, e.Source, e.Name, string(e.State), string(e.Bucket), e.Reason}
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
