package sources

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// fakeClock hands every wait of the loop to the test, which checks its
// length and lets it end by moving the clock.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), waits: make(chan fakeWait)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	w := fakeWait{d: d, fire: make(chan time.Time, 1)}
	c.waits <- w
	return w.fire, func() {}
}

// next is the loop's next wait; it fails the test if none comes.
func (c *fakeClock) next(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not wait")
		return fakeWait{}
	}
}

// pass moves the clock by the wait and ends it.
func (c *fakeClock) pass(w fakeWait) {
	c.mu.Lock()
	c.now = c.now.Add(w.d)
	now := c.now
	c.mu.Unlock()
	w.fire <- now
}

// healthSink records the health reports and recorded syncs.
type healthSink struct {
	mu     sync.Mutex
	health []string // "ok" or "degraded: reason"
	synced int
}

func (s *healthSink) Apply(context.Context, Batch) error { return nil }
func (s *healthSink) Known(context.Context, string) ([]engine.Key, error) {
	return nil, nil
}
func (s *healthSink) SetHealth(_ context.Context, source string, h engine.Health, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := string(h)
	if reason != "" {
		r += ": " + reason
	}
	s.health = append(s.health, r)
	return nil
}
func (s *healthSink) Synced(context.Context, string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced++
	return nil
}
func (s *healthSink) last() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.health) == 0 {
		return "", s.synced
	}
	return s.health[len(s.health)-1], s.synced
}

// script is a SyncFunc failing while fail says so, recording whether each
// sync was full.
type script struct {
	mu   sync.Mutex
	fail func(n int) error
	full []bool
}

func (s *script) sync(_ context.Context, full bool) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.full = append(s.full, full)
	return Outcome{}, s.fail(len(s.full))
}

func runLoop(t *testing.T, l *Loop, sink Sink, f SyncFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, sink, f); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestLoopBacksOffAndReportsHealth: a failing source is retried after a
// backoff that doubles from RetryMin and stops at RetryMax, is degraded
// with the failure's own message meanwhile, and once a sync works it is ok
// again and waits the interval.
func TestLoopBacksOffAndReportsHealth(t *testing.T) {
	clk, sink := newFakeClock(), &healthSink{}
	sc := &script{fail: func(n int) error {
		if n <= 6 {
			return fmt.Errorf("kms.example:5696: connection refused (try %d)", n)
		}
		return nil
	}}
	l := NewLoop("kms", Schedule{Interval: time.Minute, RetryMin: time.Second, RetryMax: 8 * time.Second, NoJitter: true}, clk, nil)
	runLoop(t, l, sink, sc.sync)
	for i, want := range []time.Duration{1, 2, 4, 8, 8, 8} {
		w := clk.next(t)
		if w.d != want*time.Second {
			t.Fatalf("retry %d waits %s, want %s", i+1, w.d, want*time.Second)
		}
		if h, _ := sink.last(); h != fmt.Sprintf("degraded: kms.example:5696: connection refused (try %d)", i+1) {
			t.Fatalf("after failure %d health %q", i+1, h)
		}
		clk.pass(w)
	}
	if w := clk.next(t); w.d != time.Minute {
		t.Fatalf("after a sync that worked the loop waits %s, want the interval", w.d)
	}
	if h, synced := sink.last(); h != "ok" || synced != 0 {
		t.Fatalf("health %q (syncs recorded %d), want ok", h, synced)
	}
}

// TestLoopJitterAndWake: retries wait a jittered time in [backoff/2,
// backoff]; Wake ends a wait at once and the backoff starts again.
func TestLoopJitterAndWake(t *testing.T) {
	clk, sink := newFakeClock(), &healthSink{}
	sc := &script{fail: func(int) error { return errors.New("down") }}
	l := NewLoop("kms", Schedule{Interval: time.Hour, RetryMax: time.Minute}, clk, nil)
	runLoop(t, l, sink, sc.sync)
	backoff := time.Second
	for range 8 {
		w := clk.next(t)
		if w.d < backoff/2 || w.d > backoff {
			t.Fatalf("retry waits %s, want within [%s, %s]", w.d, backoff/2, backoff)
		}
		clk.pass(w)
		backoff = min(2*backoff, time.Minute)
	}
	clk.next(t) // a wait of up to a minute, ended by Wake
	l.Wake()
	if w := clk.next(t); w.d > time.Second {
		t.Fatalf("after Wake the retry waits %s, want the backoff from 1s again", w.d)
	}
}

