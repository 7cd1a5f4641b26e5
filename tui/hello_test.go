package tui_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
)

// changeBeforeHello is the fixture with a key added while the event stream
// opens: after the TUI's first fetch (if it makes one before the hello)
// and before the hello, so no notification tells of it; a daemon where
// the change landed before the subscription behaves the same.
type changeBeforeHello struct {
	*fixture
	late      engine.Key
	firstKeys chan struct{}
	once      sync.Once
}

func (b *changeBeforeHello) Keys(ctx context.Context, q api.KeyQuery) (*api.KeysPage, error) {
	p, err := b.fixture.Keys(ctx, q)
	b.once.Do(func() { close(b.firstKeys) })
	return p, err
}

func (b *changeBeforeHello) Watch(ctx context.Context, fn func(api.Notification)) error {
	// A TUI that fetches before the hello has fetched by now; one that
	// waits for the hello has not, and waits this long.
	select {
	case <-b.firstKeys:
	case <-time.After(300 * time.Millisecond):
	}
	b.mu.Lock()
	b.keys = append(b.keys, b.late)
	b.mu.Unlock()
	return b.fixture.Watch(ctx, fn)
}

// TestChangeBeforeHelloIsShown: the panes fetch after the hello, so a key
// that arrived between the TUI's start and the hello is on screen without
// waiting for the next change (it showed an empty inventory).
func TestChangeBeforeHelloIsShown(t *testing.T) {
	f := newFixture()
	f.mu.Lock()
	late := f.keys[0]
	f.keys = nil
	f.mu.Unlock()
	b := &changeBeforeHello{fixture: f, late: late, firstKeys: make(chan struct{})}
	tm := startWith(t, b, 120, 30, tui.Options{})
	waitFor(t, tm, "● connected", "1–1 of 1 key ", late.Name)
	_ = finalView(t, tm)
}

// seqStream says hello at sequence 5, then sends notes as they are queued.
type seqStream struct {
	*fixture
	notes chan api.Notification
}

func (b *seqStream) Watch(ctx context.Context, fn func(api.Notification)) error {
	s := b.status
	fn(api.Notification{Type: api.NoteHello, Time: fixedNow, Status: &s, Seq: 5})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-b.notes:
			fn(n)
		}
	}
}

// TestSequenceGapRefetches: notifications the daemon dropped for this
// stream (the sequence jumps) may have told of a change, so the panes
// fetch again; the next number in sequence does not make them.
func TestSequenceGapRefetches(t *testing.T) {
	f := newFixture()
	f.mu.Lock()
	late := f.keys[0]
	f.keys = f.keys[1:]
	f.mu.Unlock()
	b := &seqStream{fixture: f, notes: make(chan api.Notification, 4)}
	tm := startWith(t, b, 120, 30, tui.Options{})
	waitFor(t, tm, "● connected", "of 14 keys")
	f.mu.Lock()
	f.keys = append(f.keys, late)
	f.mu.Unlock()
	calls := f.keysCalls.Load()
	b.notes <- api.Notification{Type: api.NoteActivity, Time: fixedNow, Seq: 6}
	time.Sleep(200 * time.Millisecond)
	if got := f.keysCalls.Load(); got != calls {
		t.Fatalf("the Keys pane fetched %d times on a notification in sequence", got-calls)
	}
	b.notes <- api.Notification{Type: api.NoteActivity, Time: fixedNow, Seq: 9}
	waitFor(t, tm, "of 15 keys")
	_ = finalView(t, tm)
}

// lateHello holds its hello until the test says.
type lateHello struct {
	*fixture
	hello chan struct{}
}

func (b *lateHello) Watch(ctx context.Context, fn func(api.Notification)) error {
	select {
	case <-b.hello:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.fixture.Watch(ctx, fn)
}

// TestTabChosenBeforeHello: a tab chosen before the hello makes its first
// request after it, like the others.
func TestTabChosenBeforeHello(t *testing.T) {
	f := newFixture()
	b := &lateHello{fixture: f, hello: make(chan struct{})}
	tm := startWith(t, b, 140, 30, tui.Options{})
	press(tm, "2")
	time.Sleep(300 * time.Millisecond)
	if n := f.reportCalls.Load(); n != 0 {
		t.Fatalf("the Aging pane asked for its report %d times before the hello", n)
	}
	close(b.hello)
	waitFor(t, tm, "● connected", "Aging")
	deadline := time.Now().Add(20 * time.Second)
	for f.reportCalls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the Aging pane never asked for its report after the hello")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = finalView(t, tm)
}

// A hello that says the daemon dropped this caller's previous stream (it
// fell behind) is shown in the status line, in the daemon's words.
func TestHelloDroppedIsShown(t *testing.T) {
	f := newFixture()
	f.dropped = "your previous event stream was dropped at 2026-11-23T11:58:00Z: it fell 1024 notifications behind"
	tm := start(t, f, 160, 30)
	waitFor(t, tm, "✖ the daemon dropped this TUI's event stream: your previous event stream was dropped", "it fell 1024 notifications")
	_ = finalView(t, tm)
}
