package api

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/daemon/testkit"
)

// TestAnswerLostIsNotUnreachableOnly: a request that changes something,
// received by the daemon whose connection then closes without an answer
// (the daemon killed meanwhile), may have been carried out: it is
// ErrAnswerLost (and ErrUnreachable, the daemon is gone), which the TUI
// does not offer to send again. A socket with no one listening is only
// ErrUnreachable: nothing was sent. A read cut short is only unreachable.
func TestAnswerLostIsNotUnreachableOnly(t *testing.T) {
	var got atomic.Int64
	sock := testkit.ServeUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close() // the daemon dies after reading the request
		}
	}))
	c := NewClient(sock)
	ctx := context.Background()

	err := c.Do(ctx, http.MethodPost, "/cloud/vault/keys/orders-kek/rotate", nil, struct{}{}, nil)
	if !errors.Is(err, ErrAnswerLost) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("a POST whose answer was lost: %v, want ErrAnswerLost and ErrUnreachable", err)
	}
	if got.Load() != 1 {
		t.Fatalf("the daemon got the POST %d times, want once (never sent again by the client)", got.Load())
	}

	err = c.Do(ctx, http.MethodGet, "/keys", nil, nil, nil)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrAnswerLost) {
		t.Fatalf("a GET whose answer was lost: %v, want ErrUnreachable only", err)
	}

	none := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	err = none.Do(ctx, http.MethodPost, "/cloud/vault/keys/orders-kek/rotate", nil, struct{}{}, nil)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrAnswerLost) {
		t.Fatalf("a POST to a socket with no daemon: %v, want ErrUnreachable only (nothing was sent)", err)
	}
}
