// Package testkit holds what keyward's tests share that needs nothing of
// keyward, so the tests of any package can use it, in-package ones too (a
// daemon's own tests cannot import daemontest, which imports the daemon):
// a buffer the code under test writes to from many goroutines, a server
// run for the length of a test (and a stand-in's accept loop), a GET of
// its pages, a file written for it, and waits that fail saying what they
// waited for instead of hanging.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe to write from many goroutines (a logger, a
// banner, a terminal's clipboard) while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what has been written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Bytes is a copy of what has been written so far.
func (l *Buffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// Eventually checks cond every few milliseconds until it holds, and fails
// tb if it does not within timeout: "waited 5s for <what>" and, when
// state is not nil, what state says then (the requests seen so far, the
// last frame).
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool, state func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := "waited " + timeout.String() + " for " + what
			if state != nil {
				msg += "; it is now:\n" + state()
			}
			tb.Fatal(msg)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Await is what a goroutine the test started (a Run, a sync) sends on
// done, failing tb ("waited 10s for <what>") if nothing comes within
// timeout: a call that should return never hangs the test.
func Await(tb testing.TB, timeout time.Duration, what string, done <-chan error) error {
	tb.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		tb.Fatal("waited " + timeout.String() + " for " + what)
		return nil
	}
}

// Get is the body of a GET of url (a server the test started), failing
// tb if the request fails.
func Get(tb testing.TB, url string) string {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// WriteFile writes data to the file name in dir (a test's temporary
// folder), readable by its owner only, failing tb if it cannot, and returns
// its path.
func WriteFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Accept hands each connection l accepts to handle, on the accepting
// goroutine (a long exchange starts its own), until l is closed, which it
// is when the test ends: a stand-in server (a KMS, a proxy) for a test.
func Accept(tb testing.TB, l net.Listener, handle func(net.Conn)) {
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
}

// StopTimeout bounds how long Stop waits for a server to return.
const StopTimeout = 30 * time.Second

// Running is a server a test started (Start).
type Running struct {
	// Addr is what the server passed to ready: its socket, its address.
	Addr string

	tb      testing.TB
	what    string
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	err     error
}

// Start runs serve (a daemon's Run, the demo's) in a goroutine until the
// test ends or Stop is called. It waits until serve calls ready with its
// address, failing tb ("<what> did not start: …") if serve returns first
// or has not called ready within timeout. At the end of the test it is
// stopped, and an error it stops with fails the test.
func Start(tb testing.TB, what string, timeout time.Duration, serve func(ctx context.Context, ready func(addr string)) error) *Running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{tb: tb, what: what, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { r.done <- serve(ctx, func(addr string) { ready <- addr }) }()
	select {
	case r.Addr = <-ready:
	case err := <-r.done:
		cancel()
		r.stopped = true
		tb.Fatalf("%s did not start: %v", what, err)
	case <-time.After(timeout):
		cancel()
		tb.Fatalf("%s did not start within %s", what, timeout)
	}
	tb.Cleanup(func() {
		if !r.stopped {
			if err := r.Stop(); err != nil {
				tb.Errorf("%s stopped with: %v", what, err)
			}
		}
	})
	return r
}

// Stop cancels the server's context and returns what serve returned,
// failing the test if it has not returned within StopTimeout. A second
// Stop returns the same.
func (r *Running) Stop() error {
	if r.stopped {
		return r.err
	}
	r.stopped = true
	r.cancel()
	select {
	case r.err = <-r.done:
	case <-time.After(StopTimeout):
		r.err = fmt.Errorf("%s did not stop within %s of its context ending", r.what, StopTimeout)
		r.tb.Error(r.err)
	}
	return r.err
}

// AwayFromBoundary returns once the wall clock is at least margin before
// the next multiple of period (an hour, a day, in UTC), sleeping past the
// boundary when it is closer: a test that counts what happens "this hour"
// (usage rows, a bucket's time) then cannot see its work split across two
// buckets by the clock turning while it runs. It sleeps at most margin.
func AwayFromBoundary(tb testing.TB, period, margin time.Duration) {
	tb.Helper()
	if d := boundaryWait(time.Now(), period, margin); d > 0 {
		tb.Logf("waiting %s for the %s boundary to pass", d.Round(time.Millisecond), period)
		time.Sleep(d)
	}
}

// boundaryWait is how long AwayFromBoundary sleeps at now: past the next
// boundary if it is less than margin away, else nothing.
func boundaryWait(now time.Time, period, margin time.Duration) time.Duration {
	if left := now.Truncate(period).Add(period).Sub(now); left < margin {
		return left + 10*time.Millisecond
	}
	return 0
}
