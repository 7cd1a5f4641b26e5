package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward/engine"
)

// summaryCache keeps the aging summary. Counting a million keys is a full
// scan that takes seconds in a pure-Go SQLite, and the buckets move slowly,
// so the summary is recomputed in the background — a few seconds after the
// inventory changed, and every minute as the clock moves keys between
// buckets — and requests are served from memory. Only the very first request
// after start, if it comes before the first computation, waits for one.
type summaryCache struct {
	mu    sync.Mutex
	at    time.Time
	cost  time.Duration // what the last computation took
	dirty bool
	val   map[string]map[engine.Bucket]int
	kick  chan struct{}
	ready chan struct{}
	once  sync.Once
}

func (c *summaryCache) init() {
	c.once.Do(func() {
		c.kick = make(chan struct{}, 1)
		c.ready = make(chan struct{})
	})
}

// invalidate asks for a recomputation (the inventory changed).
func (c *summaryCache) invalidate() {
	c.init()
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// runSummaries keeps the cache fresh until ctx ends.
func (d *Daemon) runSummaries(ctx context.Context) {
	c := &d.summary
	c.init()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if err := d.computeSummary(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("aging summary", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.kick:
			// Let a burst of changes (a sync page after page) settle.
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}
}

// computeSummary counts the buckets now and stores the result.
func (d *Daemon) computeSummary(ctx context.Context) error {
	c := &d.summary
	start, now := time.Now(), d.now()
	c.mu.Lock()
	c.dirty = false
	c.mu.Unlock()
	v, err := d.st.AgingCounts(ctx, now, d.thresholds)
	if err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	first := c.val == nil
	c.val, c.at, c.cost = v, now, time.Since(start)
	c.mu.Unlock()
	if first {
		close(c.ready)
	}
	return nil
}

// cheapSummary is how long a count may take to be done inside a request:
// below it (inventories up to a few tens of thousands of keys) a changed
// inventory is counted afresh; above it the background copy is served.
const cheapSummary = 50 * time.Millisecond

// AgingCounts are the keys per source and bucket, and when they were
// counted; estimated says they may lag the inventory (an inventory too
// large to recount inside a request is served as last counted).
func (d *Daemon) AgingCounts(ctx context.Context) (map[string]map[engine.Bucket]int, time.Time, bool, error) {
	c := &d.summary
	c.init()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, time.Time{}, false, ctx.Err()
	}
	c.mu.Lock()
	stale := c.dirty && c.cost < cheapSummary
	c.mu.Unlock()
	if stale {
		if err := d.computeSummary(ctx); err != nil {
			return nil, time.Time{}, false, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.val, c.at, c.cost >= cheapSummary, nil
}
