package daemon

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestSocketAnswersWhileStarting: while the store is being opened (a
// migration after an upgrade took 15–22 s at a million keys), a client is
// told the daemon is starting instead of waiting in the listen backlog
// with no answer; once the store is open the same socket serves.
func TestSocketAnswersWhileStarting(t *testing.T) {
	cfg := testConfig(t)
	release := make(chan struct{})
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Options{Logger: discardLogger(), beforeOpen: func() { <-release },
			Ready: func(string) { close(ready) }})
	}()
	defer func() {
		cancel()
		if err := testkit.Await(t, 20*time.Second, "the daemon to stop", done); err != nil {
			t.Errorf("daemon stopped with: %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(cfg.SocketPath()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("no socket")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := api.NewClient(cfg.SocketPath()).WithTimeout(10 * time.Second)
	for i := 0; i < 3; i++ { // each a new connection, each answered
		_, err := c.Status(context.Background())
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != api.CodeUnavailable ||
			!strings.Contains(ae.Message, "is starting") {
			close(release)
			t.Fatalf("status while the store opens: %v, want 503 unavailable \"the keyward daemon is starting …\"", err)
		}
	}
	close(release)
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("daemon not ready after the store opened")
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("status once ready: %v", err)
	}
}
