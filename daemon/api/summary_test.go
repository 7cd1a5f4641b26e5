package api

import (
	"strings"
	"testing"
	"time"
)

// TestAuditSummaryCounts: a new daemon's status reads "audit: 1 event"
// (its daemon-started event), not "1 events", as keyward status printed
// it on a fresh data dir; more read in the plural.
func TestAuditSummaryCounts(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	for n, want := range map[int64]string{1: "audit: 1 event · ", 2: "audit: 2 events · ", 0: "audit: 0 events · "} {
		got := (&AuditStatus{Events: n, Checkpoint: &AuditCheckpoint{Size: n, Head: "f0fcc67f00", Time: now}}).Summary(now)
		if !strings.HasPrefix(got, want) {
			t.Errorf("%d events: %q, want it to start %q", n, got, want)
		}
	}
}