// TestLoopRetryAfter: the backend's own wait (Retry-After) replaces the
// backoff.
func TestLoopRetryAfter(t *testing.T) {
	clk, sink := newFakeClock(), &healthSink{}
	throttled := errors.New("429 throttled")
	sc := &script{fail: func(int) error { return throttled }}
	l := NewLoop("vault", Schedule{Interval: time.Hour, RetryAfter: func(err error) time.Duration {
		if errors.Is(err, throttled) {
			return 42 * time.Second
		}
		return 0
	}}, clk, nil)
	runLoop(t, l, sink, sc.sync)
	if w := clk.next(t); w.d != 42*time.Second {
		t.Fatalf("throttled sync retried after %s, want Retry-After's 42s", w.d)
	}
}

// TestLoopRetryAfterIsBounded: a backend asking to wait years (a
// Retry-After date far ahead) is asked again after MaxRetryAfter, or the
// interval when that is longer; never stopped for good.
func TestLoopRetryAfterIsBounded(t *testing.T) {
	for _, interval := range []time.Duration{5 * time.Minute, 3 * time.Hour} {
		clk, sink := newFakeClock(), &healthSink{}
		sc := &script{fail: func(int) error { return errors.New("429 throttled") }}
		l := NewLoop("vault", Schedule{Interval: interval, RetryAfter: func(error) time.Duration { return 100 * 365 * 24 * time.Hour }}, clk, nil)
		runLoop(t, l, sink, sc.sync)
		if w, want := clk.next(t), max(MaxRetryAfter, interval); w.d != want {
			t.Fatalf("interval %s: a throttled sync asking for 100 years waits %s, want %s", interval, w.d, want)
		}
	}
}

// TestLoopProblemsDegradeAndRecordSync: a sync that worked but could not
// do everything leaves the source degraded with its problems, records the
// sync, and keeps the interval.
func TestLoopProblemsDegradeAndRecordSync(t *testing.T) {
	clk, sink := newFakeClock(), &healthSink{}
	l := NewLoop("kms", Schedule{Interval: time.Minute}, clk, nil)
	runLoop(t, l, sink, func(context.Context, bool) (Outcome, error) {
		return Outcome{Problems: []string{"the rings lack 1 generation", "failover"}}, nil
	})
	if w := clk.next(t); w.d != time.Minute {
		t.Fatalf("waits %s, want the interval", w.d)
	}
	if h, synced := sink.last(); h != "degraded: the rings lack 1 generation; failover" || synced != 1 {
		t.Fatalf("health %q, syncs recorded %d", h, synced)
	}
}

// TestLoopFullRefreshCadence: by time, the first sync is full and then one
// every FullAfter, counted from the last full sync that worked (a failed
// full sync leaves the next one full); by count, every FullEvery-th sync
// that worked.
func TestLoopFullRefreshCadence(t *testing.T) {
	ctx := context.Background()
	clk, sink := newFakeClock(), &healthSink{}
	fails := map[int]bool{3: true}
	sc := &script{fail: func(n int) error {
		if fails[n] {
			return errors.New("down")
		}
		return nil
	}}
	l := NewLoop("kms", Schedule{Interval: time.Minute, FullAfter: time.Hour}, clk, nil)
	step := []time.Duration{0, 30 * time.Minute, 30 * time.Minute, time.Minute, time.Minute}
	for _, d := range step {
		clk.mu.Lock()
		clk.now = clk.now.Add(d)
		clk.mu.Unlock()
		_ = l.Once(ctx, sink, sc.sync)
	}
	if want := []bool{true, false, true, true, false}; fmt.Sprint(sc.full) != fmt.Sprint(want) {
		t.Fatalf("full by time %v, want %v", sc.full, want)
	}

	sc = &script{fail: func(n int) error {
		if n == 5 {
			return errors.New("down")
		}
		return nil
	}}
	l = NewLoop("vault", Schedule{Interval: time.Minute, FullEvery: 2}, clk, nil)
	for range 7 {
		_ = l.Once(ctx, sink, sc.sync)
	}
	// worked before each: 0 1 2 3 4(fails) 4 5
	if want := []bool{false, false, true, false, true, true, false}; fmt.Sprint(sc.full) != fmt.Sprint(want) {
		t.Fatalf("full by count %v, want %v", sc.full, want)
	}
}

