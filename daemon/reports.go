package daemon

import (
	"context"
	"time"

	"github.com/keyward/keyward/engine"
)

// AgingCounts are the keys per source and bucket at the daemon's clock,
// counted for this request from the dates the store keeps (migration 0019:
// a sum over whole days and an exact count of the partial days, a few ms at
// a million keys), so the first request after a start does not wait for a
// background count and no answer is an estimate. A store kept for other
// thresholds (changed behind the daemon's back after PrepareAging) is
// counted key by key instead: slow, still exact.
func (d *Daemon) AgingCounts(ctx context.Context) (map[string]map[engine.Bucket]int, time.Time, bool, error) {
	now := d.now()
	counts, ok, err := d.st.AgingCountsKept(ctx, now, d.thresholds)
	if err == nil && !ok {
		counts, err = d.st.AgingCounts(ctx, now, d.thresholds)
	}
	return counts, now, false, err
}
