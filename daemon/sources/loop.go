package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/engine"
)

// Schedule is when a source syncs: every Interval while syncs work; after
// a failure again after a backoff that doubles from RetryMin up to
// RetryMax, spread by jitter (or after the wait the backend asked for);
// and, now and then, a full refresh that reads everything again.
type Schedule struct {
	// Interval is the wait after a sync that worked.
	Interval time.Duration
	// RetryMin and RetryMax bound the backoff after a failed sync
	// (defaults 1s and Interval).
	RetryMin, RetryMax time.Duration
	// NoJitter waits the backoff exactly. By default a retry waits a
	// uniform time in [backoff/2, backoff], so many daemons that lost the
	// same backend do not come back at the same instant.
	NoJitter bool
	// FullAfter makes a sync full when this long passed since the last
	// full sync that worked; the first sync is full. FullEvery (used when
	// FullAfter is 0) makes every FullEvery-th sync that worked full, the
	// first not. Neither: never full.
	FullAfter time.Duration
	FullEvery int
	// RetryAfter, when set, is the backend's own answer to how long to
	// wait after err (a throttling response's Retry-After), or 0; at most
	// MaxRetryAfter (or Interval, if longer) is waited.
	RetryAfter func(err error) time.Duration
}

// Clock is the time a Loop reads and waits on; tests drive a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a
	// function that releases the timer early.
	After(d time.Duration) (<-chan time.Time, func())
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (SystemClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// Outcome is what one sync says about its source's health beyond the
// error it returns: Problems are what a sync that worked could not do (a
// generation a ring could not take, a key it could not read); they leave
// the source degraded, saying so, while its schedule stays that of a sync
// that worked.
type Outcome struct {
	Problems []string
}

// SyncFunc is one sync of a source. full asks it to read everything
// again. An error means the sync failed: the source is degraded with the
// error's message and retried after a backoff.
type SyncFunc func(ctx context.Context, full bool) (Outcome, error)

// Loop is the run loop every polling source shares: it runs one sync at a
// time, decides which syncs are full, reports each sync's health to the
// sink, and waits the interval or the backoff in between. A source keeps
// one Loop and runs its scheduled syncs (Run) and the ones asked for
// (Once, for sync now) through it.
type Loop struct {
	name  string
	sched Schedule
	clock Clock
	log   *slog.Logger
	wake  chan struct{}

	run chan struct{} // holds a token while a sync runs: one at a time
	// queued is the sync that starts when the running one ends: callers of
	// Once that arrive meanwhile all wait for it (guarded by nextMu).
	nextMu sync.Mutex
	queued *flight
	// guarded by holding run:
	lastFull time.Time
	worked   int
	// backoff is the current retry backoff (0 after a sync that worked);
	// guarded by mu, which Run reads between syncs.
	mu      sync.Mutex
	backoff time.Duration
}

// NewLoop returns the run loop of the source called name.
func NewLoop(name string, sched Schedule, clock Clock, log *slog.Logger) *Loop {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sched.Interval <= 0 {
		sched.Interval = 5 * time.Minute
	}
	if sched.RetryMin <= 0 {
		sched.RetryMin = time.Second
	}
	if sched.RetryMax <= 0 {
		sched.RetryMax = sched.Interval
	}
	sched.RetryMin = min(sched.RetryMin, sched.RetryMax)
	return &Loop{name: name, sched: sched, clock: clock, log: log, wake: make(chan struct{}, 1), run: make(chan struct{}, 1)}
}

// Wake ends the wait of Run at once: the next sync starts now and the
// backoff starts again from RetryMin (the source's settings changed, say
// a new client identity).
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run syncs now, then on the schedule until ctx ends (it returns then).
func (l *Loop) Run(ctx context.Context, sink Sink, f SyncFunc) {
	for {
		err := l.Once(ctx, sink, f)
		if ctx.Err() != nil {
			return
		}
		wait := l.next(err)
		if err != nil {
			l.log.Warn("sync failed", "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		c, stop := l.clock.After(wait)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-c:
		case <-l.wake:
			stop()
			l.mu.Lock()
			l.backoff = 0
			l.mu.Unlock()
		}
	}
}

// next is the wait after a sync that returned err.
func (l *Loop) next(err error) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.backoff = 0
		return l.sched.Interval
	}
	l.backoff = min(max(2*l.backoff, l.sched.RetryMin), l.sched.RetryMax)
	if l.sched.RetryAfter != nil {
		if ra := l.sched.RetryAfter(err); ra > 0 {
			// A backend's answer is not trusted to stop the source for
			// good (a Retry-After date years ahead, by mistake or not).
			return min(ra, max(MaxRetryAfter, l.sched.Interval))
		}
	}
	if l.sched.NoJitter {
		return l.backoff
	}
	return Jitter(l.backoff)
}