// TestLoopCancelledSyncReportsNothing: a sync cut short by the end of the
// daemon does not make the source degraded.
func TestLoopCancelledSyncReportsNothing(t *testing.T) {
	sink := &healthSink{}
	ctx, cancel := context.WithCancel(context.Background())
	l := NewLoop("kms", Schedule{}, newFakeClock(), nil)
	err := l.Once(ctx, sink, func(ctx context.Context, _ bool) (Outcome, error) {
		cancel()
		return Outcome{}, ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if h, _ := sink.last(); h != "" {
		t.Fatalf("health %q reported for a cancelled sync", h)
	}
}

// TestLoopSharesTheSyncAskedWhileOneRuns: five callers asking while a
// sync runs share one sync that starts after all of them asked (so each
// sees the source as of its request), instead of five syncs in a row; a
// caller whose shared sync was cut by another caller's context asks again.
func TestLoopSharesTheSyncAskedWhileOneRuns(t *testing.T) {
	sink := &healthSink{}
	l := NewLoop("kms", Schedule{}, newFakeClock(), nil)
	var mu sync.Mutex
	started := 0
	release := make(chan struct{})
	first := make(chan struct{})
	f := func(ctx context.Context, _ bool) (Outcome, error) {
		mu.Lock()
		started++
		n := started
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		if ctx.Err() != nil {
			return Outcome{}, ctx.Err()
		}
		return Outcome{}, fmt.Errorf("sync %d", n)
	}
	done := make(chan error, 1)
	go func() { done <- l.Once(context.Background(), sink, f) }()
	<-first
	var wg sync.WaitGroup
	var arrived atomic.Int32
	got := make([]string, 5)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			arrived.Add(1)
			got[i] = l.Once(context.Background(), sink, f).Error()
		}(i)
	}
	// All five have asked (one leads the queued sync, four joined it)
	// before the running sync may end: a caller still on its way to Once
	// when sync 2 starts would rightly get a sync 3.
	waitQueued(t, l, 4)
	close(release)
	if err := <-done; err == nil || err.Error() != "sync 1" {
		t.Fatalf("the running sync returned %v", err)
	}
	wg.Wait()
	for i, g := range got {
		if g != "sync 2" {
			t.Fatalf("caller %d got %q, want the one sync started after they asked (sync 2); all: %q", i, g, got)
		}
	}
	if started != 2 {
		t.Fatalf("%d syncs ran for 6 callers, want 2", started)
	}

	// The queued sync's own caller gives up before it starts: it does not
	// run at all (a cut sync would only cost the backend), and the caller
	// waiting with it runs one of its own, the second sync.
	started = 0
	release, first = make(chan struct{}), make(chan struct{})
	go func() { done <- l.Once(context.Background(), sink, f) }()
	<-first
	cctx, cancel := context.WithCancel(context.Background())
	cut := make(chan error, 1)
	go func() { cut <- l.Once(cctx, sink, f) }()
	for {
		l.nextMu.Lock()
		q := l.queued != nil
		l.nextMu.Unlock()
		if q {
			break
		}
		time.Sleep(time.Millisecond)
	}
	other := make(chan error, 1)
	go func() { other <- l.Once(context.Background(), sink, f) }()
	waitQueued(t, l, 1) // other shares the sync its leader will cut
	cancel()
	close(release)
	<-done
	if err := <-cut; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller got %v", err)
	}
	if err := <-other; err == nil || err.Error() != "sync 2" {
		t.Fatalf("the caller whose shared sync was cut got %v, want its own sync 2", err)
	}
	if started != 2 {
		t.Fatalf("%d syncs ran, want 2 (the cut one never starts)", started)
	}
}

