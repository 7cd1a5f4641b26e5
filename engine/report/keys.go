package report

import (
	"strconv"

	"github.com/keyward/keyward/engine"
)

// KeyCSVHeader is the header row of a key inventory export in CSV.
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