// MaxRetryAfter is the longest wait a backend's Retry-After gets (or the
// interval, if longer).
const MaxRetryAfter = time.Hour

// Jitter is a uniform wait in [d/2, d].
func Jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Once runs one sync now (waiting for one in progress to end) and reports
// the source's health: degraded with the error's message when it failed,
// degraded with its problems (and the sync recorded) when it worked but
// could not do everything, ok otherwise. A sync cut short by ctx reports
// nothing. It returns the sync's error.
//
// Callers that arrive while a sync runs share the one sync that starts
// after it (it starts after each of them asked, so it sees what each
// asked for): five admins asking at once cost two syncs, not five in a
// row, and the readers of the inventory keep the CPU. A caller that asked
// while another was waiting gets that caller's result; if that sync was
// cut short by its own caller's context, it asks again.
func (l *Loop) Once(ctx context.Context, sink Sink, f SyncFunc) error {
	for {
		l.nextMu.Lock()
		if fl := l.queued; fl != nil {
			fl.waiters++
			l.nextMu.Unlock()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if fl.cut {
				continue
			}
			return fl.err
		}
		fl := &flight{done: make(chan struct{})}
		l.queued = fl
		l.nextMu.Unlock()
		l.lead(ctx, fl, sink, f)
		return fl.err
	}
}

// errSyncPanicked is what the callers sharing a sync get when it panicked
// (the panic itself goes on up the caller that ran it).
var errSyncPanicked = errors.New("the sync stopped on a bug (a panic, in the daemon's log); ask for it again")

// lead runs the sync fl once the one running ends, for fl's waiters too.
// However the sync ends, even in a panic, the next sync may start and
// the waiters get an answer. A leader whose ctx ends while it waits for
// the running sync (the daemon stops while a sync another caller asked
// for runs) gives up at once; its waiters ask again.
func (l *Loop) lead(ctx context.Context, fl *flight, sink Sink, f SyncFunc) {
	select {
	case l.run <- struct{}{}:
	case <-ctx.Done():
		l.nextMu.Lock()
		if l.queued == fl {
			l.queued = nil
		}
		l.nextMu.Unlock()
		fl.err, fl.cut = ctx.Err(), true
		close(fl.done)
		return
	}
	defer func() { <-l.run }()
	defer close(fl.done)
	l.nextMu.Lock()
	l.queued = nil // who asks from now on waits for the sync after this one
	l.nextMu.Unlock()
	fl.err = fmt.Errorf("sync of %s: %w", l.name, errSyncPanicked)
	fl.err = l.once(ctx, sink, f)
	fl.cut = ctx.Err() != nil
}

// flight is one sync shared by the callers of Once that wait for it.
type flight struct {
	done chan struct{}
	err  error
	cut  bool // ended by its caller's context
	// waiters is how many callers joined it besides its leader (guarded
	// by the Loop's nextMu): what a test waits for before it lets the
	// running sync end.
	waiters int
}

// once runs one sync; the caller holds run's token.
func (l *Loop) once(ctx context.Context, sink Sink, f SyncFunc) error {
	start := l.clock.Now()
	full := l.fullDue(start)
	out, err := f(ctx, full)
	if ctx.Err() != nil {
		return err
	}
	if err != nil {
		l.setHealth(ctx, sink, engine.HealthDegraded, err.Error())
		return err
	}
	l.worked++
	if full {
		l.lastFull = start
	}
	reason := strings.Join(out.Problems, "; ")
	if reason == "" {
		l.setHealth(ctx, sink, engine.HealthOK, "")
		return nil
	}
	if sr, ok := sink.(SyncRecorder); ok {
		if err := sr.Synced(ctx, l.name); err != nil {
			l.log.Error("cannot record the sync", "err", err)
		}
	}
	l.setHealth(ctx, sink, engine.HealthDegraded, reason)
	return nil
}

func (l *Loop) setHealth(ctx context.Context, sink Sink, h engine.Health, reason string) {
	if err := sink.SetHealth(ctx, l.name, h, reason); err != nil {
		l.log.Error("cannot record source health", "err", err)
	}
}

// fullDue says whether a sync starting at now is a full refresh.
func (l *Loop) fullDue(now time.Time) bool {
	switch {
	case l.sched.FullAfter > 0:
		return l.lastFull.IsZero() || now.Sub(l.lastFull) >= l.sched.FullAfter
	case l.sched.FullEvery > 0:
		return l.worked > 0 && l.worked%l.sched.FullEvery == 0
	}
	return false
}
