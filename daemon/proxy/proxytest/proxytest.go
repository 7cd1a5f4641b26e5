// Package proxytest is test support for the encryption proxy: a Recorder
// standing in for what the daemon does with the proxy's activity events,
// usage rows and status (in the daemon: the store and the event hub).
package proxytest

import (
	"context"
	"slices"
	"sync"

	"github.com/keyward/keyward/engine"
)

// Recorder keeps what a proxy hands the daemon; it is safe for
// concurrent use.
type Recorder struct {
	// UsageFn, when set, receives the usage rows instead of the
	// recorder (a test that persists them in a real store).
	UsageFn func(context.Context, []engine.Usage) error

	mu       sync.Mutex
	events   []engine.Event
	usage    []engine.Usage
	statuses []engine.ProxyStatus
}

// Event records an activity event.
func (r *Recorder) Event(_ context.Context, ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// Usage records usage rows, or hands them to UsageFn.
func (r *Recorder) Usage(ctx context.Context, rows []engine.Usage) error {
	if r.UsageFn != nil {
		return r.UsageFn(ctx, rows)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.usage = append(r.usage, rows...)
	return nil
}

// Status records a status the proxy announced.
func (r *Recorder) Status(st engine.ProxyStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, st)
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// EventsWith returns the events recorded so far whose operation is op.
func (r *Recorder) EventsWith(op string) []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.Event
	for _, ev := range r.events {
		if ev.Operation == op {
			out = append(out, ev)
		}
	}
	return out
}

// UsageRows returns the usage rows recorded so far.
func (r *Recorder) UsageRows() []engine.Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.usage)
}

// Statuses returns the statuses recorded so far.
func (r *Recorder) Statuses() []engine.ProxyStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.statuses)
}
