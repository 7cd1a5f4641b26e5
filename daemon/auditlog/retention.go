package auditlog

import (
	"context"
	"log/slog"
	"time"
)

// Retention runs the retention settings: archive and prune old events,
// fold old hourly usage into days and drop the oldest, and give the freed
// pages back to the file system.
type Retention struct {
	Archiver *Archiver
	// UsageHourly and Usage: hourly usage rows older than UsageHourly are
	// folded into days; rows older than Usage are dropped (0: never).
	UsageHourly, Usage time.Duration
	Log                *slog.Logger
}

// Run runs retention now and every interval until ctx ends.
func (r *Retention) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once runs every retention step once; failures are logged and retried at
// the next run (nothing is half done: see Archiver.Prune).
func (r *Retention) Once(ctx context.Context) {
	a := r.Archiver
	archived, pruned, err := a.Prune(ctx)
	if err != nil && ctx.Err() == nil {
		r.Log.Error("retention: events not archived", "err", err)
	}
	now := a.Now()
	if r.UsageHourly > 0 || r.Usage > 0 {
		var before, drop time.Time
		if r.UsageHourly > 0 {
			before = now.Add(-r.UsageHourly)
		}
		if r.Usage > 0 {
			drop = now.Add(-r.Usage)
		}
		if err := a.St.RollUpUsage(ctx, before, drop); err != nil && ctx.Err() == nil {
			r.Log.Error("retention: usage not rolled up", "err", err)
		}
	}
	freed, err := a.St.ReclaimSpace(ctx, 256)
	if err != nil && ctx.Err() == nil {
		r.Log.Error("retention: space not reclaimed", "err", err)
	}
	if archived > 0 || pruned > 0 || freed > 0 {
		r.Log.Info("retention", "archived", archived, "pruned", pruned, "pages_freed", freed, "archive_dir", a.Dir)
	}
}