// TestLoopSyncThatPanicsFreesTheLoop: a sync that panics (a connector's
// bug on a backend's odd answer; the socket's HTTP server recovers the
// panic of a sync asked for there) lets the next sync start, and the
// callers that were sharing it get an error instead of waiting forever.
func TestLoopSyncThatPanicsFreesTheLoop(t *testing.T) {
	l := NewLoop("kms", Schedule{Interval: time.Hour}, newFakeClock(), nil)
	sink := &healthSink{}
	ctx := context.Background()
	running, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- l.Once(ctx, sink, func(context.Context, bool) (Outcome, error) {
			close(running)
			<-release
			return Outcome{}, nil
		})
	}()
	<-running
	// The sync asked for while the first runs: it will panic.
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = l.Once(ctx, sink, func(context.Context, bool) (Outcome, error) { panic("connector bug") })
	}()
	for queued := false; !queued; {
		l.nextMu.Lock()
		queued = l.queued != nil
		l.nextMu.Unlock()
		time.Sleep(time.Millisecond)
	}
	// A third caller shares the queued sync.
	var ownRan atomic.Bool
	shared := make(chan error, 1)
	go func() {
		shared <- l.Once(ctx, sink, func(context.Context, bool) (Outcome, error) { ownRan.Store(true); return Outcome{}, nil })
	}()
	waitQueued(t, l, 1)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if p := <-panicked; p == nil {
		t.Fatal("the panicking sync did not panic up to its caller")
	}
	select {
	case err := <-shared:
		if !ownRan.Load() && !errors.Is(err, errSyncPanicked) {
			t.Errorf("a caller sharing the sync that panicked got %v, want errSyncPanicked", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a caller sharing the sync that panicked still waits")
	}
	next := make(chan error, 1)
	go func() {
		next <- l.Once(ctx, sink, func(context.Context, bool) (Outcome, error) { return Outcome{}, nil })
	}()
	if err := testkit.Await(t, 20*time.Second, "a sync after the one that panicked (the loop stays locked?)", next); err != nil {
		t.Fatalf("the sync after the panic: %v", err)
	}
}

// TestLoopStopWhileAnotherCallersSyncRuns: a sync asked for by another
// caller (keyward sync, whose request the daemon's stop does not end) runs
// long; Run's own sync waits for it. The stop ends that wait at once: Run
// returns within its stop budget, not when the other sync ends, and the
// sync it would have led is asked again by whoever waits for it.
func TestLoopStopWhileAnotherCallersSyncRuns(t *testing.T) {
	sink := &healthSink{}
	clock := newFakeClock()
	l := NewLoop("kms", Schedule{Interval: time.Minute}, clock, nil)
	release := make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	running := make(chan struct{}, 8)
	var syncs atomic.Int32
	f := func(ctx context.Context, _ bool) (Outcome, error) {
		if syncs.Add(1) == 1 {
			running <- struct{}{}
			<-release // the other caller's sync: its KMS is slow
		}
		return Outcome{}, nil
	}
	other := make(chan error, 1)
	go func() { other <- l.Once(context.Background(), sink, f) }()
	<-running
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { l.Run(ctx, sink, f); close(ran) }()
	// Run is now waiting for the other sync; a third caller joins Run's.
	third := make(chan error, 1)
	time.Sleep(50 * time.Millisecond)
	go func() { third <- l.Once(context.Background(), sink, f) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the stop while another caller's sync ran")
	}
	close(release)
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-third:
		if err != nil {
			t.Fatalf("the third caller: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the caller that waited for Run's cut sync got no answer")
	}
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d syncs, want 2 (the other caller's, then the third caller's again)", n)
	}
}

// waitQueued waits until the sync queued behind the running one has n
// callers waiting on it besides its leader: goroutines the test started
// have really asked, whatever the machine's scheduler did with them.
func waitQueued(t *testing.T, l *Loop, n int) {
	t.Helper()
	got := 0
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%d callers waiting on the queued sync", n), func() bool {
		l.nextMu.Lock()
		defer l.nextMu.Unlock()
		got = -1
		if l.queued != nil {
			got = l.queued.waiters
		}
		return got == n
	}, func() string { return fmt.Sprintf("%d waiting (-1: none queued)", got) })
}
