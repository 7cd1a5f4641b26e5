package api

import (
	"strconv"
	"time"

	"github.com/keyward/keyward/engine"
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
