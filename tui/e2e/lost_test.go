package e2e

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// cutRelay stands between the TUI and a real daemon on a second Unix
// socket and passes everything through, except the answer to the first
// request whose bytes hold marker: the daemon gets that request and carries
// it out, and when its answer starts, the relay closes both sides of that
// connection, as a kill -9 of the daemon after the request would. cut is
// closed then.
type cutRelay struct {
	marker []byte
	used   atomic.Bool
	cut    chan struct{}
}

func startCutRelay(t *testing.T, daemonSock string, marker string) (sock string, r *cutRelay) {
	t.Helper()
	dir, err := os.MkdirTemp("", "kwrelay")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock = filepath.Join(dir, "relay.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	r = &cutRelay{marker: []byte(marker), cut: make(chan struct{})}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", daemonSock)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, d)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); r.pipe(c, d) }()
		}
	}()
	return sock, r
}

// pipe copies client c to daemon d and back; once c sent the marked
// request, d's next bytes close the connection instead of reaching c.
func (r *cutRelay) pipe(c, d net.Conn) {
	var marked atomic.Bool
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if !r.used.Load() && bytes.Contains(buf[:n], r.marker) && r.used.CompareAndSwap(false, true) {
					marked.Store(true)
				}
				if _, werr := d.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = d.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := d.Read(buf)
		if n > 0 && marked.Load() {
			_ = c.Close()
			_ = d.Close()
			close(r.cut)
			return
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = c.Close()
			}
			_ = c.Close()
			return
		}
	}
}

// TestRotateAnswerLostIsNotSentTwice: the daemon goes away after it got a
// rotation and before it answered (a kill -9 of the daemon while the
// action is busy). The rotation happened in the vault; the TUI said
// "refused: daemon not reachable" and left the confirmation open with
// "enter confirm", so the operator's enter rotated a second time. Now it
// says the rotation may have been done, closes the dialog, and an enter
// does not send it again.
func TestRotateAnswerLostIsNotSentTwice(t *testing.T) {
	cfg, srv := startVaultDaemon(t)
	sock, relay := startCutRelay(t, cfg.SocketPath(), "/rotate HTTP/1.1")
	tm := tuitest.Start(t, api.NewClient(sock), tui.Options{Title: "keyward e2e", Socket: sock}, 80, 24)
	waitFor(t, tm, "● connected", "orders-kek", "1–1 of 1 key ")
	tm.Type("xr")
	waitFor(t, tm, "Rotate orders-kek in vault?")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	select {
	case <-relay.cut:
	case <-time.After(30 * time.Second):
		t.Fatal("the rotation never reached the daemon through the relay")
	}
	// The daemon's "keys" notification shows the second version.
	waitFor(t, tm, "1–2 of 2 keys")
	// The operator, seeing no answer, presses enter again: the
	// confirmation must be gone, not send a second rotation.
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	time.Sleep(time.Second)
	if v := srv.Versions("orders-kek"); len(v) != 2 {
		t.Fatalf("the vault holds %d versions of orders-kek, want 2: the rotation whose answer was lost was sent again", len(v))
	}
	// What it said is in the message log (L), whole.
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Type("L")
	waitFor(t, tm, "rotate orders-kek: the daemon went away before it answered", "may have been done")
	tuitest.Quit(t, tm, 10*time.Second)
}
