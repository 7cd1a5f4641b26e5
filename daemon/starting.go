package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// startingAnswerer answers every connection to the socket with 503 and a
// message while the daemon opens its database (a migration after an
// upgrade takes seconds to a minute at a million keys): a TUI or CLI
// started meanwhile says why it waits instead of hanging in the listen
// backlog. Nothing is served before the store is open and checked.
type startingAnswerer struct {
	ln       *net.UnixListener
	since    time.Time
	done     chan struct{}
	stopOnce sync.Once
	refusing atomic.Int32
}

func answerWhileStarting(ln net.Listener) *startingAnswerer {
	a := &startingAnswerer{done: make(chan struct{}), since: time.Now()}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		close(a.done)
		return a
	}
	a.ln = ul
	go a.run()
	return a
}

func (a *startingAnswerer) run() {
	defer close(a.done)
	for {
		c, err := a.ln.Accept()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return // stop: the real server takes the listener over
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if a.refusing.Add(1) > maxRefusing {
			a.refusing.Add(-1)
			c.Close()
			continue
		}
		msg := fmt.Sprintf("the keyward daemon is starting: it has been opening its database for %s (after an upgrade a migration, or after new [aging] thresholds a rebuild of the aging counts, takes seconds to a minute at a million keys); retry in a few seconds",
			time.Since(a.since).Round(time.Second))
		go func() {
			defer a.refusing.Add(-1)
			refuseConn(c, http.StatusServiceUnavailable, api.CodeUnavailable, msg)
		}()
	}
}

// stop ends the answering and gives the listener back, unclosed: a
// connection not yet accepted waits for the real server.
func (a *startingAnswerer) stop() {
	a.stopOnce.Do(func() {
		if a.ln == nil {
			return
		}
		_ = a.ln.SetDeadline(time.Unix(1, 0))
		<-a.done
		_ = a.ln.SetDeadline(time.Time{})
	})
}
