package daemon

import (
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// streamBacklog is how many notifications wait for one slow /v1/events
// reader before the oldest are dropped.
const streamBacklog = 256

// hub fans notifications out to every /v1/events subscriber. A subscriber
// that cannot keep up loses notifications rather than stalling the daemon
// (the oldest are dropped). It also bounds the streams one peer uid may
// hold open, and remembers, per uid, why the daemon last dropped a stream,
// so the next hello can say.
type hub struct {
	mu      sync.Mutex
	subs    map[chan api.Notification]bool
	perUID  map[int]int
	dropped map[int]string
	closed  bool
	// seq numbers the notifications: publish stamps each with the next
	// one, and a hello carries the latest, so a client that fetches after
	// its hello has seen every change up to it and gets every later one.
	seq uint64
}

func newHub() *hub {
	return &hub{subs: map[chan api.Notification]bool{}, perUID: map[int]int{}, dropped: map[int]string{}}
}

// errTooManyStreams is subscribe's refusal when a uid holds max streams.
type errTooManyStreams struct{ uid, max int }

func (e errTooManyStreams) Error() string {
	return fmt.Sprintf("uid %d already has %d event streams open (the most one user may hold); close one (a TUI or keyward watch) and retry", e.uid, e.max)
}

// subscribe opens a stream for uid unless it already holds max. It
// returns the channel, the hello (the sequence number of the latest
// notification, and the reason the uid's previous stream was dropped, ""
// when it was not), and the function that closes the stream. Every
// notification published after it has a greater sequence number and
// arrives on the channel.
func (h *hub) subscribe(uid, max int) (chan api.Notification, api.Notification, func(), error) {
	ch := make(chan api.Notification, streamBacklog)
	h.mu.Lock()
	defer h.mu.Unlock()
	hello := api.Notification{Type: api.NoteHello, Seq: h.seq}
	if h.closed {
		close(ch)
		return ch, hello, func() {}, nil
	}
	if h.perUID[uid] >= max {
		return nil, hello, nil, errTooManyStreams{uid: uid, max: max}
	}
	h.perUID[uid]++
	h.subs[ch] = true
	hello.Dropped = h.dropped[uid]
	delete(h.dropped, uid)
	return ch, hello, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.perUID[uid]--; h.perUID[uid] <= 0 {
			delete(h.perUID, uid)
		}
		if h.subs[ch] {
			delete(h.subs, ch)
			close(ch)
		}
	}, nil
}

// drop records that a stream of uid was cut, and why, for its next hello.
func (h *hub) drop(uid int, at time.Time, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropped[uid] = fmt.Sprintf("your previous event stream was dropped at %s: %s", at.UTC().Format(time.RFC3339), why)
}

// publish stamps n with the next sequence number and sends it to every
// subscriber.
// streams is the number of open event streams.
func (h *hub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *hub) publish(n api.Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	n.Seq = h.seq
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
