package daemon

import (
	"sync"

	"github.com/keyward/keyward/daemon/api"
)

// hub fans notifications out to every /v1/events subscriber. A subscriber
// that cannot keep up loses notifications rather than stalling the daemon;
// it is told with a "lagged" notification so it refetches.
type hub struct {
	mu     sync.Mutex
	subs   map[chan api.Notification]bool
	closed bool
}

func newHub() *hub { return &hub{subs: map[chan api.Notification]bool{}} }

func (h *hub) subscribe() (chan api.Notification, func()) {
	ch := make(chan api.Notification, 256)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	h.subs[ch] = true
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.subs[ch] {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

func (h *hub) publish(n api.Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- n:
		default:
			// Full: drop the oldest so the newest (and the need to refetch) arrives.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- n:
			default:
			}
		}
	}
}

// close ends every subscription (daemon shutdown).
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		close(ch)
		delete(h.subs, ch)
	}
}
